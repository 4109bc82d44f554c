"""The Spark Structured Streaming job: Kafka ``iot-data`` → validate → detect → MongoDB.

Run as its own driver process (client mode) against the stack's master, or ``local[N]``::

    python -m system.processor.job --master spark://127.0.0.1:7077 \\
        --bootstrap 127.0.0.1:9093 --mongo-uri 'mongodb://127.0.0.1:27018/?directConnection=true' \\
        --checkpoint runs/x/checkpoint --progress runs/x/spark_progress.jsonl

It reads through the ``spark-kafka`` link with the official Kafka source, writes from the
executors through the ``spark-mongo`` link (see ``sink.py``), checkpoints offsets so a
killed driver resumes where it stopped, and appends every micro-batch's progress JSON to
``--progress`` for the harness. SIGTERM stops the query gracefully.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path

from system.config import HOST, TOPIC, Endpoints
from system.processor import detectors
from system.processor.realtime import SliceWriter
from system.processor.sink import MODES, SinkConfig, warm_up, write_partition
from system.processor.store import ensure_indexes
from system.store_contract import DATABASE, PROCESSED

PROGRESS_POLL_S = 0.25
"""How often the driver reads the query's progress (a micro-batch takes longer)."""


def build_parser() -> argparse.ArgumentParser:
    e = Endpoints()
    p = argparse.ArgumentParser(prog="python -m system.processor.job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--master", default=e.spark_master_url, help="Spark master URL or local[N]")
    p.add_argument("--driver-host", default=HOST,
                   help="the address this driver advertises to the executors (another than "
                        f"{HOST} makes it listen on every interface)")
    p.add_argument("--bootstrap", default=e.spark_bootstrap,
                   help="Kafka bootstrap (default: the spark-kafka link)")
    p.add_argument("--topic", default=TOPIC)
    p.add_argument("--mongo-uri", default=e.spark_mongo_uri,
                   help="MongoDB URI (default: the spark-mongo link)")
    p.add_argument("--database", default=DATABASE)
    p.add_argument("--checkpoint", required=True, type=Path, help="checkpoint directory")
    p.add_argument("--progress", type=Path, help="append each batch's progress JSON here")
    p.add_argument("--batch-timings", type=Path,
                   help="append, per micro-batch, where its time went (one JSON line: the "
                   "driver's foreachBatch wall time and each partition slice's steps)")
    p.add_argument("--detector", choices=detectors.DETECTORS, default="threshold",
                   help="which detector sets is_anomaly (every detector always runs)")
    p.add_argument("--threshold", type=float, default=detectors.THRESHOLD_C)
    p.add_argument("--sink-mode", choices=MODES, default="idempotent",
                   help="idempotent: _id = event_id, replays absorbed and noted; append: the "
                   "seed's plain inserts, so a replayed micro-batch stores twice")
    p.add_argument("--trigger-ms", type=int, default=500, help="micro-batch interval")
    p.add_argument("--realtime-batch-s", type=float, default=None,
                   help="run in Spark's real-time mode with batches this long (a foreach "
                        "writer; see system.processor.realtime) instead of micro-batches")
    p.add_argument("--max-offsets-per-trigger", type=int, default=None)
    p.add_argument("--shuffle-partitions", type=int, default=2)
    p.add_argument("--starting-offsets", default="earliest", choices=["earliest", "latest"])
    p.add_argument("--cores-max", type=int, default=None, help="spark.cores.max")
    p.add_argument("--executor-memory", default="512m")
    p.add_argument("--available-now", action="store_true",
                   help="process what the topic holds, then exit")
    return p


class ProgressFile:
    """Appends each micro-batch's progress JSON as one line, polled from the query.

    Polled from the driver's main loop, not pushed by a Python ``StreamingQueryListener``:
    the listener's Python side rebuilds every progress object from the JVM one getter at a
    time over Py4J, and each getter made Py4J search the driver's jars for a class that is not
    there — 58 % of the driver JVM's CPU in a Java Flight Recorder profile at 1,280 events/s
    (~14 % of a core). A poll costs two Py4J calls; a batch that completed between two polls
    is read from ``recentProgress``, so every batch gets its line, once, in order.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.last_batch = -1

    def poll(self, query) -> None:
        progress = query.lastProgress
        if progress is None or progress.batchId <= self.last_batch:
            return
        # A batch between two polls, or before the first (a restarted driver resumes at
        # batch N): the query keeps its recent progress.
        missed = progress.batchId > self.last_batch + 1
        batches = query.recentProgress if missed else [progress]
        for each in sorted(batches, key=lambda p: p.batchId):
            if self.last_batch < each.batchId <= progress.batchId:
                self.write(each.json)
                self.last_batch = each.batchId

    def write(self, progress_json: str) -> None:
        line = json.dumps(json.loads(progress_json), separators=(",", ":"))
        with open(self.path, "a") as f:
            f.write(line + "\n")


class BatchTimingsFile:
    """``batch_timings.jsonl``: per micro-batch, ``batchId``, the driver's wall time of its
    ``foreachBatch`` (``started``/``ended``, epoch s; Spark's ``addBatch`` wraps it) and the
    slices' :class:`~system.processor.sink.SliceTimings` (empty slices left out)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, batch_id: int, started: float, ended: float, slices: list[dict]) -> None:
        line = {"batchId": batch_id, "started": started, "ended": ended,
                "slices": [s for s in slices if s["rows"] or s["dead"]]}
        with open(self.path, "a") as f:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


def run(args: argparse.Namespace) -> int:
    from system.processor.session import build_session

    ensure_indexes(args.mongo_uri, args.database)
    # Spark refuses real-time batches under realTimeMode.minBatchDuration (5 s by default);
    # a reading waits up to one batch (see system.processor.realtime), so allow ours.
    extra = ({"spark.sql.streaming.realTimeMode.minBatchDuration":
              f"{int(args.realtime_batch_s * 1000)}ms"} if args.realtime_batch_s else None)
    spark = build_session(args.master, "iotbench-processor", driver_host=args.driver_host,
                          executor_memory=args.executor_memory, extra=extra,
                          cores_max=args.cores_max, shuffle_partitions=args.shuffle_partitions)
    progress = ProgressFile(args.progress) if args.progress else None
    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.bootstrap)
              .option("subscribe", args.topic)
              .option("startingOffsets", args.starting_offsets)
              .option("failOnDataLoss", "false"))
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
    config = SinkConfig(mongo_uri=args.mongo_uri, database=args.database,
                        primary_detector=args.detector, threshold_c=args.threshold,
                        topic=args.topic, mode=args.sink_mode)
    sink = partial(write_partition, config=config)
    slots = max(1, spark.sparkContext.defaultParallelism)
    spark.sparkContext.parallelize(range(slots), slots).foreachPartition(
        lambda _: warm_up(config))

    timings = BatchTimingsFile(args.batch_timings) if args.batch_timings else None

    def write_batch(df, batch_id: int) -> None:
        started = time.time()
        slices = df.rdd.mapPartitions(lambda rows: [sink(rows)]).collect()
        if timings is not None:
            timings.write(batch_id, started, time.time(), slices)

    stream = reader.load().select("value", "partition", "offset", "timestamp").writeStream
    if args.realtime_batch_s:
        writer = (stream.foreach(SliceWriter(config)).outputMode("update")
                  .trigger(realTime=f"{args.realtime_batch_s:g} seconds"))
    else:
        writer = stream.foreachBatch(write_batch)
        writer = (writer.trigger(availableNow=True) if args.available_now
                  else writer.trigger(processingTime=f"{args.trigger_ms} milliseconds"))
    writer = (writer.option("checkpointLocation", str(args.checkpoint))
              .queryName("iotbench-processor"))
    query = writer.start()
    print(f"processor: query {query.id} started; writing {args.database}.{PROCESSED}",
          flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while query.isActive and not stop.is_set():
        query.awaitTermination(PROGRESS_POLL_S)
        if progress is not None:
            progress.poll(query)
    if query.isActive:
        print("processor: stopping (signal)", flush=True)
        query.stop()
    if progress is not None:
        progress.poll(query)  # the batches that completed since the last poll
    error = query.exception()
    spark.stop()
    if error is not None:
        print(f"processor: query failed: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
