"""Physically impossible readings on the real stack (the session's stack, with its
dashboard): the producer's garbage is dead-lettered — 1e6 °C and -999 °C with reason
``out of range`` — and never reaches a stored document, a device's statistics or the
dashboard's average temperature."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import processor_support as ps
import pyarrow.parquet as pq
from pymongo import MongoClient

from system.processor import schema, store
from system.producer.producer import Producer
from system.stack.native import NativeStack
from system.store_contract import DATABASE

LOW_C, HIGH_C = schema.PHYSICAL_RANGE["temperature_celsius"][:2]


def _stats(stack: NativeStack) -> dict[str, Any]:
    with urllib.request.urlopen(f"{stack.endpoints.dashboard_url}/api/stats", timeout=10) as r:
        return json.loads(r.read())


def test_garbage_is_dead_lettered_and_the_dashboard_average_stays_physical(
        stack: NativeStack, tmp_path: Path) -> None:
    # The dashboard reads the default database: start it empty.
    store.reset(stack.endpoints.direct_mongo_uri, DATABASE)
    topic = ps.fresh_topic(stack, "ranges")
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                        thermostats=3, motion_sensors=2, seed=21, anomaly_rate=0.3,
                        kind_mix={"spike": 0.3, "garbage": 0.7}, run_id="ranges")
    summary = producer.run(tmp_path / "run", rate_eps=400, count=2000)
    assert summary["acked"] == 2000
    ledger = pq.read_table(tmp_path / "run" / "ledger.parquet").to_pylist()
    garbage = {r["event_id"]: r["truth_detail"] for r in ledger if r["truth_kind"] == "garbage"}
    huge = {i for i, detail in garbage.items() if detail == "garbage huge"}
    assert huge and len(garbage) > 50

    job = ps.Job(stack, ps.job_command(stack, topic, DATABASE, tmp_path / "job",
                                       "--available-now", master="local[2]"), tmp_path / "job")
    assert job.wait(timeout=300) == 0, job.tail()

    client = MongoClient(stack.endpoints.direct_mongo_uri, tz_aware=True)
    try:
        db = client[DATABASE]
        letters = list(db.dead_letter.find())
        stored = list(db.processed_data.find({}, {"_id": 1, "temperature_celsius": 1}))
        stored_ids = {d["_id"] for d in stored}
        missing = sorted((r["partition"], r["offset"]) for r in ledger
                         if r["event_id"] not in stored_ids and r["event_id"] not in garbage)
        if missing:  # say where they went missing: never read, or refused as replays
            writes = sorted((d["kafka_partition"], d["offset_from"], d["offset_to"], d["rows"])
                            for d in db.sink_writes.find())
            replays = db.replays.count_documents({})
            loss_warnings = [line for line in job.log.read_text(errors="replace").splitlines()
                             if "data may have been lost" in line or "Skip missing" in line]
    finally:
        client.close()
    by_event = {json.loads(d["raw"])["event_id"]: d for d in letters}
    assert set(by_event) == set(garbage), "every garbage reading, and only those, dead-lettered"
    assert not missing, (f"valid events neither stored nor dead-lettered at (partition, offset) "
                         f"{missing}; sink writes (partition, from, to, rows) {writes}; "
                         f"{replays} replays noted; Spark's data-loss warnings: {loss_warnings}")
    assert len(stored) + len(letters) == 2000
    kinds = Counter((garbage[i], d["reason_kind"]) for i, d in by_event.items())
    assert set(kinds) == {("garbage huge", "out of range"), ("garbage negative", "out of range"),
                          ("garbage string", "wrong type"), ("garbage null", "missing field")}
    for event_id in huge:
        assert by_event[event_id]["reason"].startswith(
            "out of range: temperature_celsius 1000000.0"), by_event[event_id]["reason"]
    temps = [d["temperature_celsius"] for d in stored if "temperature_celsius" in d]
    assert temps and all(LOW_C <= t <= HIGH_C for t in temps)

    stats = ps.wait_for("/api/stats to count every stored event",
                        lambda: (s := _stats(stack))["total"] == len(stored) and s, 60)
    assert LOW_C <= stats["avg_temperature"] <= HIGH_C, stats
    assert abs(stats["avg_temperature"] - sum(temps) / len(temps)) < 1e-6
