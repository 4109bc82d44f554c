"""The two processes a run owns: the Spark driver (the processor job) and the producer."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from system.stack import process
from system.stack.errors import ServiceError
from system.stack.process import ProcessRecord
from system.stack.spark import spark_env
from system.stack.wait import Predicate, wait_until

ROOT = Path(__file__).resolve().parents[1]


class Child:
    """One child process with its log, started in its own process group."""

    name = "child"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.popen: subprocess.Popen | None = None
        self.record: ProcessRecord | None = None

    def _launch(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.popen, self.record = process.start(
            self.name, cmd, self.log, env={"PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.record.pid if self.record else None

    def log_has(self, pattern: str, since: int = 0) -> bool:
        try:
            return re.search(pattern, self.log.read_text(errors="replace")[since:]) is not None
        except FileNotFoundError:
            return False

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def kill(self) -> None:
        if self.record:
            process.kill(self.record)

    def pause(self, paused: bool) -> None:
        if self.record:
            process.pause(self.record, paused)

    def stop(self, timeout_s: float = 30) -> str:
        return process.stop(self.record, timeout_s) if self.record else "not started"

    def interrupt(self, timeout_s: float) -> int | None:
        """SIGINT (the child's own clean shutdown), then stop() if it does not exit."""
        if not self.alive():
            return self.popen.returncode if self.popen else None
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGINT)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            return self.popen.poll()


class ProcessorProcess(Child):
    """``python -m system.processor.job`` against the target's Spark master."""

    name = "spark-driver"

    def __init__(self, run_dir: Path, args: list[str], spark_home: Path,
                 spark_ui: str | None = None) -> None:
        super().__init__(run_dir / "logs" / "spark-driver.log")
        self.args = args
        self.spark_home = spark_home
        self.spark_ui = spark_ui

    def start(self, timeout_s: float = 180) -> float:
        """Start the driver and wait for its query to run; returns seconds it took."""
        if self.spark_ui:  # after a kill -9 the master first frees the dead app's cores
            self._await_app_gone()
        since = self.log_size()
        self._launch([sys.executable, "-m", "system.processor.job", *self.args],
                     env=spark_env(self.spark_home))
        started = time.monotonic()
        try:
            wait_until(self.name, Predicate(lambda: self.log_has(r"processor: query \S+ started",
                                                                 since), "the streaming query"),
                       timeout_s, alive=self.alive,
                       state=lambda: process.describe(self.popen, self.record),  # type: ignore
                       log_tail=lambda: process.log_tail(self.log, 30),
                       hint="Spark needs a free executor slot: is another application "
                            "holding the worker's cores? See the master UI.")
        except ServiceError:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self, timeout_s: float = 60) -> str:
        """SIGTERM to the Python driver alone: it stops its query and then its JVM. (A signal
        to the whole group would kill the JVM under it mid-batch.) Forced after timeout_s."""
        if not self.alive():
            return "not running"
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
            ended = "stopped"
        except subprocess.TimeoutExpired:
            ended = super().stop(5)
        if self.spark_ui:
            self._await_app_gone()
        return ended

    def lose_checkpoint(self, starting_offsets: str) -> str:
        """Delete the query's checkpoint (offsets, commits, state); returns what was deleted.
        The next start begins a new query at ``starting_offsets``."""
        path = Path(self.args[self.args.index("--checkpoint") + 1])
        shutil.rmtree(path, ignore_errors=True)
        self.args[self.args.index("--starting-offsets") + 1] = starting_offsets
        return str(path)

    def _await_app_gone(self, timeout_s: float = 30) -> None:
        """Executors of a stopped driver may still finish a task's writes: wait until the
        master no longer lists our application, so the next run starts clean."""
        from system.stack.spark import master_state

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                apps = master_state(self.spark_ui).get("activeapps", [])
            except OSError:
                return
            if not any(a.get("name") == "iotbench-processor" for a in apps):
                return
            time.sleep(0.5)


class ProducerProcess(Child):
    """``python -m system.producer.cli`` writing the ledger into the run folder."""

    name = "producer"
    PROGRESS = re.compile(r"sent\s+([\d,]+)\s+acked\s+([\d,]+)\s+failed\s+([\d,]+).*?rate\s+"
                          r"([\d,.]+)/s")

    def __init__(self, run_dir: Path, args: list[str],
                 env: dict[str, str] | None = None) -> None:
        super().__init__(run_dir / "logs" / "producer.log")
        self.args = args
        self.env = env
        """Extra environment (libfaketime's, for a ``clock_skew`` fault)."""
        self._last: dict[str, Any] = {}

    def start(self) -> None:
        self._launch([sys.executable, "-m", "system.producer.cli", *self.args], env=self.env)

    def progress(self) -> dict[str, Any]:
        """The last progress line the producer printed (sent, acked, failed, rate), or its
        final summary once it has written one."""
        summary = self.log.parent.parent / "produce-summary.json"
        if not self.alive() and summary.exists():
            with contextlib.suppress(ValueError, OSError):
                done = json.loads(summary.read_text())
                self._last = {k: done[k] for k in ("sent", "acked", "failed")}
                self._last["rate_eps"] = done.get("achieved_eps", 0.0)
            return self._last
        for line in reversed(process.log_tail(self.log, 5)):
            match = self.PROGRESS.search(line)
            if match:
                sent, acked, failed, rate = (float(g.replace(",", "")) for g in match.groups())
                self._last = {"sent": int(sent), "acked": int(acked), "failed": int(failed),
                              "rate_eps": rate}
                break
        return self._last
