"""``python -m system.bridge``: poll MongoDB, write InfluxDB, until stopped (or N polls).

Secrets stay out of the command line (and so out of ``ps``): the Mongo URI may come from
``IOTBENCH_BRIDGE_MONGO_URI``, InfluxDB credentials come from ``INFLUX_USERNAME`` /
``INFLUX_PASSWORD`` (1.x) or ``INFLUX_TOKEN`` (2.x).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from system.config import Endpoints
from system.store_contract import DATABASE, PROCESSED

MONGO_URI_ENV = "IOTBENCH_BRIDGE_MONGO_URI"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m system.bridge", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mongo-uri", default=None,
                   help=f"MongoDB URI (default: ${MONGO_URI_ENV}, else the direct Mongo port)")
    p.add_argument("--mongo-database", default=DATABASE)
    p.add_argument("--influx-url", required=True, help="e.g. http://127.0.0.1:8086")
    p.add_argument("--database", default="iot", help="InfluxDB 1.x database (default iot)")
    p.add_argument("--org", default=None, help="InfluxDB 2.x organisation (with INFLUX_TOKEN)")
    p.add_argument("--bucket", default=None, help="InfluxDB 2.x bucket (with INFLUX_TOKEN)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls")
    p.add_argument("--polls", type=int, default=0, help="stop after N polls (0 = run on)")
    p.add_argument("--once", action="store_true", help="one poll, then exit (= --polls 1)")
    p.add_argument("--overlap-s", type=float, default=10.0,
                   help="re-read this far behind the watermark each poll (default 10)")
    p.add_argument("--chunk", type=int, default=5000, help="lines per InfluxDB write")
    p.add_argument("--no-resume", action="store_true",
                   help="copy everything instead of resuming from InfluxDB's newest point")
    p.add_argument("--heartbeat", type=Path, default=None,
                   help="touch this file after every successful poll (container healthcheck)")
    return p


def main(argv: list[str] | None = None) -> int:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    from system.bridge.copy import Bridge
    from system.bridge.influx import Influx, InfluxError

    args = build_parser().parse_args(argv)
    mongo_uri = args.mongo_uri or os.environ.get(MONGO_URI_ENV) or Endpoints().direct_mongo_uri
    influx = Influx(args.influx_url, args.database, os.environ.get("INFLUX_USERNAME") or None,
                    os.environ.get("INFLUX_PASSWORD") or None,
                    os.environ.get("INFLUX_TOKEN") or None, args.org, args.bucket)
    polls = 1 if args.once else args.polls
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000, tz_aware=True,
                         appname="iotbench-bridge")
    bridge = Bridge(client[args.mongo_database][PROCESSED], influx, overlap_s=args.overlap_s,
                    chunk=args.chunk)
    target = (f"{args.influx_url} bucket {args.bucket}" if influx.api == "v2"
              else f"{args.influx_url} database {args.database}")
    print(f"bridge: {args.mongo_database}.{PROCESSED} → {target} (InfluxDB {influx.api} API)",
          flush=True)
    done = 0
    try:
        resumed = False
        while not stop.is_set():
            started = time.monotonic()
            try:
                if not resumed:
                    bridge.ensure_indexes()
                if not resumed and not args.no_resume:
                    mark = bridge.resume()
                    print(f"bridge: resuming at stored_ms={mark}" if mark else
                          "bridge: nothing copied yet; starting from the beginning", flush=True)
                resumed = True
                result = bridge.poll()
                print(f"bridge: read {result.read} written {result.written} "
                      f"skipped {result.skipped} watermark_ms {result.watermark_ms}", flush=True)
                if args.heartbeat:
                    args.heartbeat.touch()
            except (PyMongoError, InfluxError) as exc:
                print(f"bridge: poll failed: {type(exc).__name__}: {exc}", file=sys.stderr,
                      flush=True)
                if polls:  # a bounded run reports the failure instead of retrying forever
                    return 1
            done += 1
            if polls and done >= polls:
                break
            stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    finally:
        client.close()
    return 0
