"""``iotbench produce``: send the simulated fleet to Kafka and write the run's ledger.

    iotbench produce --rate 500 --duration 60 --out runs/r1
    iotbench produce --duration 60 --out runs/r2 \
        --profile '[{"at_s":0,"rate_eps":100},{"from_eps":100,"to_eps":2000,"over_s":30}]'
    iotbench produce --rate 500 --count 1000 --acks 1 --no-idempotence --run-id r3

Prints a progress line once a second and the summary as JSON. Exit codes: 0 every event
acked, 1 some unacked, 2 bad arguments or the producer could not start, 130/143 interrupted
by SIGINT/SIGTERM (the ledger is still written).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from system.config import TOPIC, Endpoints
from system.producer.clients import ACKS, CLIENTS, DEFAULT_CLIENT
from system.producer.errors import ProducerError
from system.producer.producer import Producer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--rate", type=float, default=None,
                      help="target events/s (open loop; default 100)")
    rate.add_argument("--profile", default=None,
                      help="JSON list of steps {at_s, rate_eps} and ramps "
                           "{from_eps, to_eps, over_s[, at_s]}")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=float, default=None, help="seconds of schedule")
    stop.add_argument("--count", type=int, default=None, help="number of events")
    parser.add_argument("--thermostats", type=int, default=5)
    parser.add_argument("--motion-sensors", type=int, default=5)
    parser.add_argument("--anomaly-rate", type=float, default=0.10,
                        help="share of thermostat readings made anomalous (default 0.10)")
    parser.add_argument("--anomaly-mix", default=None,
                        help='JSON weights, e.g. {"spike":0.4,"drift":0.3,"stuck":0.2,'
                             '"garbage":0.1}')
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="simulated seconds per real second (daily cycle)")
    parser.add_argument("--device-order", choices=("round-robin", "random"),
                        default="round-robin")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--run-id", default="",
                        help="seeds the event ids together with --seed, so every run has its "
                             "own ids while the readings stay those of the seed")
    parser.add_argument("--processes", type=int, default=1,
                        help="worker processes, each with its own Kafka client")
    parser.add_argument("--client", choices=CLIENTS, default=DEFAULT_CLIENT,
                        help=f"Kafka client library (default {DEFAULT_CLIENT}: half of "
                        "kafka-python's CPU per event on our 2-core machine)")
    parser.add_argument("--acks", choices=ACKS, default="all",
                        help="acknowledgement the producer waits for: 0 none (the ledger "
                             "records offset -1), 1 the leader, all every in-sync replica")
    parser.add_argument("--idempotence", action=argparse.BooleanOptionalAction, default=True,
                        help="idempotent producer (no duplicates from retries); needs "
                             "--acks all (default: on)")
    parser.add_argument("--sync-send", action="store_true",
                        help="wait for each record's ack before the next send (the naive "
                             "one-request-per-record design, for a baseline)")
    parser.add_argument("--delivery-timeout", type=float, default=120.0,
                        help="seconds a record may wait for its ack, retries included")
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--bootstrap", default=None,
                        help="Kafka bootstrap (default: the producer-kafka link, "
                             f"{Endpoints().producer_bootstrap} here)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder; ledger.parquet and produce-summary.json go there "
                             "(default runs/produce-<time>)")


def _json_arg(text: str | None, name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProducerError(f"{name} is not JSON: {exc}") from exc


def print_progress(progress: dict[str, Any]) -> None:
    p99 = progress.get("publish_delay_p99_ms")
    print(f"sent {progress['sent']:>9,}  acked {progress['acked']:>9,}  "
          f"failed {progress['failed']:>6,}  in flight {progress['in_flight']:>6,}  "
          f"rate {progress['rate_eps']:>9,.0f}/s  publish delay p99 "
          f"{'-' if p99 is None else f'{p99:,.1f} ms'}", flush=True)


def produce_main(args: argparse.Namespace) -> int:
    try:
        profile = _json_arg(args.profile, "--profile")
        kind_mix = _json_arg(getattr(args, "anomaly_mix", None), "--anomaly-mix")
        rate = args.rate if args.rate is not None or profile is not None else 100.0
        if args.duration is None and args.count is None:
            raise ProducerError("give --duration or --count")
        out = args.out or Path("runs") / time.strftime("produce-%Y%m%d-%H%M%S")
        producer = Producer(
            bootstrap=args.bootstrap, topic=args.topic, thermostats=args.thermostats,
            motion_sensors=args.motion_sensors, seed=args.seed,
            anomaly_rate=args.anomaly_rate, kind_mix=kind_mix,
            time_scale=getattr(args, "time_scale", 1.0),
            device_order=getattr(args, "device_order", "round-robin"),
            delivery_timeout_s=args.delivery_timeout, processes=args.processes,
            client=args.client, acks=getattr(args, "acks", "all"),
            idempotence=getattr(args, "idempotence", True),
            sync_send=getattr(args, "sync_send", False),
            run_id=getattr(args, "run_id", ""))
        target = f"profile {profile}" if profile is not None else f"{rate:g} events/s"
        length = (f"{args.duration:g} s" if args.duration is not None
                  else f"{args.count} events")
        print(f"producing to {producer.client_settings.bootstrap} topic {args.topic}: "
              f"{target}, {length}, ledger in {out}", flush=True)
        summary = producer.run(out, rate_eps=None if profile is not None else rate,
                               profile=profile, duration_s=args.duration, count=args.count,
                               on_progress=print_progress)
    except ProducerError as exc:
        print(f"iotbench produce: {exc}", file=sys.stderr)
        return 2
    (Path(out) / "produce-summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2), flush=True)
    if summary["interrupted"]:
        return 143 if summary["interrupted"] == "SIGTERM" else 130
    return 0 if summary["failed"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iotbench produce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return produce_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
