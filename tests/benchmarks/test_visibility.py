"""The visibility probe on the real stack: its sample is every event whose id hashes to 0 mod
K — spread over the whole run, not the freshest — and each became visible through the
dashboard API no earlier than Mongo stored it; its bounds hold when nothing becomes visible."""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from benchmarks.visibility import VisibilityProbe, is_sampled
from system.stack.native import NativeStack
from system.store_contract import DATABASE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system" / "processor"))
import processor_support as ps  # noqa: E402 - the processor tests' driver and sender

EVENTS = 2000
RATE = 100
SAMPLE_EVERY = 5


def probe_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def stored_time(db: Any, doc: dict[str, Any]) -> float:
    """When Mongo acknowledged the document's write: the sink's `sink_writes` record when
    it keeps one, else the document's own `written_at`."""
    write = db.sink_writes.find_one({"_id": doc["write_id"]}) if "write_id" in doc else None
    moment: datetime = write["stored"] if write else doc["written_at"]
    return moment.timestamp()


def test_probe_samples_uniformly_and_sees_events_after_they_are_stored(
        stack: NativeStack, tmp_path: Path, artifacts: Path) -> None:
    endpoints = stack.endpoints
    topic = ps.fresh_topic(stack, "probe", 2)
    job = ps.Job(stack, ps.job_command(stack, topic, DATABASE, tmp_path), tmp_path)
    sender = ps.Sender(endpoints.producer_bootstrap, topic)
    db = MongoClient(endpoints.direct_mongo_uri, tz_aware=True)[DATABASE]
    fleet = ps.Fleet(seed=11)
    probe: VisibilityProbe | None = None
    try:
        warmup = fleet.events(1)
        sender.send_all(warmup)
        ps.wait_for("the processor to store a first event",
                    lambda: db.processed_data.find_one({"_id": warmup[0]["event_id"]}),
                    timeout=240, job=job)
        probe = VisibilityProbe(tmp_path / "probe.csv", endpoints.dashboard_url,
                                endpoints.direct_bootstrap, topic, SAMPLE_EVERY,
                                # Never thins the sample, however slow a loaded CI machine
                                # stores: the hash rule alone must pick (~400 of 2,000).
                                max_pending=EVENTS)
        probe.start()
        events = fleet.events(EVENTS)
        started = time.monotonic()
        for i, event in enumerate(events):
            delay = started + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing an open-loop schedule, not waiting on a condition
            sender.send(event)
        sender.flush()
        assert not sender.failed
        ps.wait_for("the probe to read the whole topic and see every sampled event",
                    lambda: probe.consumed >= EVENTS + 1 and probe.pending() == 0,
                    timeout=180, job=job)
    finally:
        if probe is not None:
            probe.stop()
        sender.close()
        job.stop()

    rows = probe_rows(tmp_path / "probe.csv")
    order = {e["event_id"]: i for i, e in enumerate(events)}
    expected = {e["event_id"] for e in [*warmup, *events]
                if is_sampled(e["event_id"], SAMPLE_EVERY)}
    sampled = [r for r in rows if r["event_id"] in order]
    # Exactly the events the hash picks, whenever they were sent: a rule, not a recency bias.
    assert {r["event_id"] for r in rows} == expected
    assert 250 < len(sampled) < 550  # ~EVENTS / SAMPLE_EVERY
    positions = sorted(order[r["event_id"]] for r in sampled)
    assert positions[0] < EVENTS * 0.05 and positions[-1] > EVENTS * 0.95
    fifths = [sum(1 for p in positions if k * EVENTS / 5 <= p < (k + 1) * EVENTS / 5)
              for k in range(5)]
    assert all(0.1 * len(positions) < n < 0.3 * len(positions) for n in fifths), fifths

    settings = probe.settings()
    (artifacts / "visibility-probe-settings.json").write_text(json.dumps(settings, indent=2))
    assert (settings["source"], settings["sample_every"], settings["skipped"]) == (
        "topic", SAMPLE_EVERY, 0)
    assert settings["visible"] == len(rows) and settings["censored"] == 0
    for row in rows:
        doc = db.processed_data.find_one({"_id": row["event_id"]})
        assert doc is not None, row
        assert row["visible_ts"], row
        assert float(row["visible_ts"]) >= stored_time(db, doc), (row, doc)


def test_probe_bounds_pending_ids_and_censors_what_never_appears(
        stack: NativeStack, tmp_path: Path) -> None:
    """No processor reads this topic, so nothing becomes visible: the probe holds at most
    max_pending ids, counts the rest as skipped and writes the held ones censored."""
    endpoints = stack.endpoints
    topic = ps.fresh_topic(stack, "probe-bounds", 2)
    sender = ps.Sender(endpoints.producer_bootstrap, topic)
    try:
        sender.send_all(ps.Fleet(seed=12).events(50))
    finally:
        sender.close()
    probe = VisibilityProbe(tmp_path / "probe.csv", endpoints.dashboard_url,
                            endpoints.direct_bootstrap, topic, sample_every=1,
                            max_pending=10, timeout_s=2.0)
    probe.start()
    try:
        ps.wait_for("the probe to time out its pending ids", lambda: probe.censored >= 10,
                    timeout=60)
    finally:
        probe.stop()

    rows = probe_rows(tmp_path / "probe.csv")
    settings = probe.settings()
    assert len(rows) == 10 and all(r["visible_ts"] == "" for r in rows)
    assert (settings["consumed"], settings["sampled"], settings["skipped"]) == (50, 10, 40)
    assert settings["polls"] > 0 and settings["errors"] == 0, settings


@pytest.mark.parametrize("url", ["http://example.com:8050", "http://10.0.0.1:8050"])
def test_probe_polls_only_a_local_dashboard(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        VisibilityProbe(tmp_path / "probe.csv", url, "127.0.0.1:9092", "t", 1)


def test_sample_every_aims_at_five_samples_a_second() -> None:
    assert [VisibilityProbe.sample_every_for(r) for r in (None, 0, 3, 100, 3500)] == [
        1, 1, 1, 20, 700]
