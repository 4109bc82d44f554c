"""The runner's small pieces without a stack: events, the journal under concurrent writers,
the steady-state verdict, and how stored rows get their acknowledged time."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from benchmarks import steady_state
from benchmarks.events import RunEvents
from benchmarks.journal import Journal
from system.processor.store import acknowledged_times


def test_a_failing_listener_never_stops_the_others() -> None:
    events = RunEvents()
    seen: list[str] = []

    def broken(name: str) -> None:
        raise RuntimeError("boom")

    events.phase_started.add_listener(broken)
    events.phase_started.add_listener(lambda name: seen.append(name))
    events.phase_started.fire(name="warmup")
    assert seen == ["warmup"]
    assert "boom" in events.phase_started.errors[0]


def test_journal_survives_writers_on_many_threads(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json", "r1", "s")
    events = RunEvents()
    journal.follow(events)

    def write(k: int) -> None:
        for i in range(50):
            events.note.fire(what=f"t{k}", details={"i": i})
            journal.update(**{f"field{k}": i})

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    data = json.loads((tmp_path / "journal.json").read_text())
    assert len(data["events"]) == 300
    assert all(data[f"field{k}"] == 49 for k in range(6))
    assert not list(tmp_path.glob(".journal-*")), "no temporary file may be left behind"


def test_journal_records_phases_and_faults_from_events(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.json", "r1", "s")
    events = RunEvents()
    journal.follow(events)
    events.phase_started.fire(name="steady")
    entry = {"id": 0, "label": "latency", "applied_at": time.time()}
    events.fault_applied.fire(entry=entry)
    entry["healed_at"] = time.time()
    events.fault_healed.fire(entry=entry)
    events.phase_ended.fire(name="steady")
    data = json.loads((tmp_path / "journal.json").read_text())
    (phase,) = data["phases"]
    assert phase["name"] == "steady" and phase["end"] >= phase["start"]
    assert data["faults"] == [json.loads(json.dumps(entry))]


def _progress(path: Path, batches: list[tuple[float, int, int]]) -> None:
    """(ended at epoch s, input rows, duration ms) per batch, as Spark writes progress."""
    lines = []
    for ended, rows, ms in batches:
        stamp = datetime.fromtimestamp(ended, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines.append(json.dumps({"timestamp": stamp, "numInputRows": rows,
                                 "durationMs": {"triggerExecution": ms}}))
    path.write_text("\n".join(lines) + "\n")


def test_steady_state_needs_batches_and_flat_lag(tmp_path: Path) -> None:
    rule = steady_state.SteadyStateRule()
    now = time.time()
    progress = tmp_path / "progress.jsonl"
    _progress(progress, [(now - 8 + i, 100, 150) for i in range(8)])
    flat = [(now - 10 + i * 0.25, 40 + (i % 4) * 10) for i in range(40)]
    settled = steady_state.check(rule, now=now, produce_started_at=now - 30, rate_eps=100,
                                 trigger_s=1.0, lag_history=flat, progress_file=progress)
    assert settled["passed"], settled["why"]

    rising = [(now - 10 + i * 0.25, i * 40) for i in range(40)]
    behind = steady_state.check(rule, now=now, produce_started_at=now - 30, rate_eps=100,
                                trigger_s=1.0, lag_history=rising, progress_file=progress)
    assert not behind["passed"] and "lag rising" in behind["why"]

    starting = steady_state.check(rule, now=now, produce_started_at=now - 2, rate_eps=100,
                                  trigger_s=1.0, lag_history=flat[-8:],
                                  progress_file=tmp_path / "none.jsonl")
    assert not starting["passed"] and "micro-batch" in starting["why"]


def test_steady_state_lag_bound_is_what_batches_within_the_batch_limit_leave(
        tmp_path: Path) -> None:
    rule = steady_state.SteadyStateRule()
    now = time.time()
    progress = tmp_path / "progress.jsonl"
    # Batches of 4 s keep up at 100 events/s: lag saws between ~400 and ~800.
    _progress(progress, [(now - 12 + 4 * i, 400, 4000) for i in range(4)])

    def check(lag: list[tuple[float, int]]) -> dict:
        return steady_state.check(rule, now=now, produce_started_at=now - 60, rate_eps=100,
                                  trigger_s=0.0, lag_history=lag, progress_file=progress)

    sawtooth = [(now - 10 + i * 0.5, 400 + (i % 8) * 50) for i in range(20)]
    assert check(sawtooth)["passed"], check(sawtooth)["why"]
    backlog = [(now - 10 + i * 0.5, 3_000 + (i % 8) * 50) for i in range(20)]
    verdict = check(backlog)
    assert not verdict["passed"] and "> 2,000" in verdict["why"]  # 2 × 100 events/s × 10 s


def test_stored_time_comes_from_the_acknowledged_write() -> None:
    def at(s: float) -> datetime:
        return datetime.fromtimestamp(s, tz=timezone.utc)

    writes = pd.DataFrame({"_id": ["w1", "w2"], "kafka_partition": [0, 0],
                           "offset_from": [0, 0], "offset_to": [9, 9],
                           "stored": [at(100.0), at(200.0)]})
    stored = pd.DataFrame({"write_id": ["w1", "lost-attempt", "other"],
                           "kafka_partition": [0, 0, 1], "kafka_offset": [3, 5, 5]})
    times = acknowledged_times(stored, writes)
    # Its own attempt; a crashed attempt's row: the replay that covered it; nothing known.
    assert times.iloc[0] == 100.0 and times.iloc[1] == 100.0 and pd.isna(times.iloc[2])


def test_steady_state_window_follows_batches_that_outlast_their_trigger(tmp_path: Path) -> None:
    """Batches of 5.3 s at a 0.5 s trigger, keeping up at 200 events/s: lag saws by ~1,060
    events per batch. A 10 s window holds one commit (a CI run was refused so); the window
    covers three periods instead."""
    rule = steady_state.SteadyStateRule()
    now = time.time()
    progress = tmp_path / "progress.jsonl"
    ends = [now - 4.7 - 5.3 * i for i in range(6)][::-1]
    _progress(progress, [(end, 1060, 5300) for end in ends])

    def lag_at(ts: float) -> int:
        since_commit = ts - max(end for end in ends if end <= ts)
        return int(1060 + 200 * since_commit)  # the batch being written + what arrives

    sawtooth = [(ts, lag_at(ts)) for ts in (now - 25 + i * 0.5 for i in range(50))]
    verdict = steady_state.check(rule, now=now, produce_started_at=now - 60, rate_eps=200,
                                 trigger_s=0.5, lag_history=sawtooth, progress_file=progress)
    assert verdict["passed"], verdict["why"]
    assert verdict["period_s"] == 5.3 and round(verdict["window_s"], 1) == 15.9
