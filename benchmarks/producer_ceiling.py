"""The producer alone: the highest events/s it reaches through Kafka, its CPU seconds per
1,000 events, and its publish delay at 80 % of that ceiling (recorded, never asserted).

    python -m benchmarks.producer_ceiling --out results/producer-ceiling.json \
        [--bootstrap 127.0.0.1:9092] [--seconds 10] [--processes 1] \
        [--client kafka-python|confluent-kafka|both] [--paced-eps 1500]

Phase 1 schedules far more than any client can send (open loop), stops after ``seconds``
and takes the achieved rate as the ceiling. Phase 2 runs at ``fraction`` of the ceiling for
``seconds`` and records publish delay (send - scheduled) and ack latency percentiles. Phase 3
runs at ``paced_eps`` (a rate the pipeline sustains, not the client's) for ``seconds``: what
the producer costs the machine it shares with the pipeline, per 1,000 events.

CPU is the producing processes' user + system time (psutil: this process, plus its worker
processes once reaped when ``processes > 1``) over each ``run()``, the wait for the last
acks included, divided by the events sent. ``--client both`` measures the clients one after
the other on the same stack and topic (one sitting) and writes them side by side, with the
machine's load average before and after: on a shared machine a high load makes the figures
say little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from system.config import TOPIC, Endpoints
from system.producer.clients import CLIENTS, DEFAULT_CLIENT
from system.producer.producer import Producer

UNREACHABLE_RATE_EPS = 10_000_000.0
BOTH = "both"
PACED_EPS = 1_500.0
"""Phase 3's rate: about what the pipeline sustains on our 2-core machine."""
KEEP = ("scheduled", "sent", "acked", "failed", "elapsed_s", "achieved_eps",
        "publish_delay_ms", "ack_latency_ms")


def _cpu_seconds() -> float:
    """User + system seconds of this process and of its reaped children (the workers)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _run(producer: Producer, run_dir: Path, *, rate_eps: float, seconds: float,
         stop_after: bool) -> dict[str, Any]:
    """One run; its summary gains ``cpu_s`` and ``cpu_s_per_1k_events``."""
    timer = threading.Timer(seconds, producer.stop, ("time is up",)) if stop_after else None
    cpu_before = _cpu_seconds()
    if timer:
        timer.start()
    try:
        summary = producer.run(run_dir, rate_eps=rate_eps, duration_s=seconds * 2
                               if stop_after else seconds)
    finally:
        if timer:
            timer.cancel()
    cpu = _cpu_seconds() - cpu_before
    summary["cpu_s"] = round(cpu, 3)
    summary["cpu_s_per_1k_events"] = (round(cpu / summary["sent"] * 1000, 4)
                                      if summary["sent"] else None)
    return summary


def _measure(*, bootstrap: str, topic: str, seconds: float, fraction: float,
             processes: int, client: str, paced_eps: float) -> dict[str, Any]:
    def producer() -> Producer:
        return Producer(bootstrap=bootstrap, topic=topic, thermostats=10, motion_sensors=10,
                        processes=processes, client=client, run_id=f"ceiling-{time.time()}")

    with tempfile.TemporaryDirectory(prefix="producer-ceiling-") as scratch:
        flat_out = _run(producer(), Path(scratch) / "ceiling", rate_eps=UNREACHABLE_RATE_EPS,
                        seconds=seconds, stop_after=True)
        ceiling = flat_out["achieved_eps"]
        target = round(ceiling * fraction, 1)
        at_target = _run(producer(), Path(scratch) / "at-fraction", rate_eps=target,
                         seconds=seconds, stop_after=False)
        paced = _run(producer(), Path(scratch) / "paced", rate_eps=paced_eps,
                     seconds=seconds, stop_after=False)
    keep = (*KEEP, "cpu_s", "cpu_s_per_1k_events")
    return {
        "benchmark": "producer-ceiling",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bootstrap": bootstrap, "topic": topic, "client": client, "processes": processes,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "ceiling_eps": ceiling,
        "ceiling_run": {k: flat_out[k] for k in keep},
        "cpu_s_per_1k_events_flat_out": flat_out["cpu_s_per_1k_events"],
        "fraction": fraction, "target_eps": target,
        "at_fraction_run": {k: at_target[k] for k in keep},
        "cpu_s_per_1k_events_at_fraction": at_target["cpu_s_per_1k_events"],
        "publish_delay_p99_ms_at_fraction": at_target["publish_delay_ms"]["p99"],
        "paced_eps": paced_eps,
        "paced_run": {k: paced[k] for k in keep},
        "cpu_s_per_1k_events_paced": paced["cpu_s_per_1k_events"],
    }


def _write(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def measure_producer_ceiling(out: Path, *, bootstrap: str | None = None, topic: str = TOPIC,
                             seconds: float = 10.0, fraction: float = 0.8,
                             processes: int = 1, client: str = DEFAULT_CLIENT,
                             paced_eps: float = PACED_EPS) -> dict[str, Any]:
    """One client's ceiling, written to ``out`` and returned."""
    result = _measure(bootstrap=bootstrap or Endpoints().producer_bootstrap, topic=topic,
                      seconds=seconds, fraction=fraction, processes=processes, client=client,
                      paced_eps=paced_eps)
    _write(out, result)
    return result


def measure_side_by_side(out: Path, *, clients: tuple[str, ...] = CLIENTS,
                         bootstrap: str | None = None, topic: str = TOPIC,
                         seconds: float = 10.0, fraction: float = 0.8,
                         processes: int = 1, paced_eps: float = PACED_EPS) -> dict[str, Any]:
    """Every client of ``clients`` on one stack and topic, one after the other."""
    bootstrap = bootstrap or Endpoints().producer_bootstrap
    load_before = psutil.getloadavg()
    per_client = {client: _measure(bootstrap=bootstrap, topic=topic, seconds=seconds,
                                   fraction=fraction, processes=processes, client=client,
                                   paced_eps=paced_eps)
                  for client in clients}
    result = {
        "benchmark": "producer-ceiling-side-by-side",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bootstrap": bootstrap, "topic": topic, "processes": processes,
        "seconds": seconds, "fraction": fraction,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in psutil.getloadavg()],
        "table": [{
            "client": client,
            "ceiling_eps": r["ceiling_eps"],
            "cpu_s_per_1k_events_flat_out": r["cpu_s_per_1k_events_flat_out"],
            "target_eps": r["target_eps"],
            "cpu_s_per_1k_events_at_fraction": r["cpu_s_per_1k_events_at_fraction"],
            "publish_delay_p99_ms_at_fraction": r["publish_delay_p99_ms_at_fraction"],
            "ack_latency_ms_at_fraction": r["at_fraction_run"]["ack_latency_ms"],
            "paced_eps": r["paced_eps"],
            "cpu_s_per_1k_events_paced": r["cpu_s_per_1k_events_paced"],
        } for client, r in per_client.items()],
        "clients": per_client,
    }
    _write(out, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="results JSON path")
    parser.add_argument("--bootstrap", default=None, help="default: the producer-kafka link")
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fraction", type=float, default=0.8)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--paced-eps", type=float, default=PACED_EPS,
                        help=f"phase 3's rate ({PACED_EPS:g}: about what the pipeline sustains)")
    parser.add_argument("--client", choices=(*CLIENTS, BOTH), default=DEFAULT_CLIENT,
                        help=f"one client, or {BOTH!r}: each in turn, side by side")
    args = parser.parse_args(argv)
    common = {"bootstrap": args.bootstrap, "topic": args.topic, "seconds": args.seconds,
              "fraction": args.fraction, "processes": args.processes,
              "paced_eps": args.paced_eps}
    if args.client == BOTH:
        result = measure_side_by_side(args.out, **common)
        print(json.dumps(result["table"], indent=2))
    else:
        result = measure_producer_ceiling(args.out, client=args.client, **common)
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
