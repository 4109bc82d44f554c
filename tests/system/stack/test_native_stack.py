"""The native stack, for real: Kafka through its proxied listeners, Toxiproxy faults,
Mongo through both links, a Structured Streaming query through the Kafka connector."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError
from kafka.structs import TopicPartition
from pymongo import MongoClient

from system.config import TOPIC
from system.stack import kafka as kafka_admin
from system.stack.native import NativeStack
from system.stack.spark import spark_env
from system.store_contract import DATABASE

JOB = Path(__file__).with_name("spark_count_job.py")


def _producer(bootstrap: str, **kw: object) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, **{"acks": "all", "linger_ms": 0, **kw})


def _ack_latencies_ms(producer: KafkaProducer, topic: str, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        producer.send(topic, f"ping-{i}".encode()).get(timeout=30)
        out.append((time.perf_counter() - t) * 1000)
    return out


def test_kafka_messages_cross_both_links_with_append_times(stack: NativeStack) -> None:
    e = stack.endpoints
    tag = uuid.uuid4().hex.encode()
    before = time.time() * 1000
    producer = _producer(e.producer_bootstrap)
    metas = [producer.send(TOPIC, key=str(i).encode(), value=tag).get(timeout=30)
             for i in range(200)]
    producer.close()
    after = time.time() * 1000

    consumer = KafkaConsumer(bootstrap_servers=e.spark_bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=15_000)
    parts = sorted({m.partition for m in metas})
    consumer.assign([TopicPartition(TOPIC, p) for p in parts])
    for p in parts:
        consumer.seek(TopicPartition(TOPIC, p), min(m.offset for m in metas if m.partition == p))
    got = [r for r in consumer if r.value == tag]
    consumer.close()

    assert len(got) == 200
    assert {r.timestamp_type for r in got} == {1}, "records must carry LogAppendTime"
    assert all(before - 5 <= r.timestamp <= after + 5 for r in got)


def test_metadata_advertises_the_proxies_not_the_broker(stack: NativeStack) -> None:
    """After bootstrap a client must still talk through the link's proxy."""
    from kafka import KafkaAdminClient

    for bootstrap, port in ((stack.endpoints.producer_bootstrap, stack.ports.producer_kafka),
                            (stack.endpoints.spark_bootstrap, stack.ports.spark_kafka)):
        client = KafkaAdminClient(bootstrap_servers=bootstrap)
        brokers = client.describe_cluster()["brokers"]
        client.close()
        assert [(b["host"], b["port"]) for b in brokers] == [("127.0.0.1", port)]


def test_latency_toxic_raises_ack_latency(healed: NativeStack) -> None:
    producer = _producer(healed.endpoints.producer_bootstrap)
    _ack_latencies_ms(producer, TOPIC, 5)  # warm the connection
    baseline = statistics.median(_ack_latencies_ms(producer, TOPIC, 15))
    healed.links.add_toxic("producer-kafka", "latency", {"latency": 300, "jitter": 0})
    slowed = _ack_latencies_ms(producer, TOPIC, 10)
    healed.links.reset()
    producer.close()
    assert min(slowed) >= 300
    assert statistics.median(slowed) - baseline >= 295


def test_disabled_link_blocks_producers_but_not_direct_clients(healed: NativeStack) -> None:
    e = healed.endpoints
    proxied = _producer(e.producer_bootstrap, request_timeout_ms=2000,
                        delivery_timeout_ms=4000, max_block_ms=4000, retries=0)
    proxied.send(TOPIC, b"before").get(timeout=30)

    healed.links.set_enabled("producer-kafka", False)
    with pytest.raises(KafkaTimeoutError):
        proxied.send(TOPIC, b"during").get(timeout=8)
    proxied.close(timeout=2)
    direct = _producer(e.direct_bootstrap)
    assert direct.send(TOPIC, b"direct").get(timeout=30).offset >= 0
    direct.close()

    healed.links.set_enabled("producer-kafka", True)
    again = _producer(e.producer_bootstrap)
    assert again.send(TOPIC, b"after").get(timeout=30).offset >= 0
    again.close()


def test_mongo_through_both_links(stack: NativeStack) -> None:
    doc_id = uuid.uuid4().hex
    writer = MongoClient(stack.endpoints.spark_mongo_uri, serverSelectionTimeoutMS=5000)
    reader = MongoClient(stack.endpoints.dashboard_mongo_uri, serverSelectionTimeoutMS=5000)
    writer[DATABASE]["stack_test"].insert_one({"_id": doc_id, "temperature_celsius": 21.5})
    found = reader[DATABASE]["stack_test"].find_one({"_id": doc_id})
    writer.close()
    reader.close()
    assert found == {"_id": doc_id, "temperature_celsius": 21.5}


def test_structured_streaming_reads_through_the_connector(stack: NativeStack,
                                                          tmp_path: Path) -> None:
    e = stack.endpoints
    topic = f"spark-smoke-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topic(e.direct_bootstrap, topic, 2)
    producer = _producer(e.producer_bootstrap, linger_ms=5)
    futures = [producer.send(topic, key=str(i % 7).encode(), value=json.dumps({"n": i}).encode())
               for i in range(500)]
    producer.flush()
    assert all(f.get(timeout=30).offset >= 0 for f in futures)
    producer.close()

    done = subprocess.run(
        [sys.executable, str(JOB), e.spark_master_url, e.spark_bootstrap, topic,
         str(tmp_path / "checkpoint")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **spark_env(tmp_path), "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"count": 500, "master": e.spark_master_url}
