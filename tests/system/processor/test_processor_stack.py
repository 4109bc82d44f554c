"""The processor against the real stack (Kafka, Toxiproxy links, FerretDB, Spark standalone
with one 1-core worker): exactly-once storage, detectors, dead letters, a driver crash,
local mode and the progress file.

The stack uses port offset 3000 (others use 0 and 2000). One driver runs at a time: the
worker's single core holds one application.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import processor_support as ps
import pytest
from own_stack import own_stack
from pymongo import MongoClient

from reports.batches import batch_breakdown
from system.processor import views
from system.stack.native import NativeStack

EVENTS = 5000
SPIKES = {100: 38.5, 250: 41.0, 400: 36.2}          # thermostat-01 (baseline 20)
DRIFT_DEVICE, DRIFT_START, DRIFT_LEN, DRIFT_STEP = "thermostat-02", 200, 10, 0.8  # base 21
STUCK_DEVICE, STUCK_START, STUCK_LEN, STUCK_VALUE = "thermostat-03", 300, 6, 22.37
IMPLAUSIBLE = ("thermostat-04", 150, -45.0)  # valid (inside -50…100 °C), implausible


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    with own_stack(tmp_path_factory.mktemp("processor-stack"), 3000,
                   partitions=2, workers=1, dashboard=False) as native:
        yield native


@pytest.fixture(scope="module")
def mongo(stack: NativeStack) -> Iterator[MongoClient]:
    client = MongoClient(stack.endpoints.direct_mongo_uri, tz_aware=True)
    yield client
    client.close()


# ------------------------------------------------------------------ 1 + 5: a clean run

@dataclass
class CleanRun:
    db: Any
    acked: list[str]
    sent: dict[str, dict[str, Any]]
    progress: list[dict[str, Any]]
    batch_timings: list[dict[str, Any]]
    topic: str
    seconds: float


def _anomalous_fleet() -> ps.Fleet:
    drift_base = 21.0
    overrides = {
        "thermostat-01": dict(SPIKES),
        DRIFT_DEVICE: {DRIFT_START + k: round(drift_base + DRIFT_STEP * (k + 1), 2)
                       for k in range(DRIFT_LEN)},
        STUCK_DEVICE: {STUCK_START + k: STUCK_VALUE for k in range(STUCK_LEN)},
        IMPLAUSIBLE[0]: {IMPLAUSIBLE[1]: IMPLAUSIBLE[2]},
    }
    return ps.Fleet(thermostats=5, motion_sensors=5, overrides=overrides)


@pytest.fixture(scope="module")
def clean_run(stack: NativeStack, mongo: MongoClient,
              tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    work = tmp_path_factory.mktemp("clean")
    topic = ps.fresh_topic(stack, "clean")
    name = ps.db_name("clean")
    events = _anomalous_fleet().events(EVENTS)
    sender = ps.Sender(stack.endpoints.producer_bootstrap, topic)
    sender.send_all(events)
    sender.close()
    assert len(sender.acked) == EVENTS and not sender.failed

    db = mongo[name]
    started = time.monotonic()
    job = ps.Job(stack, ps.job_command(stack, topic, name, work), work)
    try:
        ps.wait_for(f"{EVENTS} documents", lambda: ps.count(db) >= EVENTS, 180, job=job)
        # device_stats, recent_events and detector_state are written after the documents.
        ps.wait_for("device_stats to cover every event",
                 lambda: sum(d["count"] for d in db.device_stats.find()) >= EVENTS, 60, job=job)
        ps.wait_for("recent_events to hold each device's last reading",
                 lambda: _windows_complete(db), 60, job=job)
        seconds = time.monotonic() - started
    finally:
        code = job.stop()
    assert code == 0, job.tail()
    return CleanRun(db, sender.acked, {e["event_id"]: e for e in events},
                    ps.progress_lines(work / "progress.jsonl"),
                    ps.progress_lines(work / "batch_timings.jsonl"), topic, seconds)


def test_every_acked_event_is_stored_exactly_once(clean_run: CleanRun) -> None:
    db = clean_run.db
    assert ps.count(db) == EVENTS
    ids = [d["_id"] for d in db.processed_data.find({}, {"_id": 1})]
    assert len(set(ids)) == EVENTS
    assert set(ids) == set(clean_run.acked)
    assert Counter(ps.write_counts(db).values()) == {1: EVENTS}
    assert ps.count(db, "dead_letter") == 0
    doc = db.processed_data.find_one({"_id": clean_run.acked[0]})
    sent = clean_run.sent[clean_run.acked[0]]
    for key in ("device_id", "seq", "timestamp"):
        assert doc[key] == sent[key]
    for key in ("kafka_partition", "kafka_offset", "kafka_ts", "processing_start",
                "written_at", "write_id", "is_anomaly", "detector", "event_time"):
        assert key in doc, key
    write = db.sink_writes.find_one({"_id": doc["write_id"]})
    assert write is not None and write["offset_from"] <= doc["kafka_offset"] <= write["offset_to"]
    # Causal order: appended, then picked up, then the insert issued, then acknowledged.
    assert doc["kafka_ts"] <= doc["processing_start"] <= doc["written_at"] <= write["stored"]


def test_threshold_detector_agrees_with_the_seed_rule(clean_run: CleanRun) -> None:
    docs = list(clean_run.db.processed_data.find({"device_type": "thermostat"}))
    assert len(docs) == EVENTS // 2
    wrong = [(d["device_id"], d["seq"], d["temperature_celsius"]) for d in docs
             if d["is_anomaly_threshold"] != (d["temperature_celsius"] > 35.0)]
    assert not wrong
    assert all(d["is_anomaly"] == d["is_anomaly_threshold"] and d["detector"] == "threshold"
               for d in docs)
    flagged = {(d["device_id"], d["seq"]) for d in docs if d["is_anomaly_threshold"]}
    assert flagged == {("thermostat-01", s) for s in SPIKES}
    motion = clean_run.db.processed_data.find({"device_type": "motion"})
    assert not any(d["is_anomaly"] or d["is_anomaly_zscore"] or d["is_anomaly_mad"]
                   for d in motion)


def test_zscore_catches_the_drift_the_threshold_misses(clean_run: CleanRun) -> None:
    drift = ps.episode(clean_run.db, DRIFT_DEVICE, DRIFT_START, DRIFT_LEN)
    assert [d["seq"] for d in drift] == list(range(DRIFT_START, DRIFT_START + DRIFT_LEN))
    assert all(d["temperature_celsius"] < 35.0 for d in drift)
    assert not any(d["is_anomaly_threshold"] for d in drift)
    zscore = [d["is_anomaly_zscore"] for d in drift]
    assert all(zscore[3:]), zscore  # every reading after the first three
    assert sum(zscore) >= DRIFT_LEN - 3
    assert all(d["anomaly_score"] is not None for d in drift)


def test_zscore_catches_the_stuck_sensor(clean_run: CleanRun) -> None:
    stuck = ps.episode(clean_run.db, STUCK_DEVICE, STUCK_START, STUCK_LEN)
    assert [d["temperature_celsius"] for d in stuck] == [STUCK_VALUE] * STUCK_LEN
    assert not any(d["is_anomaly_threshold"] for d in stuck)
    assert all(d["is_anomaly_zscore"] for d in stuck[2:]), [d["is_anomaly_zscore"]
                                                          for d in stuck]
    device, seq, value = IMPLAUSIBLE
    doc = clean_run.db.processed_data.find_one({"device_id": device, "seq": seq})
    assert doc["temperature_celsius"] == value
    assert doc["is_anomaly_zscore"] and not doc["is_anomaly_threshold"]


def test_zscore_is_quiet_on_normal_readings(clean_run: CleanRun) -> None:
    """Noise alone (sigma 0.3) must not flag more than a handful of readings."""
    flagged = clean_run.db.processed_data.count_documents(
        {"device_type": "thermostat", "is_anomaly_zscore": True})
    injected = len(SPIKES) + DRIFT_LEN + STUCK_LEN + 1
    assert flagged <= injected + 10, flagged


def test_device_stats_equal_aggregates_over_processed_data(clean_run: CleanRun) -> None:
    db = clean_run.db
    expected = ps.stats_from_documents(db)
    stats = {d["_id"]: d for d in db.device_stats.find()}
    assert set(stats) == set(expected)
    for device, want in expected.items():
        got = stats[device]
        assert (got["count"], got["anomalies"], got["temp_count"]) == (
            want["count"], want["anomalies"], want["temp_count"]), device
        assert got["temp_sum"] == pytest.approx(want["temp_sum"], rel=1e-9)
        assert got["last_event_time"] == want["last"]


def _windows_complete(db: Any) -> bool:
    windows = views.device_windows(list(db.recent_events.find()))
    return len(windows) == 10 and all(
        w["events"] and w["events"][-1]["seq"] == EVENTS // 10 for w in windows.values())


def test_recent_events_hold_the_newest_events_per_device(clean_run: CleanRun) -> None:
    db = clean_run.db
    per_device = EVENTS // 10
    keep = min(per_device, views.RECENT_PER_DEVICE)
    windows = views.device_windows(list(db.recent_events.find()))
    assert len(windows) == 10
    kept: dict[str, int] = {}
    for segment in db.recent_events.find({"kind": "recent"}):
        kept[segment["device_id"]] = (kept.get(segment["device_id"], 0)
                                      + len(json.loads(segment["entries"])))
    assert per_device > views.RECENT_PER_DEVICE + views.TRIM_GROUP
    assert all(n < per_device for n in kept.values()), f"never trimmed: {kept}"
    for device, window in windows.items():
        seqs = [e["seq"] for e in window["events"]]
        assert seqs == list(range(per_device - keep + 1, per_device + 1)), device
        stored = db.processed_data.find_one({"device_id": device, "seq": per_device})
        assert window["events"][-1]["event_id"] == stored["_id"]
        anomalies = [e["seq"] for e in window["anomalies"]]
        want = sorted(d["seq"] for d in db.processed_data.find(
            {"device_id": device, "is_anomaly": True}))[-min(keep, views.ANOMALIES_PER_DEVICE):]
        assert anomalies == want


def test_progress_file_has_one_line_per_micro_batch(clean_run: CleanRun) -> None:
    lines = clean_run.progress
    assert lines, "no progress written"
    batch_ids = [p["batchId"] for p in lines]
    assert batch_ids == sorted(set(batch_ids)), "one line per micro-batch, in order"
    assert sum(p["numInputRows"] for p in lines) == EVENTS
    for p in lines:
        assert isinstance(p["numInputRows"], int)
        assert "triggerExecution" in p["durationMs"]
        source = p["sources"][0]
        assert clean_run.topic in source["description"]
        assert set(source["endOffset"][clean_run.topic]) == {"0", "1"}
    last = lines[-1]["sources"][0]["endOffset"][clean_run.topic]
    assert sum(last.values()) == EVENTS


def test_batch_breakdown_covers_each_batch_duration(clean_run: CleanRun) -> None:
    """One worker core runs the slices one after another, so Spark's phases, the task
    overhead and the slices' steps must add up to each batch's triggerExecution (±10 %)."""
    frame = batch_breakdown(clean_run.progress, clean_run.batch_timings)
    with_rows = frame[frame["rows"] > 0]
    assert len(with_rows) == sum(1 for p in clean_run.progress if p["numInputRows"]), \
        "every batch with rows has its timings"
    assert int(with_rows["rows"].sum()) == EVENTS
    for step in ("read", "validate", "detect", "processed_data.insert_many",
                 "sink_writes.insert_one", "device_stats.bulk_write", "recent_events.insert_many"):
        assert with_rows[step].gt(0).all(), step
    covered = (with_rows["duration_ms"] - with_rows["unaccounted"]) / with_rows["duration_ms"]
    assert covered.between(0.9, 1.1).all(), with_rows[["batch", "duration_ms", "unaccounted"]]
    for line in clean_run.batch_timings:
        for s in line["slices"]:
            steps_ms = sum(step["ms"] for step in s["steps"].values())
            assert steps_ms == pytest.approx(s["total_ms"], rel=0.1), s


# ------------------------------------------------------------------ 2: dead letters

def test_malformed_records_go_to_dead_letter_and_the_stream_goes_on(
        stack: NativeStack, mongo: MongoClient, tmp_path: Path) -> None:
    topic = ps.fresh_topic(stack, "dead")
    name = ps.db_name("dead")
    fleet = ps.Fleet(thermostats=2, motion_sensors=2, seed=11)
    sender = ps.Sender(stack.endpoints.producer_bootstrap, topic, max_request_size=2 * ps.MB)
    sender.send_all(fleet.events(40))
    bad = ps.malformed_records()
    # Keyed like thermostat-01, so they share its partition and good records follow them.
    coords = [sender.send_raw(raw, key=b"thermostat-01") for _, raw in bad]
    after = fleet.events(40)
    sender.send_all(after)
    sender.close()
    assert len(sender.acked) == 80 and not sender.failed

    db = mongo[name]
    job = ps.Job(stack, ps.job_command(stack, topic, name, tmp_path), tmp_path)
    try:
        ps.wait_for("80 good documents", lambda: ps.count(db) >= 80, 180, job=job)
        ps.wait_for(f"{len(bad)} dead letters", lambda: ps.count(db, "dead_letter") >= len(bad), 60,
                 job=job)
    finally:
        code = job.stop()
    assert code == 0, job.tail()

    assert ps.count(db) == 80
    assert {d["_id"] for d in db.processed_data.find({}, {"_id": 1})} == set(sender.acked)
    letters = {(d["kafka_partition"], d["kafka_offset"]): d for d in db.dead_letter.find()}
    assert set(letters) == set(coords)
    for (kind, raw), at in zip(bad, coords, strict=True):
        letter = letters[at]
        assert letter["reason_kind"] == kind, letter["reason"]
        assert letter["reason"].startswith(kind + ":")
        assert letter["_id"] == f"{topic}-{at[0]}-{at[1]}"
        assert letter["raw_bytes"] == len(raw)
        assert letter["kafka_ts"] is not None
        if kind != "oversized":
            assert letter["raw"] == raw.decode("utf-8", "replace")
        else:
            assert letter["raw_bytes"] > ps.MB and len(letter["raw"]) <= 16 * 1024
    # The good readings sent after the bad ones (same partition, later offsets) are there.
    partition = coords[0][0]
    last_bad = max(o for p, o in coords if p == partition)
    later = db.processed_data.count_documents(
        {"kafka_partition": partition, "kafka_offset": {"$gt": last_bad}})
    assert later > 0
    assert {e["event_id"] for e in after} <= {d["_id"] for d in db.processed_data.find()}


# ------------------------------------------------------------------ 3: driver crash

# Long enough that the first driver has stored a quarter of the stream while the producer is
# still sending: on the 2-core CI machine its first batches take 10 s (at 300 events/s for
# 20 s a third was stored only after the producer had finished).
RATE, SECONDS = 200, 45


def test_kill_9_of_the_driver_loses_and_duplicates_nothing(
        stack: NativeStack, mongo: MongoClient, tmp_path: Path) -> None:
    topic = ps.fresh_topic(stack, "crash")
    name = ps.db_name("crash")
    db = mongo[name]
    sender = ps.Sender(stack.endpoints.producer_bootstrap, topic)
    fleet = ps.Fleet(thermostats=5, motion_sensors=5, seed=5)
    cmd = ps.job_command(stack, topic, name, tmp_path)

    first = ps.Job(stack, cmd, tmp_path)
    ps.wait_for("the first driver's first micro-batch",
             lambda: ps.progress_lines(tmp_path / "progress.jsonl"), 120, job=first)
    done = threading.Event()
    producer = threading.Thread(target=ps.produce_steadily,
                                args=(sender, fleet, RATE, SECONDS, done), daemon=True)
    producer.start()
    try:
        ps.wait_for("~1/4 of the stream stored",
                 lambda: ps.count(db) >= RATE * SECONDS // 4, SECONDS, job=first)
        assert not done.is_set(), "the crash must come while events are still produced"
        stored_at_crash = ps.count(db)
        first.kill9()
        ps.wait_master_idle(stack)
        second = ps.Job(stack, cmd, tmp_path)
        try:
            ps.wait_for("the producer to finish", done.is_set, SECONDS + 60)
            producer.join(timeout=10)
            acked = set(sender.acked)
            ps.wait_for(f"all {len(acked)} acked events", lambda: ps.count(db) >= len(acked), 180,
                     job=second)
            ps.wait_for("device_stats to catch up",
                     lambda: sum(d["count"] for d in db.device_stats.find()) >= len(acked), 60,
                     job=second)
        finally:
            code = second.stop()
    finally:
        sender.close()
    assert code == 0, second.tail()
    assert not sender.failed

    writes = ps.write_counts(db)
    ids = [d["_id"] for d in db.processed_data.find({}, {"_id": 1})]
    lost = acked - set(ids)
    duplicated = len(ids) - len(set(ids))
    unexpected = set(ids) - acked
    replayed = sum(1 for n in writes.values() if n > 1)
    print(f"\ncrash test: acked={len(acked)} stored_at_crash={stored_at_crash} "
          f"stored={len(ids)} lost={len(lost)} duplicated={duplicated} "
          f"unexpected={len(unexpected)} replayed(write_count>1)={replayed}")
    assert not lost and duplicated == 0 and not unexpected
    assert all(n >= 1 for n in writes.values())
    stats = sum(d["count"] for d in db.device_stats.find())
    assert stats == len(acked), "device_stats ps.count each stored event once"


# ------------------------------------------------------------------ 4 (+5): local mode

def test_local_mode_available_now_drains_the_topic_and_exits(
        stack: NativeStack, mongo: MongoClient, tmp_path: Path) -> None:
    topic = ps.fresh_topic(stack, "local")
    name = ps.db_name("local")
    sender = ps.Sender(stack.endpoints.producer_bootstrap, topic)
    sender.send_all(ps.Fleet(thermostats=3, motion_sensors=3, seed=9).events(1200))
    sender.close()
    assert len(sender.acked) == 1200
    job = ps.Job(stack, ps.job_command(stack, topic, name, tmp_path, "--available-now",
                                 master="local[2]"), tmp_path)
    code = job.wait(timeout=180)
    assert code == 0, job.tail()
    db = mongo[name]
    assert ps.count(db) == 1200
    assert {d["_id"] for d in db.processed_data.find({}, {"_id": 1})} == set(sender.acked)
    progress = ps.progress_lines(tmp_path / "progress.jsonl")
    assert progress and sum(p["numInputRows"] for p in progress) == 1200
    assert sum(progress[-1]["sources"][0]["endOffset"][topic].values()) == 1200


# ------------------------------------------------------------------ the sink's crash windows

def test_sink_counts_each_event_once_whatever_the_crash_point(
        stack: NativeStack, mongo: MongoClient) -> None:
    """No Spark: the executor's write path, called as a replay would call it after a crash
    between inserting the events and bumping device_stats, and with a re-sent duplicate."""
    from collections import namedtuple

    from system.processor import sink

    row = namedtuple("Row", "value partition offset timestamp")
    name = ps.db_name("sink")
    db = mongo[name]
    config = sink.SinkConfig(mongo_uri=stack.endpoints.spark_mongo_uri, database=name)
    events = ps.Fleet(thermostats=2, motion_sensors=1, seed=13).events(30)
    rows = [row(json.dumps(e).encode(), 0, i, datetime.now()) for i, e in enumerate(events)]

    # Attempt 1 dies right after inserting the first 20 events (nothing else written).
    first = [{**sink.schema.parse(r.value), "kafka_partition": 0, "kafka_offset": r.offset,
              "kafka_ts": datetime.now(timezone.utc), "is_anomaly": False}
             for r in rows[:20]]
    sink._insert_events(db, first, sink.SliceTimings())
    assert ps.count(db, "device_stats") == 0
    # The replay of the whole range, twice (a second crash after everything was written).
    sink.write_partition(iter(rows), config)
    sink.write_partition(iter(rows), config)
    # The producer re-sends event 5 as a new record: stored once, counted once.
    sink.write_partition(iter([row(rows[5].value, 0, 30, datetime.now())]), config)

    stats = {d["_id"]: d["count"] for d in db.device_stats.find()}
    assert sum(stats.values()) == 30 == ps.count(db)
    assert stats == dict(Counter(e["device_id"] for e in events))
    # 0-19: attempt 1 + two replays; 20-29: replay 1 + replay 2; event 5 once more.
    assert Counter(ps.write_counts(db).values()) == {3: 19, 4: 1, 2: 10}
    mongo.drop_database(name)
