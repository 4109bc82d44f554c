"""``python -m benchmarks.sink_path``: the sink's write path alone, step by step.

Calls ``system.processor.sink.write_partition`` in this process (no Spark, no Kafka) with
Row-like records of valid device messages, ``--slice`` rows a call — one Kafka partition's
slice of a micro-batch — into a fresh database through the stack's ``spark-mongo`` link, and
records per step (validate, detect, each Mongo operation) the µs it cost per event, the
events/s of the whole path, and the CPU seconds the Mongo-wire server and PostgreSQL spent
(read from the running native stack's processes). Figures are recorded, never asserted::

    python -m benchmarks.sink_path --out benchmarks/results/sink-path-now.json
    git worktree add /tmp/before <commit>
    python -m benchmarks.sink_path --repo /tmp/before --out .../sink-path-before.json

``--repo`` measures another checkout's sink (its ``system`` package) with this harness, in a
child process, so two versions are compared on one stack in one sitting. This file imports
nothing of ``benchmarks`` for that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

Row = namedtuple("Row", "value partition offset timestamp")
BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)
SERVICES = ("mongo", "postgres")
"""The stack services whose CPU the path costs (beside this process)."""


def device_messages(n: int, devices: int = 20, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """(key, value) of ``n`` valid device messages, round-robin over the fleet."""
    rng = random.Random(seed)
    ids = [f"thermostat-{i:02d}" for i in range(1, devices // 2 + 1)] + \
          [f"motion-sensor-{i:02d}" for i in range(1, devices - devices // 2 + 1)]
    seqs = dict.fromkeys(ids, 0)
    out = []
    for i in range(n):
        device = ids[i % len(ids)]
        seqs[device] += 1
        ts = (BASE_TIME + timedelta(seconds=seqs[device])).isoformat().replace("+00:00", "Z")
        msg: dict[str, Any] = {"event_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                               "device_id": device, "seq": seqs[device], "timestamp": ts}
        if device.startswith("thermostat"):
            msg |= {"temperature_celsius": round(21 + rng.gauss(0, 0.5), 2),
                    "humidity_percent": round(45 + rng.gauss(0, 2), 2)}
        else:
            msg |= {"motion_detected": rng.random() < 0.3, "camera_status": "online"}
        out.append((device.encode(), json.dumps(msg).encode()))
    return out


def rows(n: int, partition: int = 0) -> list[Row]:
    """``n`` records of one Kafka partition, offsets from 0, as Spark hands them over."""
    now = datetime.now()
    return [Row(value, partition, i, now) for i, (_, value) in enumerate(device_messages(n))]


def measure(uri: str, *, events: int = 20_000, slice_rows: int = 2_000) -> dict[str, Any]:
    """Write ``events`` in slices of ``slice_rows`` into a fresh database (dropped after)."""
    from pymongo import MongoClient

    from system.processor.sink import SinkConfig, write_partition

    database = f"sinkpath_{uuid.uuid4().hex[:6]}"
    config = SinkConfig(mongo_uri=uri, database=database)
    records = rows(events)
    steps: dict[str, dict[str, float]] = {}
    cpu0, started = time.process_time(), time.monotonic()
    try:
        for i in range(0, events, slice_rows):
            timings = write_partition(iter(records[i:i + slice_rows]), config)
            for name, step in timings["steps"].items():
                total = steps.setdefault(name, {"calls": 0, "ms": 0.0})
                total["calls"] += step["calls"]
                total["ms"] += step["ms"]
        wall = time.monotonic() - started
        client_cpu = time.process_time() - cpu0
        lookup_ms = _lookup_ms(uri, database, records)
    finally:
        with MongoClient(uri) as client:
            client.drop_database(database)
    slices = -(-events // slice_rows)
    return {"events": events, "slice_rows": slice_rows, "slices": slices,
            "eps": round(events / wall), "wall_s": round(wall, 2),
            "client_cpu_s": round(client_cpu, 2),
            "id_lookup_ms_median": lookup_ms,
            "us_per_event": {name: round(s["ms"] * 1000 / events, 1) for name, s in
                             sorted(steps.items(), key=lambda kv: -kv[1]["ms"])},
            "calls_per_slice": {name: round(s["calls"] / slices, 2)
                                for name, s in steps.items()
                                if name not in ("read", "validate", "detect")}}


def _lookup_ms(uri: str, database: str, records: list[Row], lookups: int = 100) -> float:
    """Median ms of one ``find_one({_id})`` of a stored event (what the dashboard's lookup
    by event id costs at this collection's size)."""
    from pymongo import MongoClient

    from system.store_contract import PROCESSED

    step = max(1, len(records) // lookups)
    ids = [json.loads(r.value)["event_id"] for r in records[::step]][:lookups]
    times = []
    with MongoClient(uri) as client:
        collection = client[database][PROCESSED]
        for event_id in ids:
            t0 = time.perf_counter()
            collection.find_one({"_id": event_id})
            times.append((time.perf_counter() - t0) * 1000)
    return round(sorted(times)[len(times) // 2], 2)


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service's process tree."""
    import psutil

    out = {}
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        total = 0.0
        for proc in tree:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        out[name] = total
    return out


def _stack_pids() -> dict[str, int]:
    from system.stack.native import NativeStack

    stack = NativeStack.attach(log=lambda _line: None)
    if stack is None:
        return {}
    return {r.name: r.pid for r in stack.state.processes if r.name in SERVICES}


def run(uri: str, *, events: int, slice_rows: int, repo: Path | None,
        pids: dict[str, int] | None = None) -> dict[str, Any]:
    """``measure`` here, or in a child process on ``repo``'s sink; with the CPU of the
    server processes ``pids`` (default: the running stack's ``SERVICES``)."""
    pids = pids or _stack_pids()
    before = _cpu_seconds(pids)
    if repo is None:
        result = measure(uri, events=events, slice_rows=slice_rows)
    else:
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "--uri", uri,
             "--events", str(events), "--slice", str(slice_rows)],
            cwd=repo, env={**os.environ, "PYTHONPATH": str(repo.resolve())},
            capture_output=True, text=True, check=False)
        if child.returncode != 0:
            raise SystemExit(f"measuring {repo} failed:\n{child.stderr[-3000:]}")
        result = json.loads(child.stdout)
    after = _cpu_seconds(pids)
    result["server_cpu_s"] = {name: round(after[name] - before[name], 2)
                              for name in after if name in before}
    result["server_cpu_us_per_event"] = {name: round(cpu * 1e6 / events, 1)
                                         for name, cpu in result["server_cpu_s"].items()}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sink_path", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", help="Mongo URI (default: the running stack's spark-mongo link)")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--slice", type=int, default=2_000, dest="slice_rows",
                   help="rows per write_partition call (one partition's slice of a batch)")
    p.add_argument("--repo", type=Path, help="measure the sink of this checkout instead")
    p.add_argument("--pid", action="append", default=[], metavar="NAME=PID",
                   help="count this process's CPU as server NAME instead of the running "
                        "stack's mongo and postgres (e.g. a second FerretDB given --uri)")
    p.add_argument("--out", type=Path, help="write the figures here as JSON")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:  # run by ``run`` with another checkout first on sys.path
        print(json.dumps(measure(args.uri, events=args.events, slice_rows=args.slice_rows)))
        return 0
    if args.uri is None:
        from system.config import Endpoints

        args.uri = Endpoints().spark_mongo_uri
    result = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "sink_of": str(args.repo or "this checkout"), "uri": args.uri,
              **run(args.uri, events=args.events, slice_rows=args.slice_rows, repo=args.repo,
                    pids={name: int(pid) for name, pid in
                          (item.split("=", 1) for item in args.pid)})}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
