"""Helpers of the load tests (a module of its own: every test folder has a conftest.py)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from system.stack.native import NativeStack

PORT_OFFSET = "4000"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class LoadStack:
    stack: NativeStack
    state: Path

    @property
    def dashboard_url(self) -> str:
        return self.stack.endpoints.dashboard_url

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that must use this stack."""
        return {**os.environ, "IOTBENCH_PORT_OFFSET": PORT_OFFSET,
                "IOTBENCH_STATE": str(self.state)}


def run_cli(module: str, args: list[str], env: dict[str, str], timeout: float
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def stats_rows(csv_dir: Path) -> dict[str, dict[str, Any]]:
    """Rows of locust_stats.csv by Name (the total row is 'Aggregated')."""
    with (csv_dir / "locust_stats.csv").open(newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}
