"""Export what the run's Kafka topic really holds → ``topic.parquet``.

The history checker (:mod:`reports.checker`) needs the broker's side of the story: which
event ids are on the topic, at which offsets, in which order. This reads every partition of
the run's topic from its beginning to the end offset it has when the export starts, through
the admin (direct) listener so no fault on a proxied link can hide records, and writes one
row per record: partition, offset, kafka_ts (the LogAppendTime), event_id, device_id, seq
(null when the value is not a JSON object naming them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

TOPIC_FILE = "topic.parquet"


class TopicExportError(RuntimeError):
    """The topic could not be read to its end."""


def _identity(value: bytes | None) -> tuple[Any, Any, Any]:
    try:
        message = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError):
        return None, None, None
    if not isinstance(message, dict):
        return None, None, None
    seq = message.get("seq")
    return (message.get("event_id") if isinstance(message.get("event_id"), str) else None,
            message.get("device_id") if isinstance(message.get("device_id"), str) else None,
            seq if isinstance(seq, int) and not isinstance(seq, bool) else None)


def export_topic(bootstrap: str, topic: str, out_dir: Path, *,
                 timeout_s: float = 300.0) -> dict[str, int]:
    """Write ``out_dir/topic.parquet``; returns records per partition (as strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="iotbench-topic-export",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=8 * 1024 * 1024,
                             fetch_max_bytes=32 * 1024 * 1024, request_timeout_ms=30_000)
    columns: dict[str, list[Any]] = {k: [] for k in
                                     ("partition", "offset", "kafka_ts", "event_id",
                                      "device_id", "seq")}
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > consumer.position(tp)}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TopicExportError(
                    f"topic {topic!r}: not read to its end within {timeout_s:.0f} s "
                    f"(still missing: {sorted(tp.partition for tp in remaining)})")
            for tp, records in consumer.poll(timeout_ms=1000, max_records=50_000).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    event_id, device_id, seq = _identity(record.value)
                    columns["partition"].append(record.partition)
                    columns["offset"].append(record.offset)
                    columns["kafka_ts"].append(record.timestamp / 1000.0)
                    columns["event_id"].append(event_id)
                    columns["device_id"].append(device_id)
                    columns["seq"].append(seq)
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close()
    table = pa.table({
        "partition": pa.array(columns["partition"], pa.int32()),
        "offset": pa.array(columns["offset"], pa.int64()),
        "kafka_ts": pa.array(columns["kafka_ts"], pa.float64()),
        "event_id": pa.array(columns["event_id"], pa.string()),
        "device_id": pa.array(columns["device_id"], pa.string()),
        "seq": pa.array(columns["seq"], pa.int64()),
    })
    pq.write_table(table, out_dir / TOPIC_FILE)
    return {str(tp.partition): ends[tp] for tp in tps}
