"""Helpers for the processor tests: device messages, a Kafka producer that records acks,
the job as a subprocess, and waits with deadlines (never bare sleeps)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from system.stack import kafka as kafka_admin
from system.stack.native import NativeStack
from system.stack.spark import spark_env

ROOT = Path(__file__).resolve().parents[3]
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)
MB = 1024 * 1024


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(device_id: str, seq: int, ts: datetime, **fields: Any) -> dict[str, Any]:
    """A valid device message as ``schema.py`` expects it."""
    return {"event_id": uuid.uuid4().hex, "device_id": device_id, "seq": seq,
            "timestamp": iso(ts), **fields}


@dataclass
class Fleet:
    """Thermostats with a baseline + noise and motion sensors; anomalies are injected by
    the caller through ``overrides`` (device_id -> seq -> temperature)."""

    thermostats: int = 5
    motion_sensors: int = 5
    seed: int = 7
    overrides: dict[str, dict[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.seqs: dict[str, int] = {}
        self.baselines = {f"thermostat-{i:02d}": 19.0 + i for i in range(1, self.thermostats + 1)}
        self.ids = [*self.baselines,
                    *(f"motion-sensor-{i:02d}" for i in range(1, self.motion_sensors + 1))]

    def reading(self, device_id: str) -> dict[str, Any]:
        seq = self.seqs.get(device_id, 0) + 1
        self.seqs[device_id] = seq
        ts = BASE_TIME + timedelta(seconds=seq)
        if device_id.startswith("thermostat-"):
            temp = self.overrides.get(device_id, {}).get(seq)
            if temp is None:
                temp = round(self.baselines[device_id] + self.rng.gauss(0.0, 0.3), 2)
            return message(device_id, seq, ts, temperature_celsius=temp,
                           humidity_percent=round(45 + self.rng.gauss(0, 2), 2))
        return message(device_id, seq, ts, motion_detected=self.rng.random() < 0.3,
                       camera_status="online" if self.rng.random() > 0.02 else "offline")

    def events(self, n: int) -> list[dict[str, Any]]:
        """``n`` readings, round-robin over the fleet."""
        return [self.reading(self.ids[i % len(self.ids)]) for i in range(n)]


class Sender:
    """kafka-python producer keyed by device through the producer-kafka link, acks=all;
    ``acked`` holds the event ids the broker acknowledged."""

    def __init__(self, bootstrap: str, topic: str, **kw: Any) -> None:
        from kafka import KafkaProducer

        self.topic = topic
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                      retries=10, **kw)
        self.acked: list[str] = []
        self.failed: list[str] = []

    def send(self, event: dict[str, Any]) -> None:
        future = self.producer.send(self.topic, key=event["device_id"].encode(),
                                    value=json.dumps(event).encode())
        eid = event["event_id"]
        future.add_callback(lambda _m: self.acked.append(eid))
        future.add_errback(lambda _e: self.failed.append(eid))

    def send_raw(self, value: bytes, key: bytes = b"junk") -> tuple[int, int]:
        """Send one record as is; returns its (partition, offset)."""
        meta = self.producer.send(self.topic, key=key, value=value).get(timeout=30)
        return meta.partition, meta.offset

    def send_all(self, events: Iterable[dict[str, Any]]) -> None:
        for e in events:
            self.send(e)
        self.flush()

    def flush(self) -> None:
        self.producer.flush(timeout=60)

    def close(self) -> None:
        self.producer.close(timeout=30)


def fresh_topic(stack: NativeStack, prefix: str, partitions: int = 2) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topic(stack.endpoints.direct_bootstrap, topic, partitions)
    return topic


def job_command(stack: NativeStack, topic: str, database: str, work: Path,
                *extra: str, master: str | None = None) -> list[str]:
    e = stack.endpoints
    return [sys.executable, "-m", "system.processor.job",
            "--master", master or e.spark_master_url, "--bootstrap", e.spark_bootstrap,
            "--mongo-uri", e.spark_mongo_uri, "--topic", topic, "--database", database,
            "--checkpoint", str(work / "ckpt"), "--progress", str(work / "progress.jsonl"),
            "--batch-timings", str(work / "batch_timings.jsonl"), "--trigger-ms", "500", *extra]


class Job:
    """The Spark driver as a subprocess; its output goes to ``work``/driver-N.log."""

    def __init__(self, stack: NativeStack, cmd: list[str], work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        n = len(list(work.glob("driver-*.log")))
        self.log = work / f"driver-{n}.log"
        self.stack = stack
        self._out = open(self.log, "w")  # noqa: SIM115 - open for the driver's lifetime
        # Own process group: kill9() takes the Python driver and its JVM down together.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT,
                                     env={**os.environ, **spark_env(work / "spark")},
                                     start_new_session=True)

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._out.close()

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (graceful stop), then SIGKILL if it hangs."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._out.close()
        wait_master_idle(self.stack)
        return self.proc.returncode

    def kill9(self) -> None:
        """A crash: SIGKILL to the driver's whole process group (Python + driver JVM)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._out.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5,
             job: Job | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        if job is not None and not job.alive():
            raise AssertionError(f"driver exited ({job.proc.returncode}) while waiting for "
                                 f"{what}:\n{job.tail()}")
        time.sleep(interval)
    tail = f"\n{job.tail()}" if job is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} "
                         f"(last: {last!r}){tail}")


def master_json(stack: NativeStack) -> dict[str, Any]:
    with urllib.request.urlopen(f"{stack.endpoints.spark_master_ui}/json/", timeout=5) as r:
        return json.loads(r.read())


def wait_master_idle(stack: NativeStack, timeout: float = 90) -> None:
    """The 1-core worker holds one application: wait until the master has none running."""
    wait_for("the Spark master to free the executor",
             lambda: not master_json(stack).get("activeapps"), timeout)


def count(db: Any, collection: str = "processed_data", query: dict | None = None) -> int:
    return db[collection].count_documents(query or {})


def progress_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_counts(db: Any) -> dict[str, int]:
    """How often each stored event was written: the first write plus every replay the
    sink absorbed (noted in ``replays``; older sinks kept a ``write_count`` field)."""
    replays = Counter(r["event_id"] for r in db.replays.find({}, {"event_id": 1}))
    return {d["_id"]: d.get("write_count", 1 + replays.get(d["_id"], 0))
            for d in db.processed_data.find({}, {"_id": 1, "write_count": 1})}


def malformed_records() -> list[tuple[str, bytes]]:
    """(expected reason kind, raw value) of records the sink must dead-letter."""
    good = json.loads(json.dumps(Fleet(1, 0, seed=3).reading("thermostat-01")))

    def variant(**changes: Any) -> bytes:
        record = {**good, "event_id": uuid.uuid4().hex, **changes}
        return json.dumps({k: v for k, v in record.items() if v is not ...}).encode()

    return [
        ("invalid JSON", b'{"device_id": "thermostat-01", "seq": '),
        ("invalid JSON", b"\xff\xfe not utf-8"),
        ("not an object", b"[1, 2, 3]"),
        ("wrong type", variant(temperature_celsius="hot")),
        ("wrong type", variant(seq="7")),
        ("wrong type", variant(humidity_percent=True)),
        ("wrong type", variant(timestamp="yesterday")),
        ("missing field", variant(timestamp=...)),
        ("missing field", variant(temperature_celsius=None)),
        ("unknown device", variant(device_id="toaster-01")),
        ("out of range", variant(temperature_celsius=1e6)),
        ("out of range", variant(humidity_percent=-5.0)),
        ("oversized", variant(padding="x" * MB)),
    ]


def produce_steadily(sender: Sender, fleet: Fleet, rate: int, seconds: int,
                      done: threading.Event) -> None:
    try:
        t0 = time.monotonic()
        for i in range(rate * seconds):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the open-loop schedule, not waiting on a condition
            sender.send(fleet.reading(fleet.ids[i % len(fleet.ids)]))
        sender.flush()
    finally:
        done.set()


def db_name(tag: str) -> str:
    return f"proc_{tag}_{uuid.uuid4().hex[:6]}"


def episode(db: Any, device: str, start: int, length: int) -> list[dict[str, Any]]:
    """A device's stored readings with ``start <= seq < start + length``, by seq."""
    return list(db.processed_data.find(
        {"device_id": device, "seq": {"$gte": start, "$lt": start + length}}).sort("seq", 1))


def stats_from_documents(db: Any) -> dict[str, dict[str, Any]]:
    """device_stats as computed independently from ``processed_data``."""
    expected: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "anomalies": 0, "temp_sum": 0.0, "temp_count": 0, "last": None})
    for d in db.processed_data.find():
        s = expected[d["device_id"]]
        s["count"] += 1
        s["anomalies"] += int(d["is_anomaly"])
        if d.get("temperature_celsius") is not None:
            s["temp_sum"] += d["temperature_celsius"]
            s["temp_count"] += 1
        s["last"] = max(s["last"] or d["event_time"], d["event_time"])
    return dict(expected)
