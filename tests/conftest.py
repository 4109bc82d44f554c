"""Shared fixtures: one real native stack for the whole session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from system.stack.native import NativeStack, StackConfig

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # pytest exits 5 when it collected no test: that is a broken suite, not a pass.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots and reports kept after the run (CI uploads this folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def stack() -> Iterator[NativeStack]:
    """The real stack (Kafka, Toxiproxy, Mongo-wire, Spark master + 1 worker, dashboard)."""
    # <state>/stack, so a CLI run with IOTBENCH_STATE=<state> finds and reuses this stack.
    # Not under pytest's 0700 tmp folder: PostgreSQL (the default backend, as its own user
    # when we are root) must be able to reach its data dir there.
    state = Path(tempfile.mkdtemp(prefix="iotbench-session-"))
    state.chmod(0o755)
    native = NativeStack(StackConfig(partitions=2, workers=1), home=state / "stack")
    native.up()
    try:
        yield native
    finally:
        native.down()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture()
def healed(stack: NativeStack) -> Iterator[NativeStack]:
    """The stack, with every link healed again after the test whatever happened."""
    stack.links.reset()
    try:
        yield stack
    finally:
        stack.links.reset()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
