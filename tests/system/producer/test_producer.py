"""The producer against a real stack of its own (ports offset by 2000, its own home):
acks, ledger, per-device order in Kafka, outages through the producer-kafka link, signals.

With kafka-python: the default client, confluent-kafka, has the same checks in
``test_producer_confluent.py``, so both clients stay tested."""

from __future__ import annotations

import itertools
import math
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition
from own_stack import own_stack

from system.producer.errors import ProducerError
from system.producer.ledger import LEDGER_FILE, PARTS_DIR, SCHEMA
from system.producer.producer import Producer
from system.stack import kafka as kafka_admin
from system.stack.native import NativeStack

PORT_OFFSET = "2000"
CLIENT = "kafka-python"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def producer_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    with own_stack(tmp_path_factory.mktemp("producer-stack"), int(PORT_OFFSET),
                   partitions=2, workers=1, dashboard=False) as native:
        yield native


@pytest.fixture()
def stack(producer_stack: NativeStack) -> Iterator[NativeStack]:
    producer_stack.links.reset()
    try:
        yield producer_stack
    finally:
        producer_stack.links.reset()


@pytest.fixture()
def topic(stack: NativeStack) -> str:
    name = f"producer-test-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topic(stack.endpoints.direct_bootstrap, name, 2)
    return name


def _ledger(run_dir: Path) -> list[dict]:
    table = pq.read_table(run_dir / LEDGER_FILE)
    assert table.schema.equals(SCHEMA)
    assert not (run_dir / PARTS_DIR).exists() or not any((run_dir / PARTS_DIR).iterdir())
    return table.to_pylist()


def _consume(bootstrap: str, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    consumer.assign([TopicPartition(topic, p) for p in (0, 1)])
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records


def test_thousand_events_at_500_eps_are_acked_in_per_device_order(
        stack: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic, seed=11,
                        client=CLIENT)
    progress: list[dict] = []
    summary = producer.run(tmp_path, rate_eps=500, count=1000, on_progress=progress.append)
    assert summary["scheduled"] == summary["sent"] == summary["acked"] == 1000
    assert summary["failed"] == 0 and summary["interrupted"] is None
    assert 450 <= summary["achieved_eps"] <= 550
    assert progress and progress[0]["sent"] > 0
    rows = _ledger(tmp_path)
    assert len(rows) == 1000 and all(r["error"] is None for r in rows)
    assert all(r["partition"] in (0, 1) and r["offset"] >= 0 for r in rows)
    assert all(r["scheduled_ts"] <= r["send_ts"] <= r["ack_ts"] for r in rows)
    scheduled = sorted(r["scheduled_ts"] for r in rows)
    assert scheduled[-1] - scheduled[0] == pytest.approx(999 / 500, abs=1e-3)

    records = _consume(stack.endpoints.direct_bootstrap, topic, 1000)
    assert len(records) == 1000
    by_id = {r["event_id"]: r for r in rows}
    seqs: dict[str, list[int]] = {}
    for record in records:  # per partition, in offset order
        import json

        message = json.loads(record.value)
        row = by_id[message["event_id"]]
        assert (record.partition, record.offset) == (row["partition"], row["offset"])
        assert record.key.decode() == message["device_id"] == row["device_id"]
        assert "is_anomaly" not in message and "truth_kind" not in message
        seqs.setdefault(message["device_id"], []).append(message["seq"])
    assert len(seqs) == 10
    assert all(s == list(range(1, 101)) for s in seqs.values())


def test_a_three_second_partition_is_survived_by_retries(
        stack: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                        delivery_timeout_s=60, client=CLIENT)
    cut = threading.Timer(1.0, stack.links.set_enabled, ("producer-kafka", False))
    heal = threading.Timer(4.0, stack.links.set_enabled, ("producer-kafka", True))
    cut.start(), heal.start()
    try:
        summary = producer.run(tmp_path, rate_eps=300, count=1500)
    finally:
        cut.cancel(), heal.join()
    assert summary["acked"] == 1500 and summary["failed"] == 0
    rows = _ledger(tmp_path)
    assert all(r["error"] is None and r["offset"] is not None for r in rows)
    # The outage shows: events sent while the link was down waited seconds for their ack,
    # and every event's publish delay (send - scheduled) is recorded.
    ack_latency = [r["ack_ts"] - r["send_ts"] for r in rows]
    assert max(ack_latency) > 2.0
    assert summary["ack_latency_ms"]["max"] > 2000
    assert all(math.isfinite(r["send_ts"] - r["scheduled_ts"]) for r in rows)
    assert summary["publish_delay_ms"]["p99"] is not None


def test_a_lasting_partition_records_unacked_events_and_writes_the_ledger(
        stack: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                        delivery_timeout_s=5, close_timeout_s=2, client=CLIENT)
    cut = threading.Timer(1.0, stack.links.set_enabled, ("producer-kafka", False))
    cut.start()
    started = time.monotonic()
    try:
        summary = producer.run(tmp_path, rate_eps=300, count=900)
    finally:
        cut.join()
        stack.links.set_enabled("producer-kafka", True)
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


def test_two_worker_processes_split_the_fleet(
        stack: NativeStack, topic: str, tmp_path: Path) -> None:
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                        thermostats=3, motion_sensors=3, seed=5, processes=2, client=CLIENT)
    summary = producer.run(tmp_path, rate_eps=1000, count=1200)
    assert summary["acked"] == 1200 and summary["processes"] == 2
    rows = _ledger(tmp_path)
    alone = Producer(thermostats=3, motion_sensors=3, seed=5).fleet.build()
    expected = sorted(alone.next_event(i % 6, 0.0).event_id for i in range(1200))
    assert sorted(r["event_id"] for r in rows) == expected


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_still_writes_the_ledger(
        stack: NativeStack, topic: str, tmp_path: Path, signum: int, code: int) -> None:
    command = [sys.executable, "-m", "system.producer.cli", "--rate", "200", "--duration",
               "60", "--bootstrap", stack.endpoints.producer_bootstrap, "--topic", topic,
               "--out", str(tmp_path)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("sent") and "acked" in line:
            break
    time.sleep(1.5)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == code, "".join(lines) + output
    rows = _ledger(tmp_path)
    assert 300 <= len(rows) <= 1500
    assert all(r["error"] is None or r["error"].startswith("unacked: ") for r in rows)
    assert sum(r["error"] is None for r in rows) >= 300
    assert (tmp_path / "produce-summary.json").exists()


# ------------------------------------------------------------------ delivery knobs

def test_acks_0_acks_locally_with_offset_minus_1_and_acks_1_with_real_offsets(
        stack: NativeStack, topic: str, tmp_path: Path) -> None:
    fire_and_forget = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                               seed=3, acks="0", idempotence=False, run_id="acks0", client=CLIENT)
    summary = fire_and_forget.run(tmp_path / "acks0", rate_eps=500, count=400)
    assert summary["acked"] == 400 and summary["acks"] == "0"
    rows = _ledger(tmp_path / "acks0")
    assert all(math.isfinite(r["ack_ts"]) and r["error"] is None for r in rows)
    assert {r["offset"] for r in rows} == {-1}
    records = _consume(stack.endpoints.direct_bootstrap, topic, 400)
    assert len(records) == 400  # nothing was lost on a healthy link, only never confirmed

    leader_only = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic,
                           seed=3, acks="1", idempotence=False, run_id="acks1", client=CLIENT)
    leader_only.run(tmp_path / "acks1", rate_eps=500, count=400)
    rows = _ledger(tmp_path / "acks1")
    assert all(r["error"] is None and r["offset"] >= 0 for r in rows)
    assert not {r["event_id"] for r in rows} & {r["event_id"] for r in _ledger(
        tmp_path / "acks0")}, "two run ids, one seed: disjoint event ids"


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_sync_send_waits_for_each_ack_before_the_next_send(
        stack: NativeStack, topic: str, tmp_path: Path, client: str) -> None:
    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, topic=topic, seed=4,
                        acks="1", idempotence=False, sync_send=True, client=client,
                        run_id=f"sync-{client}")
    summary = producer.run(tmp_path / client, rate_eps=2000, count=200)
    assert summary["acked"] == 200
    rows = sorted(_ledger(tmp_path / client), key=lambda r: r["send_ts"])
    assert all(r["error"] is None and r["offset"] >= 0 for r in rows)
    # One record in flight at a time: every send comes after the previous record's ack.
    overlaps = [(a["event_id"], b["event_id"]) for a, b in itertools.pairwise(rows)
                if b["send_ts"] < a["ack_ts"]]
    assert overlaps == []


@pytest.mark.parametrize("acks", ["0", "1"])
def test_idempotence_without_acks_all_is_refused_before_connecting(acks: str,
                                                                   tmp_path: Path) -> None:
    with pytest.raises(ProducerError, match="idempotence true requires acks all"):
        Producer(bootstrap="127.0.0.1:1", acks=acks)
    command = [sys.executable, "-m", "system.producer.cli", "--count", "1", "--acks", acks,
               "--bootstrap", "127.0.0.1:1", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "idempotence true requires acks all" in done.stderr
    assert "--no-idempotence" in subprocess.run(
        [sys.executable, "-m", "system.producer.cli", "--help"], cwd=REPO,
        capture_output=True, text=True, timeout=60).stdout
