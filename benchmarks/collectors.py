"""Samplers that run once a second during a run and append CSV rows to the run folder.

- ``LagSampler``: per partition, Kafka's end offset vs the offset Spark has processed
  (from the job's progress file) → ``lag.csv``;
- ``ResourceSampler``: CPU % and RSS per service, children included → ``resources.csv``;
- ``FreshnessProbe``: polls the dashboard API and records when each event first became
  visible there → ``probe.csv``.

Each sampler is a thread with its own file; an error in one sample is counted, not fatal.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil


class Sampler(threading.Thread):
    """Calls ``sample()`` every ``interval_s`` until stopped; rows go to one CSV file."""

    columns: tuple[str, ...] = ()

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        super().__init__(name=type(self).__name__, daemon=True)
        self.path = path
        self.interval_s = interval_s
        self.errors = 0
        self.last_error: str | None = None
        self._stop_event = threading.Event()
        self._file = open(path, "w", newline="")  # noqa: SIM115 - closed in run()
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.columns)

    def run(self) -> None:
        try:
            next_at = time.monotonic()
            while not self._stop_event.is_set():
                try:
                    for row in self.sample():
                        self._writer.writerow(row)
                    self._file.flush()
                except Exception as exc:  # noqa: BLE001 - one bad sample is not fatal
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                next_at += self.interval_s
                self._stop_event.wait(max(0.0, next_at - time.monotonic()))
        finally:
            self._file.close()

    def sample(self) -> list[tuple[Any, ...]]:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def processed_offsets(progress_file: Path, topic: str) -> dict[int, int]:
    """Offsets (next to read) Spark has committed per partition, from its last batch."""
    try:
        with open(progress_file, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 256 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return {}
    for line in reversed(lines):
        try:
            progress = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line still being written
        for source in progress.get("sources", []):
            end = source.get("endOffset")
            if isinstance(end, str):
                end = json.loads(end)
            if isinstance(end, dict) and topic in end:
                return {int(p): int(o) for p, o in end[topic].items()}
    return {}


class LagSampler(Sampler):
    columns = ("ts", "partition", "end_offset", "processed_offset", "lag")

    def __init__(self, path: Path, bootstrap: str, topic: str, progress_file: Path) -> None:
        super().__init__(path)
        from kafka import KafkaConsumer

        self.topic = topic
        self.progress_file = progress_file
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="iotbench-lag",
                                      request_timeout_ms=5000)
        self.latest_total: int | None = None

    def sample(self) -> list[tuple[Any, ...]]:
        from kafka.structs import TopicPartition

        parts = self.consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        ends = self.consumer.end_offsets(tps)
        done = processed_offsets(self.progress_file, self.topic)
        now = time.time()
        rows = []
        for tp in tps:
            processed = done.get(tp.partition, 0)
            rows.append((now, tp.partition, ends[tp], processed, max(0, ends[tp] - processed)))
        self.latest_total = sum(r[4] for r in rows)
        return rows

    def stop(self) -> None:
        super().stop()
        self.consumer.close()


class ResourceSampler(Sampler):
    columns = ("ts", "service", "cpu_percent", "rss_bytes")

    def __init__(self, path: Path, pids: Callable[[], dict[str, int]]) -> None:
        super().__init__(path)
        self.pids = pids
        self._procs: dict[int, psutil.Process] = {}

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # Keep one Process object per pid so cpu_percent() measures since the last sample.
        return [self._procs.setdefault(p.pid, p) for p in members]

    def sample(self) -> list[tuple[Any, ...]]:
        now = time.time()
        rows = []
        for service, pid in self.pids().items():
            cpu = rss = 0.0
            for proc in self._tree(pid):
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            rows.append((now, service, round(cpu, 1), int(rss)))
        return rows


class FreshnessProbe(Sampler):
    """Polls ``/api/data`` (the newest 100 events); first sighting = visible time."""

    columns = ("event_id", "visible_ts")

    def __init__(self, path: Path, dashboard_url: str) -> None:
        super().__init__(path)
        self.url = f"{dashboard_url}/api/data?limit=100"
        self.seen: set[str] = set()

    def sample(self) -> list[tuple[Any, ...]]:
        with urllib.request.urlopen(self.url, timeout=5) as resp:
            body = json.loads(resp.read())
        now = time.time()
        rows = []
        for record in body.get("records", []):
            event_id = record.get("event_id")
            if event_id and event_id not in self.seen:
                self.seen.add(event_id)
                rows.append((event_id, now))
        return rows
