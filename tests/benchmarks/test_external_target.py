"""``stack.provider: external``: a run addresses a stack only through the addresses it is
given — separate producer, Spark and admin bootstraps, sink and export Mongo URIs, the Spark
master and the driver's advertised host — and starts, stops and signals nothing of it.

The stack here is a native one on shifted ports (offset 6000); the harness is given its
addresses only, so anything that fell back to a default address would reach nothing of it
(or the session's stack on the default ports) and the run would lose its events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from benchmarks.runner import Run
from benchmarks.scenario.errors import ScenarioError
from benchmarks.scenario.model import parse_scenario
from system.stack.native import NativeStack
from tests.own_stack import own_stack

OFFSET = 6000


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    with own_stack(tmp_path_factory.mktemp("external-stack"), OFFSET, partitions=2,
                   workers=1) as stack:
        yield stack


def _external(stack: NativeStack) -> dict[str, Any]:
    e = stack.endpoints
    return {"producer_bootstrap": e.producer_bootstrap, "spark_bootstrap": e.spark_bootstrap,
            "admin_bootstrap": e.direct_bootstrap, "spark_master": e.spark_master_url,
            "mongo_uri": e.direct_mongo_uri, "sink_mongo_uri": e.spark_mongo_uri,
            "dashboard_url": e.dashboard_url, "toxiproxy_url": e.toxiproxy_url,
            "driver_host": "127.0.0.1"}


def _scenario(external: dict[str, Any], **overrides: Any):
    data: dict[str, Any] = {
        "name": "external", "seed": 7, "duration_s": 20, "warmup_s": 5, "drain_timeout_s": 60,
        "stack": {"provider": "external", "partitions": 2, "trigger_ms": 500,
                  "external": external},
        "producer": {"devices": 6, "rate_eps": 50},
        "slo": [{"metric": "integrity.lost", "op": "==", "threshold": 0}],
    }
    data.update(overrides)
    return parse_scenario(data)


@pytest.mark.slow
def test_a_run_reaches_a_stack_only_through_the_addresses_it_is_given(
        shifted: NativeStack, tmp_path: Path) -> None:
    external = _external(shifted)
    assert len(set(external.values()) - {"127.0.0.1"}) == len(external) - 1, \
        "every address is a different one"
    before = {r.name: r.pid for r in shifted.state.processes}
    outcome = Run(_scenario(external), tmp_path, show_progress=False).execute()
    assert outcome.status == "completed", outcome
    journal = json.loads((outcome.run_dir / "journal.json").read_text())
    target = journal["settings"]["target"]
    assert target["provider"] == "external" and target["started_here"] is False
    assert (target["producer_bootstrap"], target["spark_bootstrap"],
            target["admin_bootstrap"]) == (external["producer_bootstrap"],
                                           external["spark_bootstrap"],
                                           external["admin_bootstrap"])
    assert (target["spark_mongo_uri"], target["admin_mongo_uri"]) == (
        external["sink_mongo_uri"], external["mongo_uri"])
    assert target["driver_host"] == "127.0.0.1"
    ledger = pd.read_parquet(outcome.run_dir / "ledger.parquet")
    stored = pd.read_parquet(outcome.run_dir / "stored.parquet")
    dead = pd.read_parquet(outcome.run_dir / "dead_letter.parquet")
    acked = set(ledger[ledger.ack_ts.notna() & ledger.error.isna()].event_id)
    landed = set(stored.event_id) | set(dead.event_id.dropna())  # bad readings: dead letters
    assert len(acked) > 500 and acked <= landed and len(stored) > 500
    assert outcome.results["integrity"]["lost"] == 0
    assert {r.name: r.pid for r in shifted.state.processes} == before
    assert set(shifted.state.running()) == set(before), "nothing of the stack was stopped"


def test_faults_that_need_local_processes_are_refused_on_an_external_stack() -> None:
    external = {"bootstrap_servers": "kafka.example:9092", "spark_master": "spark://spark:7077",
                "mongo_uri": "mongodb://mongo:27017"}
    with pytest.raises(ScenarioError) as error:
        _scenario(external, duration_s=60, faults=[
            {"at_s": 10, "duration_s": 5, "process": "kafka", "action": "kill"},
            {"at_s": 20, "duration_s": 5, "cpu_hog": {"cores": 1}}])
    text = "\n".join(str(issue) for issue in error.value.issues)
    assert "cannot kill 'kafka' on an external stack" in text
    assert "cpu_hog busies this machine's cores" in text
    assert len(error.value.issues) == 2


def test_bad_external_addresses_are_named_each() -> None:
    with pytest.raises(ScenarioError) as error:
        _scenario({"producer_bootstrap": "no-port", "sink_mongo_uri": "http://x",
                   "dashboard_url": "ftp://x"})
    paths = sorted(issue.path for issue in error.value.issues)
    assert paths == ["stack.external.dashboard_url", "stack.external.producer_bootstrap",
                     "stack.external.sink_mongo_uri"]
