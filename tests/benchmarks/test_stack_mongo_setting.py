"""`stack.mongo`: which MongoDB-wire server a scenario runs on, checked before anything starts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from benchmarks.cli import build_parser
from benchmarks.scenario.model import ScenarioError, scenario_from_yaml
from system.stack import mongo_backend, postgres
from system.stack.native import NativeStack, StackConfig

BASE = "name: pick-mongo\nduration_s: 30\n"


def test_default_is_the_measured_choice() -> None:
    assert scenario_from_yaml(BASE).stack.mongo == "auto"
    # Not under pytest's tmp folder (0700 under root: PostgreSQL's user could not pass it).
    home = Path(tempfile.mkdtemp(prefix="iotbench-auto-"))
    home.chmod(0o755)
    try:
        _check_the_measured_choice(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _check_the_measured_choice(home: Path) -> None:
    if shutil.which("mongod"):
        today = "mongod"
    elif postgres.why_not(home) is None:
        today = "ferretdb-postgres"
    else:
        today = "ferretdb-sqlite"
    assert mongo_backend.resolve("auto", home) == today
    # The stack records the concrete backend, so `stack status` and reuse checks see it.
    stack = NativeStack(StackConfig(), home=home / "stack")
    assert stack.config.mongo == today and stack.mongo_choice
    assert NativeStack(StackConfig(mongo="ferretdb-sqlite"), home=home).mongo_choice is None


@pytest.mark.skipif(shutil.which("mongod") is not None or os.geteuid() != 0
                    or postgres.bindir() is None,
                    reason="needs root, PostgreSQL installed and no mongod on PATH")
def test_auto_falls_back_to_sqlite_where_postgres_cannot_run(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    backend, why = mongo_backend.auto_choice(closed / "state" / "stack")
    assert backend == "ferretdb-sqlite"
    assert str(closed) in why and "IOTBENCH_STATE" in why


@pytest.mark.parametrize("choice", ["ferretdb-sqlite", "ferretdb-postgres", "mongod"])
def test_each_backend_is_carried_to_the_stack(choice: str) -> None:
    scenario = scenario_from_yaml(BASE + f"stack: {{mongo: {choice}}}\n")
    assert scenario.stack.mongo == choice
    assert NativeStack(StackConfig(mongo=scenario.stack.mongo)).config.mongo == choice
    args = build_parser().parse_args(["stack", "up", "--mongo", choice])
    assert args.mongo == choice


def test_unknown_backend_is_named() -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + "stack: {mongo: sqlite}\n")
    assert "stack.mongo" in str(failed.value) and "ferretdb-postgres" in str(failed.value)


@pytest.mark.parametrize(("provider", "extra"), [("docker", ""),
                                                 ("external", ", external: {mongo_uri: "
                                                  "'mongodb://h:1/'}")])
def test_ferretdb_choices_need_the_native_stack(provider: str, extra: str) -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + f"stack: {{provider: {provider}, mongo: ferretdb-postgres"
                           f"{extra}}}\n")
    assert "mongo: ferretdb-postgres needs provider: native" in str(failed.value)
