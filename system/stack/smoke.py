"""Prove each service of a running stack with its real client, through its link."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from system.config import Endpoints
from system.stack import spark
from system.stack.links import Links
from system.store_contract import DATABASE


@dataclass
class Check:
    service: str
    ok: bool
    detail: str


def kafka_roundtrip(endpoints: Endpoints, topic: str, count: int = 20) -> Check:
    """Produce through ``producer-kafka``, consume through ``spark-kafka``."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.structs import TopicPartition

    tag = uuid.uuid4().hex
    producer = KafkaProducer(bootstrap_servers=endpoints.producer_bootstrap, acks="all",
                             value_serializer=lambda v: json.dumps(v).encode())
    metas = [producer.send(topic, {"smoke": tag, "n": i}).get(timeout=30) for i in range(count)]
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=endpoints.spark_bootstrap,
                             consumer_timeout_ms=10_000, enable_auto_commit=False)
    parts = {m.partition for m in metas}
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    for m in metas:
        consumer.seek(TopicPartition(topic, m.partition), min(
            x.offset for x in metas if x.partition == m.partition))
    seen = 0
    append_time = True
    for record in consumer:
        if json.loads(record.value).get("smoke") == tag:
            seen += 1
            append_time &= record.timestamp_type == 1  # 1 = LogAppendTime
        if seen == count:
            break
    consumer.close()
    ok = seen == count and append_time
    return Check("kafka", ok, f"{seen}/{count} messages producer-kafka → spark-kafka, "
                              f"LogAppendTime={'yes' if append_time else 'no'}")


def mongo_roundtrip(endpoints: Endpoints) -> Check:
    from pymongo import MongoClient

    tag = uuid.uuid4().hex
    writer = MongoClient(endpoints.spark_mongo_uri, serverSelectionTimeoutMS=5000)
    reader = MongoClient(endpoints.dashboard_mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        writer[DATABASE]["smoke"].insert_one({"_id": tag, "at": time.time()})
        found = reader[DATABASE]["smoke"].find_one({"_id": tag})
        writer[DATABASE]["smoke"].delete_one({"_id": tag})
        version = reader.server_info().get("version", "?")
    finally:
        writer.close()
        reader.close()
    return Check("mongo", found is not None,
                 f"write via spark-mongo, read via dashboard-mongo (server {version})")


def spark_cluster(endpoints: Endpoints, workers: int) -> Check:
    state = spark.master_state(endpoints.spark_master_ui)
    alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
    cores = sum(w.get("cores", 0) for w in alive)
    return Check("spark", len(alive) >= workers,
                 f"master {state.get('status')}, {len(alive)} worker(s), {cores} core(s)")


def toxiproxy_links(links: Links) -> Check:
    proxies = links.proxies()
    enabled = sorted(n for n, p in proxies.items() if p["enabled"])
    return Check("toxiproxy", len(enabled) == 4,
                 f"{links.version()}; links: " + ", ".join(
                     f"{n} {proxies[n]['listen']}→{proxies[n]['upstream']}" for n in enabled))


def dashboard(endpoints: Endpoints) -> Check:
    import urllib.request

    with urllib.request.urlopen(f"{endpoints.dashboard_url}/api/stats", timeout=10) as resp:
        body = json.loads(resp.read())
    return Check("dashboard", resp.status == 200 and "total" in body,
                 f"GET /api/stats → {resp.status} {body}")


def run_all(endpoints: Endpoints, links: Links, topic: str, workers: int,
            with_dashboard: bool, log: Callable[[str], None] = print) -> list[Check]:
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("toxiproxy", lambda: toxiproxy_links(links)),
        ("kafka", lambda: kafka_roundtrip(endpoints, topic)),
        ("mongo", lambda: mongo_roundtrip(endpoints)),
        ("spark", lambda: spark_cluster(endpoints, workers)),
    ]
    if with_dashboard:
        checks.append(("dashboard", lambda: dashboard(endpoints)))
    results = []
    for name, check in checks:
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, not raised
            result = Check(name, False, f"{type(exc).__name__}: {exc}")
        log(f"  {'ok  ' if result.ok else 'FAIL'} {result.service:<10} {result.detail}")
        results.append(result)
    return results
