"""The open-loop send loop of one process (the whole fleet, or one worker's share of it).

It walks the global schedule, keeps the slots of its own devices (device index modulo the
number of workers), sleeps only while ahead of the next scheduled time, sends immediately
when behind, and records every event in its ledger part files.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from system.producer.clients import ClientSettings, make_client
from system.producer.devices import Event, Fleet
from system.producer.errors import ProducerError
from system.producer.ledger import NO_ACK_BEFORE_CLOSE, LedgerWriter
from system.producer.schedule import AnchoredClock, RateProfile, Schedule, pause

ProgressCallback = Callable[[dict[str, Any]], None]
PROGRESS_INTERVAL_S = 1.0


@dataclass(frozen=True)
class FleetSpec:
    thermostats: int = 5
    motion_sensors: int = 5
    seed: int = 42
    anomaly_rate: float = 0.10
    kind_mix: dict[str, float] | None = None
    time_scale: float = 1.0
    run_id: str = ""
    """Seeds the event ids (with ``seed``), never the readings."""

    def build(self) -> Fleet:
        return Fleet(self.thermostats, self.motion_sensors, seed=self.seed,
                     anomaly_rate=self.anomaly_rate, kind_mix=self.kind_mix,
                     time_scale=self.time_scale, run_id=self.run_id)


@dataclass(frozen=True)
class SenderJob:
    """Everything one sending process needs (picklable, for worker processes)."""

    client: ClientSettings
    fleet: FleetSpec
    phases: list[dict[str, Any]]
    run_dir: Path
    count: int | None = None
    duration_s: float | None = None
    device_order: str = "round-robin"
    worker: int = 0
    workers: int = 1
    close_timeout_s: float = 5.0
    """How long an interrupted run waits for outstanding acks."""
    flush_rows: int = 50_000
    flush_interval_s: float = 5.0


@dataclass
class StopFlag:
    """Set by ``stop()``, SIGTERM or a first SIGINT; a second SIGINT raises
    KeyboardInterrupt (abandon the wait for acks)."""

    reason: str | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@contextmanager
def signals_stop(flag: StopFlag) -> Iterator[None]:
    """In the main thread, turn SIGINT/SIGTERM into a graceful stop for the duration."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(name)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_message(event: Event, scheduled_ts: float) -> bytes:
    """The Kafka value: the seed's fields plus event_id and seq; never the truth."""
    message = {"event_id": event.event_id, "device_id": event.device_id, "seq": event.seq,
               "timestamp": iso_utc(scheduled_ts), **event.fields}
    return json.dumps(message, separators=(",", ":")).encode()


class Sender:
    """One process's client, ledger and loop; ``start()`` connects, ``run(t0)`` sends."""

    def __init__(self, job: SenderJob, stop: StopFlag | None = None,
                 on_progress: ProgressCallback | None = None) -> None:
        self.job = job
        self.stop = stop or StopFlag()
        self.on_progress = on_progress
        self.clock = AnchoredClock()
        self.fleet = job.fleet.build()
        self.owned = [i % job.workers == job.worker for i in range(len(self.fleet))]
        if not any(self.owned):
            raise ProducerError(f"worker {job.worker} owns no device: use fewer processes")
        self.ledger = LedgerWriter(job.run_dir, prefix=f"w{job.worker}",
                                   flush_rows=job.flush_rows,
                                   flush_interval_s=job.flush_interval_s)
        self.client: Any = None
        self.sent = 0
        self.send_failures = 0

    def start(self) -> None:
        clock, ledger = self.clock, self.ledger

        def on_ack(token: int, partition: int, offset: int) -> None:
            ledger.acked_at(token, clock.stamp(), partition, offset)

        self.client = make_client(self.job.client, on_ack, ledger.failed_with)

    def run(self, t0: float) -> dict[str, Any]:
        """Send on schedule from epoch ``t0``; always closes the client and the ledger."""
        if self.client is None:
            self.start()
        job, clock, ledger, client, stop = (self.job, self.clock, self.ledger, self.client,
                                            self.stop)
        schedule = Schedule(RateProfile(job.phases), len(self.fleet), count=job.count,
                            duration_s=job.duration_s, device_order=job.device_order,
                            seed=job.fleet.seed)
        owned, fleet = self.owned, self.fleet
        sync = job.client.sync_send
        sync_timeout_s = job.client.delivery_timeout_ms / 1000
        next_tick = t0 + PROGRESS_INTERVAL_S
        delays: list[float] = []
        sent_at_tick = 0
        last_send = t0
        aborted = False
        try:
            for slot in schedule:
                if not owned[slot.device_index]:
                    continue
                event = fleet.next_event(slot.device_index, slot.offset_s)
                scheduled = t0 + slot.offset_s
                now = clock.now()
                while True:
                    if now >= next_tick:
                        self._tick(now, delays, self.sent - sent_at_tick)
                        delays, sent_at_tick = [], self.sent
                        next_tick = max(next_tick + PROGRESS_INTERVAL_S, now)
                    if stop.is_set() or now >= scheduled:
                        break
                    pause(min(scheduled, next_tick) - now)  # ahead: wait, never per msg
                    now = clock.now()
                if stop.is_set():
                    break
                stamped = clock.stamp(scheduled)  # the scheduled time as its wall clock says
                value = encode_message(event, stamped)
                last_send = clock.now()
                token = ledger.sent((event.event_id, event.device_id, event.device_type,
                                     event.seq, event.truth_anomaly, event.truth_kind,
                                     event.truth_detail, stamped, clock.stamp(last_send)))
                try:
                    client.send(token, event.device_id.encode(), value)
                    if sync:
                        client.flush(sync_timeout_s)
                except ProducerError as exc:
                    self.send_failures += 1
                    ledger.failed_with(token, str(exc))
                self.sent += 1
                delays.append(last_send - scheduled)
        except KeyboardInterrupt:
            aborted = True
            stop.set("SIGINT")
        finally:
            self._close(interrupted=stop.is_set() or aborted)
        return {"worker": job.worker, "t0": t0, "last_send_ts": last_send, "sent": self.sent,
                "acked": ledger.acked, "failed": ledger.failed,
                "send_failures": self.send_failures, "interrupted": stop.reason}

    def _tick(self, now: float, delays: list[float], sent_in_interval: int) -> None:
        self.clock.watch()
        self.client.poll()
        self.ledger.maybe_flush(now)
        if self.on_progress is None:
            return
        ordered = sorted(delays)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        self.on_progress({
            "worker": self.job.worker, "sent": self.sent, "acked": self.ledger.acked,
            "failed": self.ledger.failed, "in_flight": self.ledger.in_flight,
            "rate_eps": sent_in_interval / PROGRESS_INTERVAL_S,
            "publish_delay_p99_ms": None if p99 is None else round(p99 * 1000, 2),
        })

    def _close(self, interrupted: bool) -> None:
        wait_s = (self.job.close_timeout_s if interrupted
                  else self.job.client.delivery_timeout_ms / 1000 + 5.0)
        reason = NO_ACK_BEFORE_CLOSE
        try:
            if self.client is not None:
                self.client.flush(wait_s)
                self.client.close(0.0 if self.ledger.in_flight else 5.0)
        except KeyboardInterrupt:
            reason = "unacked: interrupted before ack"
        finally:
            self.ledger.close(reason)
