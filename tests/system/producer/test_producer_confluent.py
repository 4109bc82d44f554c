"""The confluent-kafka (librdkafka) client on the session's real stack: the ledger's acks are
the topic's records, acks=0 records offset -1, a latency toxic on the producer-kafka link
shows in its ack latency, and an outage or a SIGINT leaves unacked rows in a written ledger.

kafka-python's own tests (test_producer.py) stay as they are: it remains the default."""

from __future__ import annotations

import json
import math
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from system.producer.clients import NO_OFFSET
from system.producer.ledger import LEDGER_FILE, SCHEMA
from system.producer.producer import Producer
from system.stack import kafka as kafka_admin
from system.stack.native import NativeStack

pytest.importorskip("confluent_kafka", reason="confluent-kafka is a dependency: pip install .")

CLIENT = "confluent-kafka"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def topic(healed: NativeStack) -> str:
    name = f"confluent-test-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topic(healed.endpoints.direct_bootstrap, name, 2)
    return name


def _ledger(run_dir: Path) -> list[dict]:
    table = pq.read_table(run_dir / LEDGER_FILE)
    assert table.schema.equals(SCHEMA)
    return table.to_pylist()


def _read_topic(bootstrap: str, topic: str) -> list:
    """Every record of the topic's two partitions, read through the direct listener."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=5_000)
    partitions = [TopicPartition(topic, p) for p in (0, 1)]
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    records = []
    for record in consumer:
        records.append(record)
        if all(consumer.position(tp) >= ends[tp] for tp in partitions):
            break
    consumer.close()
    return records


def _median_ack_ms(rows: list[dict]) -> float:
    return statistics.median((r["ack_ts"] - r["send_ts"]) * 1000 for r in rows)


def test_every_ack_in_the_ledger_is_a_record_on_the_topic(
        healed: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=healed.endpoints.producer_bootstrap, topic=topic, seed=21,
                        client=CLIENT, run_id="confluent-acks")
    summary = producer.run(tmp_path, rate_eps=500, count=1000)
    assert summary["client"] == CLIENT
    assert summary["scheduled"] == summary["sent"] == summary["acked"] == 1000
    assert summary["failed"] == 0 and summary["interrupted"] is None
    rows = _ledger(tmp_path)
    assert all(r["error"] is None and r["offset"] >= 0 for r in rows)
    assert all(r["scheduled_ts"] <= r["send_ts"] <= r["ack_ts"] for r in rows)

    records = _read_topic(healed.endpoints.direct_bootstrap, topic)
    on_topic = {json.loads(r.value)["event_id"]: (r.partition, r.offset) for r in records}
    in_ledger = {r["event_id"]: (r["partition"], r["offset"]) for r in rows}
    assert len(records) == 1000, "each event exactly once on the topic"
    assert on_topic == in_ledger
    seqs: dict[str, list[int]] = {}
    for record in records:  # per partition, in offset order
        message = json.loads(record.value)
        assert record.key.decode() == message["device_id"]
        seqs.setdefault(message["device_id"], []).append(message["seq"])
    assert len(seqs) == 10 and all(s == list(range(1, 101)) for s in seqs.values())


def test_acks_0_records_offset_minus_1_and_the_events_still_arrive(
        healed: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=healed.endpoints.producer_bootstrap, topic=topic, seed=4,
                        client=CLIENT, acks="0", idempotence=False, run_id="confluent-acks0")
    summary = producer.run(tmp_path, rate_eps=500, count=400)
    assert summary["acked"] == 400 and summary["acks"] == "0"
    rows = _ledger(tmp_path)
    assert all(math.isfinite(r["ack_ts"]) and r["error"] is None for r in rows)
    assert {r["offset"] for r in rows} == {NO_OFFSET}
    assert {r["partition"] for r in rows} <= {0, 1}
    records = _read_topic(healed.endpoints.direct_bootstrap, topic)
    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(
        r["event_id"] for r in rows)


def test_a_300_ms_latency_toxic_shows_in_the_ack_latency(
        healed: NativeStack, topic: str, tmp_path: Path) -> None:
    def run(name: str) -> list[dict]:
        producer = Producer(bootstrap=healed.endpoints.producer_bootstrap, topic=topic,
                            client=CLIENT, run_id=name)
        summary = producer.run(tmp_path / name, rate_eps=100, count=300)
        assert summary["acked"] == 300
        return _ledger(tmp_path / name)

    healthy = _median_ack_ms(run("healthy"))
    healed.links.add_toxic("producer-kafka", "latency", {"latency": 300, "jitter": 0})
    slowed = _median_ack_ms(run("slowed"))
    assert slowed - healthy >= 250, f"ack p50 {healthy:.1f} ms healthy, {slowed:.1f} ms slowed"


def test_a_lasting_partition_leaves_unacked_rows_in_a_written_ledger(
        healed: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=healed.endpoints.producer_bootstrap, topic=topic,
                        client=CLIENT, delivery_timeout_s=5, close_timeout_s=2)
    cut = threading.Timer(1.0, healed.links.set_enabled, ("producer-kafka", False))
    cut.start()
    started = time.monotonic()
    try:
        summary = producer.run(tmp_path, rate_eps=300, count=900)
    finally:
        cut.join()
    assert time.monotonic() - started < 30
    rows = _ledger(tmp_path)
    assert len(rows) == 900 == summary["scheduled"]
    acked = [r for r in rows if r["error"] is None]
    unacked = [r for r in rows if r["error"] is not None]
    assert acked and len(unacked) >= 300
    assert summary["acked"] == len(acked) and summary["failed"] == len(unacked)
    assert all(r["error"].startswith("unacked: ") for r in unacked)
    assert all(math.isnan(r["ack_ts"]) and r["partition"] is None and r["offset"] is None
               for r in unacked)
    on_topic = {json.loads(r.value)["event_id"]
                for r in _read_topic(healed.endpoints.direct_bootstrap, topic)}
    assert {r["event_id"] for r in acked} <= on_topic, "an acked event is on the topic"


def test_sigint_mid_run_writes_the_ledger_and_exits_130(
        healed: NativeStack, topic: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "system.producer.cli", "--client", CLIENT, "--rate", "200",
               "--duration", "60", "--bootstrap", healed.endpoints.producer_bootstrap,
               "--topic", topic, "--out", str(tmp_path)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("sent") and "acked" in line:
            break
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 130, "".join(lines) + output
    rows = _ledger(tmp_path)
    assert 300 <= len(rows) <= 1500
    assert all(r["error"] is None or r["error"].startswith("unacked: ") for r in rows)
    acked = {r["event_id"] for r in rows if r["error"] is None}
    assert len(acked) >= 300
    assert json.loads((tmp_path / "produce-summary.json").read_text())["client"] == CLIENT
    on_topic = {json.loads(r.value)["event_id"]
                for r in _read_topic(healed.endpoints.direct_bootstrap, topic)}
    assert acked <= on_topic
