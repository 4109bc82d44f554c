"""A real native stack of the load tests' own (ports + 4000), seeded with contract events.

The stack lives at ``<state>/stack`` so a CLI run with ``IOTBENCH_STATE=<state>`` and
``IOTBENCH_PORT_OFFSET=4000`` (see ``LoadStack.env``) finds and reuses it. Events are stored
by ``benchmarks.api_load.seed`` (processed_data + device_stats + recent_events, as the
processor writes them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from load_helpers import PORT_OFFSET, LoadStack
from own_stack import own_stack

from benchmarks.api_load import seed

SEEDED_EVENTS = 400


@pytest.fixture(scope="session")
def load_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadStack]:
    state = tmp_path_factory.mktemp("load-state")
    with own_stack(state / "stack", int(PORT_OFFSET), partitions=1, workers=1,
                   dashboard=True) as stack:
        seed(stack.endpoints.direct_mongo_uri, SEEDED_EVENTS, log=lambda _: None)
        yield LoadStack(stack, state)

