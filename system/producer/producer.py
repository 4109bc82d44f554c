"""``Producer``: the simulated fleet, sent open-loop through Kafka, with a Parquet ledger.

    producer = Producer(bootstrap=stack.endpoints.producer_bootstrap, thermostats=5,
                        motion_sensors=5, seed=7)
    summary = producer.run(run_dir, rate_eps=500, count=1000)

``run`` sends on schedule, waits for the acknowledgements (up to the delivery timeout),
writes ``run_dir/ledger.parquet`` and returns a summary. SIGINT/SIGTERM (when run from the
main thread) or ``stop()`` end the run gracefully: outstanding acks get
``close_timeout_s``, the rest are recorded as unacked, the ledger is written and the summary
says ``interrupted``. With ``processes > 1`` the fleet is split over worker processes
(device index modulo N), each with its own client and ledger parts, merged at the end.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from system.config import TOPIC, Endpoints
from system.producer.clients import CLIENTS, DEFAULT_CLIENT, ClientSettings, confluent_available
from system.producer.errors import ProducerError
from system.producer.ledger import merge_ledger, read_ledger, summarize
from system.producer.sender import (
    FleetSpec,
    ProgressCallback,
    Sender,
    SenderJob,
    StopFlag,
    signals_stop,
)

START_MARGIN_S = 0.05
WORKER_START_TIMEOUT_S = 60.0


class Producer:
    def __init__(self, *, bootstrap: str | None = None, topic: str = TOPIC,
                 thermostats: int = 5, motion_sensors: int = 5, seed: int = 42,
                 anomaly_rate: float = 0.10, kind_mix: dict[str, float] | None = None,
                 time_scale: float = 1.0, device_order: str = "round-robin",
                 delivery_timeout_s: float = 120.0, linger_ms: int = 5,
                 batch_size: int = 128 * 1024, compression: str | None = "auto",
                 max_block_s: float = 10.0, processes: int = 1,
                 client: str = DEFAULT_CLIENT, close_timeout_s: float = 5.0,
                 flush_rows: int = 50_000, flush_interval_s: float = 5.0,
                 acks: str = "all", idempotence: bool = True, sync_send: bool = False,
                 run_id: str = "") -> None:
        if client not in CLIENTS:
            raise ProducerError(f"unknown client {client!r}; choose one of {CLIENTS}")
        if client == "confluent-kafka" and not confluent_available():
            raise ProducerError("client 'confluent-kafka' needs the confluent_kafka package")
        if processes < 1:
            raise ProducerError("processes must be >= 1")
        if processes > thermostats + motion_sensors:
            raise ProducerError(f"{processes} processes for {thermostats + motion_sensors} "
                                "devices: every process needs at least one device")
        self.fleet = FleetSpec(thermostats, motion_sensors, seed, anomaly_rate, kind_mix,
                               time_scale, run_id)
        self.fleet.build()  # validate now, not in a worker
        self.client_settings = ClientSettings(
            bootstrap=bootstrap or Endpoints().producer_bootstrap, topic=topic,
            delivery_timeout_ms=int(delivery_timeout_s * 1000),
            linger_ms=0 if sync_send else linger_ms,  # nothing to batch when each send waits
            batch_size=batch_size, compression=compression,
            max_block_ms=int(max_block_s * 1000), client=client, acks=acks,
            idempotence=idempotence, sync_send=sync_send)
        self.client_settings.validate()
        self.device_order = device_order
        self.processes = processes
        self.close_timeout_s = close_timeout_s
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._stop = StopFlag()

    def stop(self, reason: str = "stop()") -> None:
        """End a running ``run()`` gracefully (from another thread)."""
        self._stop.set(reason)

    def run(self, run_dir: Path, *, rate_eps: float | None = None,
            profile: list[dict[str, Any]] | None = None, duration_s: float | None = None,
            count: int | None = None,
            on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Send ``count`` events or for ``duration_s`` seconds at ``rate_eps`` (or along the
        step/ramp ``profile``); returns the summary and writes ``run_dir/ledger.parquet``."""
        if (rate_eps is None) == (profile is None):
            raise ProducerError("give exactly one of rate_eps and profile")
        if count is None and duration_s is None:
            raise ProducerError("give a count or a duration")
        phases = profile if profile is not None else [{"at_s": 0.0, "rate_eps": rate_eps}]
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self._stop = StopFlag()
        job = SenderJob(self.client_settings, self.fleet, phases, run_dir, count=count,
                        duration_s=duration_s, device_order=self.device_order,
                        workers=self.processes, close_timeout_s=self.close_timeout_s,
                        flush_rows=self.flush_rows, flush_interval_s=self.flush_interval_s)
        with signals_stop(self._stop):
            if self.processes == 1:
                results = [self._run_here(job, on_progress)]
            else:
                results = _run_workers(job, self.processes, self._stop, on_progress)
        ledger_path = merge_ledger(run_dir)
        t0 = min(r["t0"] for r in results)
        last_send = max(r["last_send_ts"] for r in results)
        summary = summarize(read_ledger(run_dir), max(last_send - t0, 1e-9))
        summary.update({
            "target": phases, "processes": self.processes,
            "client": self.client_settings.client, "topic": self.client_settings.topic,
            "acks": self.client_settings.acks,
            "idempotence": self.client_settings.idempotence,
            "bootstrap": self.client_settings.bootstrap, "ledger": str(ledger_path),
            "send_failures": sum(r["send_failures"] for r in results),
            "interrupted": self._stop.reason,
        })
        return summary

    def _run_here(self, job: SenderJob, on_progress: ProgressCallback | None) -> dict[str, Any]:
        sender = Sender(job, self._stop, on_progress)
        sender.start()
        t0 = sender.clock.now() + START_MARGIN_S
        announce_start(job.run_dir, t0)
        return sender.run(t0)


STARTED_FILE = "produce-started.json"


def announce_start(run_dir: Path, t0: float) -> None:
    """Write the schedule's origin (epoch s) once every client is connected: the harness
    counts warm-up and fault times from it, so they share the producer's clock origin."""
    import json

    tmp = Path(run_dir) / f".{STARTED_FILE}.tmp"
    tmp.write_text(json.dumps({"t0": t0}))
    os.replace(tmp, Path(run_dir) / STARTED_FILE)


# ---------------------------------------------------------------------- worker processes


def _worker_main(job: SenderJob, go: Any, t0_value: Any, messages: Any) -> None:
    """A worker process: connect, say ready, wait for t0, send, report the result."""
    stop = StopFlag()

    def report(progress: dict[str, Any]) -> None:
        messages.put(("progress", job.worker, progress))

    try:
        with signals_stop(stop):
            sender = Sender(job, stop, report)
            sender.start()
            messages.put(("ready", job.worker, None))
            while not go.wait(0.2):
                if stop.is_set():
                    sender.ledger.close()
                    messages.put(("done", job.worker, None))
                    return
            messages.put(("done", job.worker, sender.run(t0_value.value)))
    except ProducerError as exc:
        messages.put(("error", job.worker, str(exc)))
    except KeyboardInterrupt:
        messages.put(("error", job.worker, "interrupted before the start"))


def _run_workers(job: SenderJob, processes: int, stop: StopFlag,
                 on_progress: ProgressCallback | None) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    go, t0_value, messages = context.Event(), context.Value("d", 0.0), context.Queue()
    workers = [context.Process(target=_worker_main, name=f"iotbench-producer-{k}",
                               args=(replace(job, worker=k), go, t0_value, messages),
                               daemon=False)
               for k in range(processes)]
    for worker in workers:
        worker.start()
    results: dict[int, dict[str, Any] | None] = {}
    progress: dict[int, dict[str, Any]] = {}
    ready: set[int] = set()
    errors: list[str] = []
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    forwarded = False
    last_report = time.monotonic()
    try:
        while len(results) < processes:
            if stop.is_set() and not forwarded:
                forwarded = True
                for worker in workers:
                    if worker.is_alive() and worker.pid is not None:
                        _signal_worker(worker.pid)
            if not go.is_set() and (errors or time.monotonic() > deadline):
                break
            try:
                kind, worker_index, payload = messages.get(timeout=0.2)
            except queue.Empty:
                if all(not w.is_alive() for w in workers):
                    break
                continue
            if kind == "ready":
                ready.add(worker_index)
                if len(ready) == processes and not stop.is_set():
                    t0_value.value = time.time() + START_MARGIN_S
                    announce_start(job.run_dir, t0_value.value)
                    go.set()
            elif kind == "progress":
                progress[worker_index] = payload
                if on_progress is not None and time.monotonic() - last_report >= 0.9:
                    last_report = time.monotonic()
                    on_progress(_combine_progress(progress))
            elif kind == "error":
                errors.append(f"worker {worker_index}: {payload}")
                results[worker_index] = None
            else:
                results[worker_index] = payload
    finally:
        if not go.is_set():
            for worker in workers:
                if worker.is_alive() and worker.pid is not None:
                    _signal_worker(worker.pid)
        for worker in workers:
            worker.join(timeout=job.client.delivery_timeout_ms / 1000 + 30)
            if worker.is_alive():
                worker.kill()
                worker.join()
    if errors and not go.is_set():
        raise ProducerError("worker processes could not start: " + "; ".join(errors))
    done = [r for r in results.values() if r is not None]
    if not done:
        raise ProducerError("no worker process finished: " + "; ".join(errors or ["?"]))
    return done


def _signal_worker(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _combine_progress(progress: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Totals over workers; the publish-delay p99 is the worst worker's."""
    values = list(progress.values())
    p99s = [v["publish_delay_p99_ms"] for v in values if v["publish_delay_p99_ms"] is not None]
    return {
        "workers": len(values),
        **{key: sum(v[key] for v in values)
           for key in ("sent", "acked", "failed", "in_flight", "rate_eps")},
        "publish_delay_p99_ms": max(p99s) if p99s else None,
    }
