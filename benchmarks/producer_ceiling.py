"""The producer alone: the highest events/s it reaches through Kafka, and its publish delay
at 80 % of that (recorded, never asserted).

    python -m benchmarks.producer_ceiling --out results/producer-ceiling.json \
        [--bootstrap 127.0.0.1:9092] [--seconds 10] [--processes 1]

Phase 1 schedules far more than any client can send (open loop), stops after ``seconds``
and takes the achieved rate as the ceiling. Phase 2 runs at ``fraction`` of the ceiling for
``seconds`` and records publish delay (send - scheduled) and ack latency percentiles.
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

from system.config import TOPIC, Endpoints
from system.producer.producer import Producer

UNREACHABLE_RATE_EPS = 10_000_000.0


def _run(producer: Producer, run_dir: Path, *, rate_eps: float, seconds: float,
         stop_after: bool) -> dict[str, Any]:
    timer = threading.Timer(seconds, producer.stop, ("time is up",)) if stop_after else None
    if timer:
        timer.start()
    try:
        return producer.run(run_dir, rate_eps=rate_eps, duration_s=seconds * 2 if stop_after
                            else seconds)
    finally:
        if timer:
            timer.cancel()


def measure_producer_ceiling(out: Path, *, bootstrap: str | None = None, topic: str = TOPIC,
                             seconds: float = 10.0, fraction: float = 0.8,
                             processes: int = 1, client: str = "kafka-python"
                             ) -> dict[str, Any]:
    bootstrap = bootstrap or Endpoints().producer_bootstrap

    def producer() -> Producer:
        return Producer(bootstrap=bootstrap, topic=topic, thermostats=10, motion_sensors=10,
                        processes=processes, client=client)

    with tempfile.TemporaryDirectory(prefix="producer-ceiling-") as scratch:
        flat_out = _run(producer(), Path(scratch) / "ceiling", rate_eps=UNREACHABLE_RATE_EPS,
                        seconds=seconds, stop_after=True)
        ceiling = flat_out["achieved_eps"]
        target = round(ceiling * fraction, 1)
        at_target = _run(producer(), Path(scratch) / "at-fraction", rate_eps=target,
                         seconds=seconds, stop_after=False)
    keep = ("scheduled", "sent", "acked", "failed", "elapsed_s", "achieved_eps",
            "publish_delay_ms", "ack_latency_ms")
    result = {
        "benchmark": "producer-ceiling",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bootstrap": bootstrap, "topic": topic, "client": client, "processes": processes,
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "ceiling_eps": ceiling,
        "ceiling_run": {k: flat_out[k] for k in keep},
        "fraction": fraction, "target_eps": target,
        "at_fraction_run": {k: at_target[k] for k in keep},
        "publish_delay_p99_ms_at_fraction": at_target["publish_delay_ms"]["p99"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
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
    parser.add_argument("--client", default="kafka-python")
    args = parser.parse_args(argv)
    result = measure_producer_ceiling(args.out, bootstrap=args.bootstrap, topic=args.topic,
                                      seconds=args.seconds, fraction=args.fraction,
                                      processes=args.processes, client=args.client)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
