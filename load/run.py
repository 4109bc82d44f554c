"""Locust as a library (as ``locust/examples/use_as_lib.py``), in a process of its own.

    python -m load.run --host http://127.0.0.1:5000 --users 10 --spawn-rate 5 \\
        --run-time 30 --csv-dir runs/<run-id>

writes ``locust_stats.csv``, ``locust_stats_history.csv``, ``locust_failures.csv`` (and
``locust_exceptions.csv``) plus ``locust_report.html`` into ``--csv-dir``; SIGTERM or SIGINT
ends the test early and still writes them.

Why a process and not a thread of the runner: importing ``locust`` runs
``gevent.monkey.patch_all()``, which swaps ``threading``, ``socket`` and ``time.sleep`` for
gevent's versions process-wide. The runner's kafka-python and pymongo clients, its samplers and
the fault scheduler are real OS threads; patched after they exist they deadlock or stall, and
Locust's greenlets would only run while the runner's thread yields. So Locust lives here, and
the runner talks to it through ``load.handle.start_load`` (which never imports locust).
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User
from locust.env import Environment
from locust.html import get_html_report
from locust.log import setup_logging
from locust.runners import STATE_STOPPED
from locust.shape import LoadTestShape
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter, stats_history

PREFIX = "locust"
HTML_NAME = "locust_report.html"


class LocustDriver:
    """One local Locust runner over ``user_classes``; start, wait, finish."""

    def __init__(self, user_classes: list[type[User]], host: str, csv_dir: Path,
                 prefix: str = PREFIX, html: bool = True) -> None:
        self.csv_dir = Path(csv_dir)
        self.csv_dir.mkdir(parents=True, exist_ok=True)
        self.user_classes, self.host, self.prefix, self.html = user_classes, host, prefix, html
        self.env: Environment | None = None
        self._greenlets: list[gevent.Greenlet] = []
        self._stop_requested = False
        self._deadline: float | None = None

    def start(self, users: int, spawn_rate: float, shape: LoadTestShape | None = None,
              duration_s: float | None = None) -> None:
        env = Environment(user_classes=self.user_classes, host=self.host, shape_class=shape)
        self.env = env
        runner = env.create_local_runner()
        self.writer = StatsCSVFileWriter(env, PERCENTILES_TO_REPORT,
                                         str(self.csv_dir / self.prefix), full_history=True)
        self._greenlets = [gevent.spawn(stats_history, runner), gevent.spawn(self.writer)]
        env.events.init.fire(environment=env, runner=runner, web_ui=None)
        if shape is not None:
            runner.start_shape()
        else:
            runner.start(users, spawn_rate=spawn_rate)
        self._deadline = time.monotonic() + duration_s if duration_s else None

    def request_stop(self) -> None:
        """Safe from a signal handler: ``wait()`` returns soon after."""
        self._stop_requested = True

    def _finished(self) -> bool:
        assert self.env is not None and self.env.runner is not None
        if self._stop_requested:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return True
        # a shape ends the test by returning None from tick(): the runner stops itself
        return self.env.shape_class is not None and self.env.runner.state == STATE_STOPPED

    def wait(self, poll_s: float = 0.25) -> None:
        while not self._finished():
            gevent.sleep(poll_s)

    def finish(self) -> dict[str, Any]:
        """Stop the users, write the final CSV rows and the HTML report; a short summary."""
        assert self.env is not None and self.env.runner is not None
        runner = self.env.runner
        runner.quit()
        for greenlet in self._greenlets:
            greenlet.kill(block=True)
        self._final_csv()
        if self.html:
            (self.csv_dir / HTML_NAME).write_text(
                get_html_report(self.env, show_download_link=False), encoding="utf-8")
        total = self.env.stats.total
        return {"requests": total.num_requests, "failures": total.num_failures,
                "p95_ms": total.get_response_time_percentile(0.95)}

    def _final_csv(self) -> None:
        """The writer greenlet rewrites the files once a second; write the end state once more
        so that requests of the last second are counted, then close (which flushes)."""
        w = self.writer
        for handle, csv_writer, write in (
                (w.requests_csv_filehandle, w.requests_csv_writer, w.requests_csv),
                (w.failures_csv_filehandle, w.failures_csv_writer, w.failures_csv),
                (w.exceptions_csv_filehandle, w.exceptions_csv_writer, w.exceptions_csv)):
            handle.seek(0)
            handle.truncate()
            write(csv_writer)  # header + rows
        history_row = getattr(w, "_stats_history_data_rows", None)  # private in locust 2.x
        if history_row is not None:
            history_row(w.stats_history_csv_writer, time.time())
        w.close_files()


def user_classes(module_name: str, names: list[str] | None,
                 weights: dict[str, float] | None = None) -> list[type[User]]:
    """The concrete User classes of a module (or the named ones), with weights applied;
    a weight of 0 leaves the class out."""
    module = importlib.import_module(module_name)
    found = {n: v for n, v in vars(module).items() if isinstance(v, type)
             and issubclass(v, User) and not getattr(v, "abstract", True)}
    chosen = [found[n] for n in names] if names else list(found.values())
    if weights:  # scenario weights may be fractions; Locust's are whole numbers
        for cls in chosen:
            cls.weight = max(0, round(float(weights.get(cls.__name__, cls.weight)) * 10))
    return [cls for cls in chosen if cls.weight > 0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run Locust in-process against the dashboard.")
    p.add_argument("--host", required=True, help="dashboard base URL")
    p.add_argument("--users", type=int, default=10)
    p.add_argument("--spawn-rate", type=float, default=5.0)
    p.add_argument("--run-time", type=float, default=None, help="seconds (default: until SIGTERM)")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before starting")
    p.add_argument("--csv-dir", required=True, type=Path)
    p.add_argument("--module", default="load.locustfile", help="module with the User classes")
    p.add_argument("--classes", default="", help="comma-separated class names (default: all)")
    p.add_argument("--weights", default="{}", help='JSON {"ClassName": weight}')
    p.add_argument("--shape", default="{}", help="JSON load spec for load.shapes.shape_from_spec")
    p.add_argument("--no-html", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("INFO")
    from load.shapes import shape_from_spec

    classes = user_classes(args.module, [c for c in args.classes.split(",") if c],
                           json.loads(args.weights))
    driver = LocustDriver(classes, args.host, args.csv_dir, html=not args.no_html)
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, driver.request_stop)
    end = time.monotonic() + args.delay
    while time.monotonic() < end and not driver._stop_requested:
        gevent.sleep(0.1)
    shape = shape_from_spec(json.loads(args.shape))
    driver.start(args.users, args.spawn_rate, shape, args.run_time)
    driver.wait()
    summary = driver.finish()
    print(json.dumps({"locust": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
