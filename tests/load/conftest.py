"""A real native stack of the load tests' own (ports + 4000), seeded with contract events.

The stack lives at ``<state>/stack`` so a CLI run with ``IOTBENCH_STATE=<state>`` and
``IOTBENCH_PORT_OFFSET=4000`` (see ``LoadStack.env``) finds and reuses it. Events are stored
by ``benchmarks.api_load.seed`` (processed_data + device_stats + recent_events, as the
processor writes them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from load_helpers import PORT_OFFSET, LoadStack

from benchmarks.api_load import seed
from system.config import Ports
from system.stack.native import NativeStack, StackConfig

SEEDED_EVENTS = 400


@pytest.fixture(scope="session")
def load_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadStack]:
    state = tmp_path_factory.mktemp("load-state")
    previous = os.environ.get("IOTBENCH_PORT_OFFSET")
    os.environ["IOTBENCH_PORT_OFFSET"] = PORT_OFFSET
    try:  # only while building it: other test folders in this session use default ports
        stack = NativeStack(StackConfig(partitions=1, workers=1, dashboard=True),
                            home=state / "stack", ports=Ports.from_env())
        stack.up()
    finally:
        if previous is None:
            os.environ.pop("IOTBENCH_PORT_OFFSET", None)
        else:
            os.environ["IOTBENCH_PORT_OFFSET"] = previous
    try:
        seed(stack.endpoints.direct_mongo_uri, SEEDED_EVENTS, log=lambda _: None)
        yield LoadStack(stack, state)
    finally:
        stack.down()

