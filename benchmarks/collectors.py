"""Samplers that run during a run and append CSV rows to the run folder.

- ``LagSampler``: per partition, Kafka's end offset vs the offset Spark has processed
  (from the job's progress file) → ``lag.csv``, at a fixed rate *and* right after every
  micro-batch commit (column ``source``), so the lag sawtooth of the trigger is sampled at
  its troughs and uniformly in between instead of aliasing;
- ``ResourceSampler``: CPU % and RSS per service, children included → ``resources.csv``;
- ``ClusterSampler`` (3 brokers): per partition of the run's topic, its leader, replicas and
  ISR, and the active controller → ``cluster.csv`` (a failed read leaves a gap: unknown);
- ``ProducerProgress``: the producer's last progress line (no file).

The visibility probe lives in :mod:`benchmarks.visibility`. Each sampler is a thread with its
own file; an error in one sample is counted, not fatal. Samplers announce their newest
reading on the run's events (``sample_taken``), for the progress line and anyone else.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from benchmarks.events import RunEvents


class Sampler(threading.Thread):
    """Calls ``sample()`` every ``interval_s`` until stopped; rows go to one CSV file
    (none when ``path`` is None)."""

    columns: tuple[str, ...] = ()

    def __init__(self, path: Path | None, interval_s: float = 1.0,
                 events: RunEvents | None = None) -> None:
        super().__init__(name=type(self).__name__, daemon=True)
        self.path = path
        self.interval_s = interval_s
        self.events = events
        self.errors = 0
        self.last_error: str | None = None
        self._stop_event = threading.Event()
        self._file = open(path, "w", newline="") if path else None  # noqa: SIM115 - run()
        self._writer = csv.writer(self._file) if self._file else None
        if self._writer:
            self._writer.writerow(self.columns)

    def announce(self, kind: str, value: Any) -> None:
        if self.events is not None:
            self.events.sample_taken.fire(kind=kind, value=value)

    def run(self) -> None:
        try:
            next_at = time.monotonic()
            while not self._stop_event.is_set():
                try:
                    rows = self.sample()
                    if self._writer and self._file:
                        self._writer.writerows(rows)
                        self._file.flush()
                except Exception as exc:  # noqa: BLE001 - one bad sample is not fatal
                    self.errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                next_at = max(next_at + self.interval_s, time.monotonic())
                self._stop_event.wait(max(0.0, next_at - time.monotonic()))
        finally:
            if self._file:
                self._file.close()

    def sample(self) -> list[tuple[Any, ...]]:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def _last_progress_lines(progress_file: Path) -> list[str]:
    try:
        with open(progress_file, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 256 * 1024))
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def processed_offsets(progress_file: Path, topic: str) -> tuple[int, dict[int, int]]:
    """(batch id, offsets next to read per partition) of Spark's last committed batch;
    (-1, {}) before the first."""
    for line in reversed(_last_progress_lines(progress_file)):
        try:
            progress = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line still being written
        for source in progress.get("sources", []):
            end = source.get("endOffset")
            if isinstance(end, str):
                end = json.loads(end)
            if isinstance(end, dict) and topic in end:
                return (int(progress.get("batchId", -1)),
                        {int(p): int(o) for p, o in end[topic].items()})
    return -1, {}


class LagSampler(Sampler):
    """Lag at ``interval_s`` (rows ``timer``) and at each new committed batch (``commit``):
    the progress file is checked every ``commit_poll_s``."""

    columns = ("ts", "partition", "end_offset", "processed_offset", "lag", "source")

    def __init__(self, path: Path, bootstrap: str, topic: str, progress_file: Path, *,
                 interval_s: float = 0.25, events: RunEvents | None = None) -> None:
        super().__init__(path, interval_s=interval_s, events=events)
        self.topic = topic
        self.progress_file = progress_file
        self.bootstrap = bootstrap
        self.consumer = self._consumer()
        self.latest_total: int | None = None
        self.history: deque[tuple[float, int]] = deque(maxlen=4096)
        """(ts, total lag) of recent samples, for the steady-state check."""
        self.processed: dict[int, int] = {}
        """Offsets Spark has committed (next to read), per partition, at the last sample."""
        self._batch = -1

    def sample(self) -> list[tuple[Any, ...]]:
        from kafka.structs import TopicPartition

        batch, done = processed_offsets(self.progress_file, self.topic)
        source = "commit" if batch != self._batch and batch >= 0 else "timer"
        self._batch = batch
        try:
            parts = self.consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            ends = self.consumer.end_offsets(tps)
        except Exception:
            # After a leader is killed, kafka-python's client kept asking the dead broker:
            # every later end_offsets timed out and lag.csv stopped at the kill (run
            # 20261204-030800-leader-kill-acks-all). A new client reads fresh metadata.
            self.consumer.close()
            self.consumer = self._consumer()
            raise
        now = time.time()
        rows = []
        for tp in tps:
            processed = done.get(tp.partition, 0)
            rows.append((now, tp.partition, ends[tp], processed, max(0, ends[tp] - processed),
                         source))
        self.processed = {tp.partition: done.get(tp.partition, 0) for tp in tps}
        self.latest_total = sum(r[4] for r in rows)
        self.history.append((now, self.latest_total))
        self.announce("lag", self.latest_total)
        return rows

    def _consumer(self) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="iotbench-lag",
                             request_timeout_ms=5000)

    def stop(self) -> None:
        super().stop()
        self.consumer.close()


class ClusterSampler(Sampler):
    """Once a second: each partition's leader (-1 = none), replica and ISR counts, and the
    active KRaft controller (-1 = none elected), read through the admin listener."""

    columns = ("ts", "partition", "leader", "replicas", "isr", "controller")

    def __init__(self, path: Path, bootstrap: str, topic: str, *, interval_s: float = 1.0,
                 events: RunEvents | None = None) -> None:
        super().__init__(path, interval_s=interval_s, events=events)
        self.bootstrap, self.topic = bootstrap, topic

    def sample(self) -> list[tuple[Any, ...]]:
        from system.stack.kafka_state import cluster_snapshot

        view, states = cluster_snapshot(self.bootstrap, self.topic)
        controller = view.controller
        now = time.time()
        rows = [(now, s.partition, s.leader, len(s.replicas), len(s.isr), controller)
                for s in states]
        self.announce("under_replicated", sum(1 for r in rows if r[4] < r[3]))
        return rows


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


class ProducerProgress(Sampler):
    """Announces the producer's progress (sent, acked, failed, rate) every second."""

    def __init__(self, progress: Callable[[], dict[str, Any]], events: RunEvents) -> None:
        super().__init__(None, interval_s=1.0, events=events)
        self.progress = progress

    def sample(self) -> list[tuple[Any, ...]]:
        self.announce("producer", self.progress())
        return []
