"""Spark's real-time mode (``stack.trigger: {mode: realtime}``) on the real stack: the
foreach writer stores every acknowledged event once, runs the detectors and dead-letters
bad records, like the micro-batch sink."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.provider import Target, native_target
from benchmarks.runner import Run
from benchmarks.scenario.model import parse_scenario
from system.stack.native import NativeStack


@pytest.fixture()
def target(healed: NativeStack) -> Target:
    return native_target(healed, started_here=False)


@pytest.mark.slow
def test_realtime_mode_stores_every_acked_event_once_with_detectors_and_dead_letters(
        target: Target, tmp_path: Path) -> None:
    # One partition: real-time mode runs each partition's task for the whole batch, and the
    # session's stack has one worker core.
    scenario = parse_scenario({
        "name": "realtime", "seed": 8, "duration_s": 40, "warmup_s": 20, "drain_timeout_s": 60,
        "stack": {"partitions": 1, "workers": 1,
                  "trigger": {"mode": "realtime", "batch_s": 2}},
        "producer": {"devices": 6, "rate_eps": 50, "anomaly_rate": 0.2},
    })
    outcome = Run(scenario, tmp_path, target=target, show_progress=False).execute()
    assert outcome.status == "completed", outcome
    journal = json.loads((outcome.run_dir / "journal.json").read_text())
    assert journal["settings"]["realtime_batch_s"] == 2
    integrity = outcome.results["integrity"]
    assert integrity["acked"] > 1000
    assert (integrity["lost"], integrity["storage_duplicates"]) == (0, 0), integrity
    assert integrity["dead_letters"] > 0, "garbage readings are dead-lettered"
    stored = pd.read_parquet(outcome.run_dir / "stored.parquet")
    assert stored.is_anomaly.any() and stored.is_anomaly_zscore.notna().all()
    progress = [json.loads(line) for line in
                (outcome.run_dir / "spark_progress.jsonl").read_text().splitlines()]
    assert len(progress) >= 5 and sum(p.get("numInputRows", 0) for p in progress) > 1000
