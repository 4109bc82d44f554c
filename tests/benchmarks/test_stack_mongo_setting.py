"""`stack.mongo`: which MongoDB-wire server a scenario runs on, checked before anything starts."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.cli import build_parser
from benchmarks.scenario.model import ScenarioError, scenario_from_yaml
from system.stack import mongo_backend
from system.stack.native import NativeStack, StackConfig

BASE = "name: pick-mongo\nduration_s: 30\n"


def test_default_is_todays_choice() -> None:
    assert scenario_from_yaml(BASE).stack.mongo == "auto"
    today = "mongod" if shutil.which("mongod") else "ferretdb-sqlite"
    assert mongo_backend.resolve("auto") == today
    # The stack records the concrete backend, so `stack status` and reuse checks see it.
    assert NativeStack(StackConfig()).config.mongo == today


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
