"""The processor's ceilings (recorded, never asserted).

    python -m benchmarks.processor_ceiling --out results/processor-ceiling.json \\
        [--own-stack] [--events 100000] [--sink-events 20000]

(a) Spark alone: the job (``system.processor.job``, ``--available-now``) drains a pre-filled
    topic. The ceiling is ``eps_over_batch_span``: rows / (end of the last batch − start of
    the first), i.e. batch work *and* Spark's scheduling between batches, as the pipeline
    pays them; shown beside it, labelled, are rows / Σ batch durations (no scheduling, a
    flattering variant) and events / driver wall time (driver start-up included).
(b) Mongo-wire alone: the sink's write path (``sink.write_partition`` called in-process with
    Row-like records) through the ``spark-mongo`` link at the size of a real micro-batch's
    partition slice (``batch``, 1,000 rows: 1 s of 2,000 events/s over 2 partitions) — the
    ceiling — and, labelled as a variant, at 10,000 rows per call; plus raw pymongo
    1,000-document batches of ``insert_many`` and of ``UpdateOne`` upserts for comparison.

``--own-stack`` starts a native stack (port offset ``IOTBENCH_PORT_OFFSET``, default 3000,
1 worker with 1 core) for the measurement and stops it afterwards; otherwise the running
stack's endpoints (from the environment) are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.sink_path import device_messages
from benchmarks.sink_path import rows as sink_rows
from system.config import Endpoints
from system.store_contract import PROCESSED


def prefill(bootstrap: str, topic: str, events: int) -> float:
    """Send ``events`` messages (acks=all); returns the send rate in events/s."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    started = time.monotonic()
    for key, value in device_messages(events):
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=300)
    producer.close()
    return events / (time.monotonic() - started)


def spark_ceiling(endpoints: Endpoints, work: Path, *, events: int = 100_000,
                  partitions: int = 2, master: str | None = None,
                  max_offsets_per_trigger: int | None = 25_000) -> dict[str, Any]:
    """(a) The job draining a pre-filled topic with ``--available-now``."""
    from pymongo import MongoClient

    from system.stack import kafka as kafka_admin
    from system.stack.spark import spark_env

    topic = f"ceiling-{uuid.uuid4().hex[:8]}"
    database = f"ceiling_{uuid.uuid4().hex[:6]}"
    kafka_admin.ensure_topic(endpoints.direct_bootstrap, topic, partitions)
    prefill_eps = prefill(endpoints.producer_bootstrap, topic, events)
    work.mkdir(parents=True, exist_ok=True)
    progress = work / "progress.jsonl"
    cmd = [sys.executable, "-m", "system.processor.job",
           "--master", master or endpoints.spark_master_url,
           "--bootstrap", endpoints.spark_bootstrap, "--mongo-uri", endpoints.spark_mongo_uri,
           "--topic", topic, "--database", database, "--checkpoint", str(work / "ckpt"),
           "--progress", str(progress), "--available-now"]
    if max_offsets_per_trigger:
        cmd += ["--max-offsets-per-trigger", str(max_offsets_per_trigger)]
    started = time.monotonic()
    with open(work / "driver.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=1800,
                              env={**os.environ, **spark_env(work / "spark")},
                              cwd=Path(__file__).resolve().parents[1]).returncode
    wall = time.monotonic() - started
    lines = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()] \
        if progress.exists() else []
    rows = sum(p["numInputRows"] for p in lines)
    batch_ms = sum(p["durationMs"].get("triggerExecution", 0) for p in lines)
    span_s = _batch_span_s(lines)
    add_ms = sum(p["durationMs"].get("addBatch", 0) for p in lines)
    client = MongoClient(endpoints.direct_mongo_uri)
    try:
        stored = client[database][PROCESSED].estimated_document_count()
        client.drop_database(database)
    finally:
        client.close()
    return {
        "events": events, "partitions": partitions, "master": master or "standalone 1x1 core",
        "max_offsets_per_trigger": max_offsets_per_trigger, "exit_code": code,
        "prefill_eps": round(prefill_eps), "batches": len(lines), "rows": rows,
        "stored": stored, "batch_seconds": round(batch_ms / 1000, 2),
        "add_batch_seconds": round(add_ms / 1000, 2),
        "eps_over_batch_span": round(rows / span_s) if span_s else None,
        "batch_span_seconds": round(span_s, 2) if span_s else None,
        "eps_over_batches": round(rows / (batch_ms / 1000)) if batch_ms else None,
        "wall_seconds": round(wall, 2), "eps_over_wall": round(events / wall),
    }


def _batch_span_s(progress: list[dict[str, Any]]) -> float | None:
    """Seconds from the start of the first batch that read rows to the end of the last."""
    spans = []
    for p in progress:
        if not p.get("numInputRows"):
            continue
        start = datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp()
        spans.append((start, start + p["durationMs"].get("triggerExecution", 0) / 1000))
    if not spans:
        return None
    return max(end for _, end in spans) - min(start for start, _ in spans)


def mongo_ceiling(uri: str, *, events: int = 20_000, batch: int = 1000,
                  big_batch: int = 10_000, upsert_batches: int = 4) -> dict[str, Any]:
    """(b) The sink's write path and raw pymongo bulk writes through ``uri``."""
    from pymongo import MongoClient, UpdateOne

    from system.processor.sink import SinkConfig, write_partition

    result: dict[str, Any] = {"batch": batch}
    client = MongoClient(uri)
    database = f"sinkbench_{uuid.uuid4().hex[:6]}"
    try:
        config = SinkConfig(mongo_uri=uri, database=database)
        rows = sink_rows(events)
        per_call = []
        started = time.monotonic()
        for i in range(0, events, batch):
            t = time.monotonic()
            write_partition(iter(rows[i:i + batch]), config)
            per_call.append(time.monotonic() - t)
        total = time.monotonic() - started
        result["sink_write_partition"] = {
            "events": events, "eps": round(events / total),
            "first_call_eps": round(batch / per_call[0]),
            "last_call_eps": round(batch / per_call[-1])}
        t = time.monotonic()
        write_partition(iter(rows[:batch]), config)  # a replayed batch: all duplicates
        result["sink_replayed_batch_eps"] = round(batch / (time.monotonic() - t))
        # Spark's partitions are bigger at high rates: the per-call costs (recent_events,
        # device_stats, detector_state) are shared by more events.
        big = SinkConfig(mongo_uri=uri, database=f"{database}_big")
        t = time.monotonic()
        for i in range(0, events, big_batch):
            write_partition(iter(rows[i:i + big_batch]), big)
        result["sink_write_partition_big"] = {
            "events": events, "per_call": big_batch,
            "eps": round(events / (time.monotonic() - t))}
        client.drop_database(big.database)

        coll = client[database].raw_insert
        docs = [json.loads(r.value) for r in rows]
        t = time.monotonic()
        for i in range(0, events, batch):
            coll.insert_many([{"_id": d["event_id"], **d} for d in docs[i:i + batch]],
                             ordered=False)
        result["insert_many_eps"] = round(events / (time.monotonic() - t))

        coll = client[database].raw_upsert
        rates = []
        for i in range(0, upsert_batches * batch, batch):
            ops = [UpdateOne({"_id": d["event_id"]},
                             {"$setOnInsert": d, "$inc": {"write_count": 1}}, upsert=True)
                   for d in docs[i:i + batch]]
            t = time.monotonic()
            coll.bulk_write(ops, ordered=False)
            rates.append(round(batch / (time.monotonic() - t)))
        result["upsert_eps_per_batch"] = rates
        result["upsert_note"] = ("UpdateOne upserts by _id, batch k runs against a collection "
                                 "already holding k*batch documents")
    finally:
        client.drop_database(database)
        client.close()
    return result


def measure(out: Path, *, own_stack: bool = False, events: int = 100_000,
            sink_events: int = 20_000) -> dict[str, Any]:
    stack = None
    if own_stack:
        from system.config import Ports
        from system.stack.native import NativeStack, StackConfig

        os.environ.setdefault("IOTBENCH_PORT_OFFSET", "3000")
        home = Path(tempfile.mkdtemp(prefix="processor-ceiling-stack-"))
        stack = NativeStack(StackConfig(partitions=2, workers=1, dashboard=False), home=home,
                            ports=Ports.from_env())
        stack.up()
    endpoints = stack.endpoints if stack else Endpoints()
    try:
        with tempfile.TemporaryDirectory(prefix="processor-ceiling-") as scratch:
            spark = spark_ceiling(endpoints, Path(scratch) / "spark", events=events)
        mongo = mongo_ceiling(endpoints.spark_mongo_uri, events=sink_events)
    finally:
        if stack is not None:
            stack.down(purge=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "spark_alone": spark, "mongo_wire_alone": mongo}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.processor_ceiling",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="results JSON")
    p.add_argument("--own-stack", action="store_true", help="start and stop a native stack")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--sink-events", type=int, default=20_000)
    args = p.parse_args(argv)
    results = measure(args.out, own_stack=args.own_stack, events=args.events,
                      sink_events=args.sink_events)
    print(json.dumps(results, indent=2))
    return 0 if results["spark_alone"]["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
