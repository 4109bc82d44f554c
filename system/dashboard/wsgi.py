"""Serve the dashboard with waitress: ``python -m system.dashboard.wsgi --port 5000``."""

from __future__ import annotations

import argparse
import logging

import waitress

from system.config import HOST, Ports

from . import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the iotbench dashboard with waitress.")
    parser.add_argument("--host", default=HOST, help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=Ports.from_env().dashboard, help="port (default %(default)s)"
    )
    parser.add_argument(
        "--mongo-uri",
        default=None,
        help="Mongo URI (default: $IOTBENCH_DASHBOARD_MONGO_URI, else the dashboard-mongo link)",
    )
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    parser.add_argument(
        "--stats-cache-seconds",
        type=float,
        default=None,
        help="bounded staleness of /api/stats and /api/chart-data (default 1.0)",
    )
    parser.add_argument(
        "--recent-cache-seconds",
        type=float,
        default=None,
        help="bounded staleness of /api/data, /api/anomalies and temperature series "
        "(default min(0.5, stats cache))",
    )
    parser.add_argument(
        "--mongo-socket-timeout-ms",
        type=int,
        default=None,
        help="give up on a Mongo reply after this long and answer 503 (default 5000)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config: dict[str, object] = {}
    if args.mongo_uri:
        config["MONGO_URI"] = args.mongo_uri
    if args.stats_cache_seconds is not None:
        config["STATS_CACHE_SECONDS"] = args.stats_cache_seconds
    if args.recent_cache_seconds is not None:
        config["RECENT_CACHE_SECONDS"] = args.recent_cache_seconds
    if args.mongo_socket_timeout_ms is not None:
        config["MONGO_SOCKET_TIMEOUT_MS"] = args.mongo_socket_timeout_ms
    app = create_app(config)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="iotbench")


if __name__ == "__main__":
    main()
