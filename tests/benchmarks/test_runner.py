"""`iotbench run` on the real stack: faults in the journal with their real times, a killed
driver that loses nothing, Ctrl-C that leaves no process and a readable run folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
import yaml

from benchmarks.provider import Target, native_target
from benchmarks.runner import Run
from benchmarks.scenario.model import parse_scenario
from system.stack.native import NativeStack


def _scenario(**overrides: Any):
    data: dict[str, Any] = {
        "name": "test-run", "seed": 5, "duration_s": 30, "warmup_s": 5,
        "drain_timeout_s": 60,
        "stack": {"partitions": 2, "workers": 1, "trigger_ms": 500},
        "producer": {"devices": 6, "rate_eps": 100},
        "slo": [{"metric": "integrity.lost", "op": "==", "threshold": 0}],
    }
    data.update(overrides)
    return parse_scenario(data)


@pytest.fixture()
def target(healed: NativeStack) -> Target:
    return native_target(healed, started_here=False)


SETTLE_S = 30
"""A fresh Spark application's first micro-batches take 20-35 s on the 2-core CI machine;
faults come after them, so the steady-state gate sees a settled baseline."""


def _events(run_dir: Path) -> pd.DataFrame:
    ledger = pd.read_parquet(run_dir / "ledger.parquet")
    stored = pd.read_parquet(run_dir / "stored.parquet")
    events = ledger.merge(stored[["event_id", "stored_ts", "kafka_ts"]], on="event_id")
    events["e2e_s"] = events["stored_ts"] - events["scheduled_ts"]
    return events


@pytest.mark.slow
def test_latency_toxic_is_journaled_and_delays_storage(target: Target, tmp_path: Path) -> None:
    scenario = _scenario(duration_s=SETTLE_S + 35, faults=[{
        "at_s": SETTLE_S + 15, "duration_s": 10, "link": "spark-kafka", "toxic": "latency",
        "attributes": {"latency": 500}}])
    outcome = Run(scenario, tmp_path, target=target, show_progress=False).execute()
    assert outcome.status == "completed", outcome
    journal = json.loads((outcome.run_dir / "journal.json").read_text())
    (fault,) = journal["faults"]
    assert fault["target"] == "spark-kafka" and fault["kind"] == "latency"
    assert fault["error"] is None
    assert abs((fault["healed_at"] - fault["applied_at"]) - 10) < 2
    assert abs(fault["applied_at"] - fault["scheduled_start"]) < 1

    events = _events(outcome.run_dir)
    inside = events[(events.scheduled_ts > fault["applied_at"] + 2)
                    & (events.scheduled_ts < fault["healed_at"])]
    before = events[(events.scheduled_ts > journal["produce_started_at"] + SETTLE_S + 8)
                    & (events.scheduled_ts < fault["applied_at"])]
    assert len(inside) > 500 and len(before) > 300
    assert inside.e2e_s.median() >= before.e2e_s.median() + 0.3
    assert outcome.results["integrity"]["lost"] == 0


@pytest.mark.slow
def test_killed_driver_loses_and_duplicates_nothing(target: Target, tmp_path: Path) -> None:
    scenario = _scenario(duration_s=SETTLE_S + 40, faults=[
        {"at_s": SETTLE_S + 12, "process": "spark-driver", "action": "kill", "restart_after_s": 2,
         "duration_s": 20}])
    outcome = Run(scenario, tmp_path, target=target, show_progress=False).execute()
    assert outcome.status == "completed", outcome
    (fault,) = json.loads((outcome.run_dir / "journal.json").read_text())["faults"]
    assert fault["applied_at"] and fault["healed_at"] and fault["error"] is None
    integrity = outcome.results["integrity"]
    assert integrity["acked"] == 100 * (SETTLE_S + 40)
    assert (integrity["lost"], integrity["storage_duplicates"], integrity["kafka_duplicates"],
            integrity["unexpected"]) == (0, 0, 0, 0)
    assert integrity["stored_unique"] + integrity["dead_lettered"] == integrity["acked"]
    assert outcome.exit_code == 0


def test_ctrl_c_interrupts_cleanly(stack: NativeStack, tmp_path: Path) -> None:
    scenario_file = tmp_path / "long.yaml"
    scenario_file.write_text(yaml.safe_dump({
        "name": "interrupted", "duration_s": 120, "warmup_s": 5,
        "producer": {"devices": 4, "rate_eps": 50}}))
    runs = tmp_path / "runs"
    env = {**os.environ, "IOTBENCH_STATE": str(stack.home.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", "run", str(scenario_file),
                             "--runs", str(runs)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    journal_path = _await_phase(runs, "steady", proc)
    run_dir = journal_path.parent
    children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    assert children, "the run should have a producer and a driver running"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)

    assert proc.returncode == 130, out
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "interrupted"
    assert journal["ended_at"] is not None
    assert not [pid for pid in children if _alive(pid)]
    assert not [p for p in psutil.process_iter(["cmdline"])
                if str(run_dir) in " ".join(p.info["cmdline"] or [])]
    ledger = pd.read_parquet(run_dir / "ledger.parquet")
    assert len(ledger) > 0 and ledger.event_id.is_unique
    assert stack.state is not None and not set(stack.state.running()) ^ {
        r.name for r in stack.state.processes}, "the reused stack must keep running"


def _await_phase(runs: Path, phase: str, proc: subprocess.Popen, timeout_s: float = 180
                 ) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        for path in runs.glob("*/journal.json"):
            try:
                journal = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue
            if any(p["name"] == phase for p in journal["phases"]):
                return path
        time.sleep(0.5)
    raise AssertionError(f"the run never reached phase {phase!r}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_same_seed_same_schedule_and_truth() -> None:
    from system.producer.devices import Fleet

    faults = [{"at_s": 5, "jitter_s": 10, "duration_s": 5, "link": "spark-mongo",
               "toxic": "down"}]
    first, again, other = (_scenario(seed=s, faults=faults) for s in (11, 11, 12))
    assert first.fault_schedule() == again.fault_schedule()
    assert first.fault_schedule() != other.fault_schedule()

    def truth(seed: int) -> list[tuple[str, bool, str | None]]:
        fleet = Fleet(thermostats=4, motion_sensors=2, seed=seed)
        events = [fleet.next_event(i % len(fleet), i * 0.01) for i in range(3000)]
        return [(e.event_id, e.truth_anomaly, e.truth_kind) for e in events]

    assert truth(11) == truth(11)
    assert truth(11) != truth(12)


def test_external_provider_starts_nothing(stack: NativeStack, tmp_path: Path) -> None:
    """The same runner against endpoints it is only given (as for a real cluster)."""
    e = stack.endpoints
    scenario = _scenario(duration_s=15, stack={
        "provider": "external", "partitions": 2, "external": {
            "bootstrap_servers": e.producer_bootstrap, "spark_master": e.spark_master_url,
            "mongo_uri": e.spark_mongo_uri, "toxiproxy_url": e.toxiproxy_url}})
    before = {r.name: r.pid for r in stack.state.processes} if stack.state else {}
    outcome = Run(scenario, tmp_path, show_progress=False).execute()
    assert outcome.status == "completed", outcome
    journal = json.loads((outcome.run_dir / "journal.json").read_text())
    assert journal["settings"]["target"]["provider"] == "external"
    assert journal["settings"]["target"]["started_here"] is False
    assert outcome.results["integrity"]["lost"] == 0
    assert stack.state is not None
    assert {r.name: r.pid for r in stack.state.processes} == before
    assert set(stack.state.running()) == set(before), "nothing of the stack was stopped"


def test_sweep_runs_every_point_into_one_folder(stack: NativeStack, tmp_path: Path) -> None:
    from benchmarks.sweep import sweep_file

    scenario_file = tmp_path / "sweep.yaml"
    scenario_file.write_text(yaml.safe_dump({
        "name": "tiny-sweep", "duration_s": 12, "warmup_s": 3, "drain_timeout_s": 40,
        "producer": {"devices": 4, "rate_eps": 50},
        "slo": [{"metric": "integrity.lost", "op": "==", "threshold": 0}],
        "matrix": {"stack.partitions": [1, 2]}}))
    os.environ["IOTBENCH_STATE"] = str(stack.home.parent)  # reuse the session's stack
    try:
        code = sweep_file(scenario_file, tmp_path / "sweeps")
    finally:
        del os.environ["IOTBENCH_STATE"]
    assert code == 0
    (sweep_dir,) = (tmp_path / "sweeps").iterdir()
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert [e["point"] for e in manifest["points"]] == [{"stack.partitions": 1},
                                                       {"stack.partitions": 2}]
    assert all(e["status"] == "completed" for e in manifest["points"])
    results = json.loads((sweep_dir / "results.json").read_text())
    assert results["kind"] == "sweep" and results["runs"] == 2
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (sweep_dir / name).stat().st_size > 0
    partitions = {json.loads((sweep_dir / e["run_dir"] / "scenario.resolved.json").read_text())
                  ["stack"]["partitions"] for e in manifest["points"]}
    assert partitions == {1, 2}
