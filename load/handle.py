"""The runner's side of the load: start ``python -m load.run`` for a scenario's ``load`` section.

Never imports locust (which monkey-patches the whole process with gevent; see load/run.py):
the Locust run is a child process, and this handle stops it with SIGTERM, on which it writes
its final CSVs and HTML report into the run folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASS_FOR_WEIGHT = {"dashboard": "DashboardUser", "api": "ApiClientUser"}


class LoadSection(Protocol):
    """What start_load reads of ``benchmarks.scenario.sections.Load``."""

    users: int
    spawn_rate: float
    start_s: float
    duration_s: float | None

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class LoadHandle:
    """A running Locust child process writing ``locust_*.csv`` into ``csv_dir``."""

    def __init__(self, command: list[str], csv_dir: Path, env: dict[str, str] | None = None
                 ) -> None:
        self.command, self.csv_dir = command, Path(csv_dir)
        (self.csv_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = self.csv_dir / "logs" / "locust.log"
        self._log = self.log_path.open("ab")
        self.started_at = time.time()
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Exit code once Locust ended by itself; ``None`` if still running at ``timeout``."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._log.close()
        return code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (Locust writes its final CSVs and report), then SIGKILL after ``timeout``."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code

    def tail(self, lines: int = 20) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def load_command(host: str, csv_dir: Path, *, users: int, spawn_rate: float,
                 run_time_s: float | None, delay_s: float = 0.0,
                 module: str = "load.locustfile", classes: list[str] | None = None,
                 weights: dict[str, float] | None = None,
                 shape: dict[str, Any] | None = None) -> list[str]:
    command = [sys.executable, "-m", "load.run", "--host", host, "--csv-dir", str(csv_dir),
               "--users", str(users), "--spawn-rate", str(spawn_rate), "--module", module,
               "--delay", str(delay_s)]
    if run_time_s is not None:
        command += ["--run-time", str(run_time_s)]
    if classes:
        command += ["--classes", ",".join(classes)]
    if weights:
        command += ["--weights", json.dumps(weights)]
    if shape:
        command += ["--shape", json.dumps(shape)]
    return command


def start_load(load_section: LoadSection, dashboard_url: str, run_dir: Path, *,
               run_duration_s: float | None = None,
               env: dict[str, str] | None = None) -> LoadHandle:
    """Start the scenario's load now; it begins ``start_s`` later and lasts ``duration_s``
    (default: until ``run_duration_s`` after now, else until ``stop()``)."""
    spec = load_section.model_dump(mode="json")
    window = load_section.duration_s
    if window is None and run_duration_s is not None:
        window = run_duration_s - load_section.start_s
    spec["run_time_s"] = window
    weights = {CLASS_FOR_WEIGHT[k]: float(v) for k, v in spec.get("user_weights", {}).items()}
    command = load_command(dashboard_url, run_dir, users=load_section.users,
                           spawn_rate=load_section.spawn_rate, run_time_s=window,
                           delay_s=load_section.start_s, weights=weights,
                           shape=spec if spec.get("shape") in ("steps", "spike") else None)
    return LoadHandle(command, run_dir, env)
