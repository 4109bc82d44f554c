"""Benchmark (recorded, not asserted): the dashboard API under Locust with N events stored.

    python -m benchmarks.api_load --events 1000000 --users 50 --run-time 60

Starts a native stack of its own (``IOTBENCH_PORT_OFFSET``, default 5000 here), stores N
events through the stack's direct Mongo port following the processor's contract
(``processed_data`` + ``device_stats`` + ``recent_events``, 5 000 per ``insert_many``), then
runs 50 closed-loop Locust users spread evenly over ``/api/stats``, ``/api/chart-data``,
``/api/data`` and ``/api/noop`` (``load/endpoint_users.py``) and writes requests/s and p95 per
endpoint to ``benchmarks/results/api-load-<N>.json``. Goal of the issue: ``/api/stats`` p95
≤ 50 ms and ≥ 0.5 × the no-op's requests/s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from system.processor import views
from system.store_contract import DATABASE, DEVICE_STATS, PROCESSED, RECENT

RESULTS = Path(__file__).resolve().parent / "results"
BASE_TIME = datetime(2025, 10, 16, 0, 0, 0, tzinfo=timezone.utc)
THERMOSTATS = tuple(f"thermostat-{i:02d}" for i in range(1, 11))
MOTION_SENSORS = tuple(f"motion-sensor-{i:02d}" for i in range(1, 6))
BATCH = 5_000
ENDPOINT_CLASSES = ["StatsUser", "ChartDataUser", "DataUser", "NoopUser"]


def contract_events(count: int, rng: random.Random, start: int = 0) -> Iterator[dict[str, Any]]:
    """Events as the processor stores them (tests/system/dashboard/conftest.py make_events),
    10 ms apart, devices interleaved."""
    devices = THERMOSTATS + MOTION_SENSORS
    for i in range(start, start + count):
        device_id = devices[rng.randrange(len(devices))]
        event_time = BASE_TIME + timedelta(milliseconds=10 * i)
        stored = event_time + timedelta(milliseconds=300)
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        doc: dict[str, Any] = {
            "_id": event_id, "event_id": event_id, "device_id": device_id, "seq": i,
            "timestamp": event_time.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
            "event_time": event_time, "detector": "threshold", "anomaly_score": None,
            "kafka_partition": 0, "kafka_offset": i,
            "kafka_ts": event_time + timedelta(milliseconds=5),
            "processing_start": stored - timedelta(milliseconds=100), "written_at": stored,
        }
        if device_id.startswith("thermostat"):
            spike = rng.random() < 0.05
            temperature = round(rng.uniform(36, 45) if spike else rng.gauss(22, 2.5), 2)
            doc.update(device_type="thermostat", temperature_celsius=temperature,
                       humidity_percent=round(rng.uniform(30, 60), 2),
                       is_anomaly=temperature > 35.0)
        else:
            doc.update(device_type="motion", motion_detected=rng.random() < 0.3,
                       camera_status="online", is_anomaly=False)
        yield doc


class ContractWriter:
    """Inserts events in batches and keeps device_stats / recent_events as the processor does."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stats: dict[str, dict[str, Any]] = {}
        self.recent: dict[str, deque[dict[str, Any]]] = {}
        self.recent_anomalies: dict[str, deque[dict[str, Any]]] = {}

    def add(self, events: list[dict[str, Any]]) -> None:
        self.db[PROCESSED].insert_many(events, ordered=False)
        views.add_device_stats(self.stats, events)
        for e in events:
            self.recent.setdefault(e["device_id"], deque(maxlen=views.RECENT_PER_DEVICE)
                                   ).append(e)
            if e["is_anomaly"]:
                self.recent_anomalies.setdefault(
                    e["device_id"], deque(maxlen=views.ANOMALIES_PER_DEVICE)).append(e)

    def finish(self) -> None:
        """Write the two small views (replacing any earlier ones)."""
        self.db[DEVICE_STATS].delete_many({})
        self.db[DEVICE_STATS].insert_many(list(self.stats.values()))
        self.db[RECENT].delete_many({})
        self.db[RECENT].insert_many(views.documents_for([
            e for device, events in self.recent.items()
            for e in (*events, *self.recent_anomalies.get(device, []))]))


def seed(mongo_uri: str, count: int, seed_value: int = 20251016, batch: int = BATCH,
         log: Any = print) -> dict[str, float]:
    """Store ``count`` events; returns timing figures."""
    rng = random.Random(seed_value)
    with MongoClient(mongo_uri, tz_aware=True) as client:
        writer = ContractWriter(client[DATABASE])
        started = time.monotonic()
        done = 0
        pending: list[dict[str, Any]] = []
        for event in contract_events(count, rng):
            pending.append(event)
            if len(pending) == batch:
                writer.add(pending)
                done += len(pending)
                pending = []
                if done % (batch * 20) == 0:
                    rate = done / (time.monotonic() - started)
                    log(f"  stored {done:,} events ({rate:,.0f}/s)")
        if pending:
            writer.add(pending)
        writer.finish()
        took = time.monotonic() - started
    return {"events": count, "seconds": round(took, 1), "events_per_s": round(count / took, 1)}


def endpoint_figures(stats_csv: Path) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    with stats_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"] if row["Type"] else "Aggregated"
            figures[name] = {"requests": int(row["Request Count"]),
                             "failures": int(row["Failure Count"]),
                             "rps": round(float(row["Requests/s"]), 1),
                             "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]),
                             "p99_ms": _ms(row["99%"])}
    return figures


def _ms(cell: str) -> float | None:
    return None if cell in ("", "N/A") else float(cell)


def run_locust(dashboard_url: str, out: Path, users: int, run_time_s: float,
               wait_s: float = 0.0) -> dict[str, Any]:
    from load.handle import LoadHandle, load_command

    command = load_command(dashboard_url, out, users=users, spawn_rate=users,
                           run_time_s=run_time_s, module="load.endpoint_users",
                           classes=ENDPOINT_CLASSES)
    handle = LoadHandle(command, out, {"IOTBENCH_ENDPOINT_WAIT_S": str(wait_s)})
    code = handle.wait(run_time_s + 60)
    if code is None:
        code = handle.stop()
    if code != 0:
        raise RuntimeError(f"Locust exited {code}; log tail:\n{handle.tail()}")
    return endpoint_figures(out / "locust_stats.csv")


def verdict(endpoints: dict[str, dict[str, Any]]) -> dict[str, Any]:
    stats, noop = endpoints.get("/api/stats", {}), endpoints.get("/api/noop", {})
    ratio = stats["rps"] / noop["rps"] if stats.get("rps") and noop.get("rps") else None
    return {"stats_p95_ms": stats.get("p95_ms"), "stats_rps_vs_noop": ratio and round(ratio, 3),
            "goal_p95_le_50ms": stats.get("p95_ms") is not None and stats["p95_ms"] <= 50,
            "goal_rps_ge_half_noop": ratio is not None and ratio >= 0.5}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--run-time", type=float, default=60.0)
    p.add_argument("--paced-wait", type=float, default=1.0,
                   help="second run: each user waits this long between requests (0: skip)")
    p.add_argument("--home", type=Path, default=None, help="stack state dir (default: a tmp dir)")
    args = p.parse_args(argv)
    os.environ.setdefault("IOTBENCH_PORT_OFFSET", "5000")
    from system.config import Ports
    from system.stack.native import NativeStack, StackConfig

    home = args.home or Path(tempfile.mkdtemp(prefix="iotbench-api-load-")) / "stack"
    stack = NativeStack(StackConfig(partitions=1, workers=1, dashboard=True), home=home,
                        ports=Ports.from_env())
    stack.up()
    try:
        print(f"storing {args.events:,} events in 5k batches …")
        seeding = seed(stack.endpoints.direct_mongo_uri, args.events)
        print(f"stored in {seeding['seconds']} s ({seeding['events_per_s']:,.0f}/s)")
        url = stack.endpoints.dashboard_url
        print(f"closed loop: {args.users} users, no think time, {args.run_time:g} s …")
        endpoints = run_locust(url, home.parent / "locust-closed", args.users, args.run_time)
        paced = None
        if args.paced_wait > 0:
            print(f"paced: {args.users} users, {args.paced_wait:g} s apart …")
            paced = run_locust(url, home.parent / "locust-paced", args.users, args.run_time,
                               args.paced_wait)
    finally:
        stack.down()
    result = {"events": args.events, "users": args.users, "run_time_s": args.run_time,
              "cpus": os.cpu_count(), "seeding": seeding,
              "closed_loop": {"endpoints": endpoints, "verdict": verdict(endpoints)},
              "paced": paced and {"wait_s": args.paced_wait, "endpoints": paced,
                                  "verdict": verdict(paced)},
              "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"api-load-{args.events}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"recorded → {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
