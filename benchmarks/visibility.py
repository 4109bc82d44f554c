"""``VisibilityProbe``: when a uniform random sample of events became visible through the
dashboard's own API → ``probe.csv`` (event_id, sampled_ts, visible_ts).

The old ``FreshnessProbe`` read the newest 100 of ``/api/data`` once a second, so it only ever
saw the freshest events and, at a few thousand events/s, ~3 % of them. This probe picks its
sample from the run's topic instead: it reads every partition from the beginning (its own
consumer, assigned every partition rather than in a group, through the admin/direct
listener, so no fault on a link touches it) and
keeps the events whose id hashes to 0 mod ``sample_every`` — a choice independent of time,
device, partition or how fast the pipeline is. It then polls ``GET /api/events?ids=…`` every
``poll_interval_s`` for the ids still pending; the first response that returns an id gives
its ``visible_ts``. An id not returned within ``timeout_s`` of being sampled, or by
``stop()``, gets an empty ``visible_ts`` (censored: never visible while watched).

How the runner uses it (one per run, started before the producer, stopped after the drain)::

    probe = VisibilityProbe(
        run_dir / "probe.csv",
        dashboard_url=endpoints.dashboard_url,      # http://127.0.0.1:<port>
        bootstrap=endpoints.direct_bootstrap,       # the admin listener, not a proxied link
        topic=topic,
        sample_every=VisibilityProbe.sample_every_for(scenario.producer.peak_rate_eps()),
    )
    probe.start()
    ...                                             # produce, faults, drain
    probe.stop()                                    # last poll; the rest written censored
    journal["probe"] = probe.settings()

Bounded by construction: at most ``max_pending`` ids are outstanding (further picks are
skipped and counted in ``settings()["skipped"]``, so a report can say the sample thinned),
one HTTP request is in flight at a time, each with a timeout, only to 127.0.0.1, after
each poll the probe rests at least as long as the poll took (≤ 50 % duty), and it looks up at
most ``max_lookups_per_s`` ids a second, rotating through the pending ones so each is
watched equally often. Each lookup costs the pipeline's machine ~1.3 ms of CPU (dashboard,
FerretDB and PostgreSQL together, measured at 100 k stored events): unbounded, a backlog of
pending ids near capacity took up to half a core from the pipeline it was measuring.
``visible_ts`` is taken when the response arrives, so its resolution is the poll interval,
two requests' time, or a rotation through the pending ids, whichever is longest:
``settings()`` reports the requests' mean and max duration and the longest rotation beside
it (on FerretDB-SQLite an ``_id`` read visits every row, so a lookup grows with the
collection: ~3 µs per stored document and id; on FerretDB-PostgreSQL it is an index lookup).
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
BATCH_IDS = 50
"""Ids per request: the dashboard's limit for ``/api/events?ids=``."""
FETCH_WAIT_MS = 250
"""How long the broker may hold the probe's fetch for more data: an event is sampled at
most this late, far sooner than it is stored (a micro-batch later)."""


def sampling_hash(event_id: str) -> int:
    """A stable 64-bit hash of the id (blake2b): uniform whatever the id's format, and the
    same in any process, so a report can recompute which events the probe watched."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def is_sampled(event_id: str, sample_every: int) -> bool:
    return sampling_hash(event_id) % sample_every == 0


class _QuietLog:
    """librdkafka's log lines (a broker restarting, say) are not the probe's output: the
    probe counts and keeps its own errors."""

    def log(self, *_args: Any, **_kwargs: Any) -> None:
        pass


class VisibilityProbe:
    """Samples events from the topic and records when the dashboard API first returns each."""

    columns = ("event_id", "sampled_ts", "visible_ts")

    samples_per_second = 5.0
    """The sampling rate ``sample_every_for`` aims at: enough for p99 over a minute's run,
    few enough that the lookups cost the dashboard and Mongo little."""

    def __init__(self, path: Path, dashboard_url: str, bootstrap: str, topic: str,
                 sample_every: int, *, poll_interval_s: float = 0.1, max_pending: int = 100,
                 max_lookups_per_s: float = 50.0, timeout_s: float = 120.0,
                 request_timeout_s: float = 10.0) -> None:
        host = urllib.parse.urlsplit(dashboard_url).hostname
        if host not in LOCAL_HOSTS:
            raise ValueError(f"the probe only polls a local dashboard (127.0.0.1), "
                             f"not {dashboard_url!r}")
        if sample_every < 1 or max_pending < 1 or poll_interval_s <= 0 or max_lookups_per_s <= 0:
            raise ValueError("sample_every and max_pending must be ≥ 1, poll_interval_s and "
                             "max_lookups_per_s > 0")
        self.path = path
        self.url = dashboard_url.rstrip("/") + "/api/events?ids="
        self.bootstrap, self.topic = bootstrap, topic
        self.sample_every = sample_every
        self.poll_interval_s = poll_interval_s
        self.max_pending = max_pending
        self.lookups_per_poll = max(1, round(max_lookups_per_s * poll_interval_s))
        self._rotation = 0
        self._rotation_s_max = 0.0
        self.timeout_s = timeout_s
        self.request_timeout_s = request_timeout_s
        self.sampled = self.skipped = self.visible = self.censored = self.consumed = 0
        self.errors = 0
        self.last_error: str | None = None
        self._polls = 0
        self._poll_seconds_total = self._poll_seconds_max = 0.0
        self._pending: dict[str, float] = {}  # event id -> sampled_ts, oldest first
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # stop() may write while a hung request ends
        self._stop_event = threading.Event()
        self._file = open(path, "w", newline="")  # noqa: SIM115 - closed in stop()
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.columns)
        self._reader = threading.Thread(target=self._read_topic, name="probe-topic", daemon=True)
        self._poller = threading.Thread(target=self._poll_loop, name="probe-poll", daemon=True)

    @classmethod
    def sample_every_for(cls, rate_eps: float | None) -> int:
        """K such that ~``samples_per_second`` events a second are sampled (at least 1)."""
        if not rate_eps or rate_eps <= 0:
            return 1
        return max(1, round(rate_eps / cls.samples_per_second))

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._reader.start()
        self._poller.start()

    def stop(self) -> None:
        """Stop reading, poll the pending ids once more, write the rest censored."""
        self._stop_event.set()
        self._reader.join(timeout=15)
        self._poller.join(timeout=self.request_timeout_s * 3 + 5)
        if self._file.closed:
            return
        if not self._poller.is_alive():
            self._poll_once(every_pending=True)
        with self._lock:
            left, self._pending = self._pending, {}
        for event_id, sampled_ts in left.items():
            self._write(event_id, sampled_ts, None)
        with self._write_lock:
            self._file.close()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def settings(self) -> dict[str, Any]:
        """What the journal records under ``"probe"``: how the sample was drawn and how
        well it could be watched."""
        polls = self._polls
        return {
            "source": "topic",
            "sample_every": self.sample_every,
            "hash": "blake2b-64(event_id) mod sample_every == 0",
            "poll_interval_s": self.poll_interval_s,
            "max_pending": self.max_pending,
            "lookups_per_poll": self.lookups_per_poll,
            "rotation_s_max": round(self._rotation_s_max, 3),
            "timeout_s": self.timeout_s,
            "consumed": self.consumed,
            "sampled": self.sampled,
            "skipped": self.skipped,
            "visible": self.visible,
            "censored": self.censored,
            "polls": polls,
            "poll_s_mean": round(self._poll_seconds_total / polls, 4) if polls else None,
            "poll_s_max": round(self._poll_seconds_max, 4),
            "errors": self.errors,
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------------ the topic

    def _read_topic(self) -> None:
        try:
            consumer = self._consumer()
        except Exception as exc:  # noqa: BLE001 - reported in settings(), the run goes on
            self._error(exc)
            return
        if consumer is None:  # stopped before the topic appeared
            return
        try:
            while not self._stop_event.is_set():
                try:
                    messages = consumer.consume(num_messages=5000, timeout=0.2)
                except Exception as exc:  # noqa: BLE001 - one failed fetch is not fatal
                    self._error(exc)
                    self._stop_event.wait(0.5)
                    continue
                now = time.time()
                for message in messages:
                    if message.error() is None:
                        self._offer(message.value(), now)
        finally:
            consumer.close()

    def _consumer(self) -> Any:
        """A librdkafka consumer assigned every partition of the topic from the beginning.

        librdkafka, not kafka-python: the probe reads every event of the run to draw its
        sample, and kafka-python's per-record cost took ~17 % of a core at 1,280 events/s
        (run 20261207-170350-probe) — CPU the pipeline under test then lacked."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "iotbench-probe",
                             "client.id": "iotbench-probe", "enable.auto.commit": False,
                             "socket.timeout.ms": 10_000, "logger": _QuietLog(),
                             # a few fetches a second, not one per producer batch: the
                             # broker serves the pipeline on the same 2 cores
                             "fetch.wait.max.ms": FETCH_WAIT_MS,
                             "fetch.min.bytes": 1024 * 1024})
        partitions: list[int] = []
        while not partitions and not self._stop_event.is_set():
            topic = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if topic is not None and topic.error is None:
                partitions = sorted(topic.partitions)
            if not partitions:
                self._stop_event.wait(0.2)  # the topic's metadata is not there yet
        if not partitions:
            consumer.close()
            return None
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        return consumer

    def _offer(self, value: bytes | None, now: float) -> None:
        self.consumed += 1
        try:
            event_id = json.loads(value)["event_id"] if value else None
        except (ValueError, TypeError, KeyError):
            return  # not a device event: the processor dead-letters it, nothing to watch
        if not isinstance(event_id, str) or not is_sampled(event_id, self.sample_every):
            return
        with self._lock:
            if event_id in self._pending:
                return  # a producer retry wrote it twice: watch it once
            if len(self._pending) >= self.max_pending:
                self.skipped += 1
                return
            self._pending[event_id] = now
            self.sampled += 1

    # ------------------------------------------------------------------ the dashboard

    def _poll_loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop_event.is_set():
            self._stop_event.wait(max(0.0, next_at - time.monotonic()))
            if self._stop_event.is_set():
                break
            began = time.monotonic()
            self._expire(time.time())
            self._poll_once()
            took = time.monotonic() - began
            # Rest at least as long as the poll took: the lookups never keep the dashboard
            # and Mongo busy more than half the time, whatever the collection's size.
            next_at = began + max(self.poll_interval_s, 2 * took)

    def _expire(self, now: float) -> None:
        with self._lock:
            old = [(e, ts) for e, ts in self._pending.items() if now - ts > self.timeout_s]
            for event_id, _ in old:
                del self._pending[event_id]
        for event_id, sampled_ts in old:
            self._write(event_id, sampled_ts, None)

    def _due(self) -> list[str]:
        """This poll's share of the pending ids: the next ``lookups_per_poll`` in rotation."""
        with self._lock:
            ids = list(self._pending)
        if len(ids) <= self.lookups_per_poll:
            return ids
        start = self._rotation % len(ids)
        self._rotation = start + self.lookups_per_poll
        rotation_s = len(ids) / self.lookups_per_poll * self.poll_interval_s
        self._rotation_s_max = max(self._rotation_s_max, rotation_s)
        return (ids + ids)[start:start + self.lookups_per_poll]

    def _poll_once(self, every_pending: bool = False) -> None:
        if every_pending:
            with self._lock:
                ids = list(self._pending)
        else:
            ids = self._due()
        for start in range(0, len(ids), BATCH_IDS):
            try:
                found, visible_ts = self._lookup(ids[start:start + BATCH_IDS])
            except Exception as exc:  # noqa: BLE001 - the dashboard may be down: retry later
                self._error(exc)
                continue
            for event_id in found:
                with self._lock:
                    sampled_ts = self._pending.pop(event_id, None)
                if sampled_ts is not None:
                    self._write(event_id, sampled_ts, visible_ts)
        with self._write_lock:
            if not self._file.closed:
                self._file.flush()

    def _lookup(self, ids: list[str]) -> tuple[list[str], float]:
        """The ids the dashboard returned, and when its answer arrived."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.url + ",".join(ids),
                                        timeout=self.request_timeout_s) as response:
                body = json.loads(response.read())
        finally:
            took = time.monotonic() - started
            self._polls += 1
            self._poll_seconds_total += took
            self._poll_seconds_max = max(self._poll_seconds_max, took)
        arrived = time.time()
        return [r["event_id"] for r in body.get("records", []) if "event_id" in r], arrived

    # ------------------------------------------------------------------ output

    def _write(self, event_id: str, sampled_ts: float, visible_ts: float | None) -> None:
        with self._write_lock:
            if self._file.closed:
                return
            if visible_ts is None:
                self.censored += 1
            else:
                self.visible += 1
            self._writer.writerow((event_id, f"{sampled_ts:.6f}",
                                   "" if visible_ts is None else f"{visible_ts:.6f}"))

    def _error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
