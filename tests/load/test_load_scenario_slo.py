"""A scenario with a ``load`` section and an API SLO it cannot meet exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

from load_helpers import LoadStack, run_cli

SCENARIO = """\
name: load-slo-fails
description: Locust on the dashboard with an impossible p95 objective.
seed: 5
duration_s: 30
warmup_s: 5
drain_timeout_s: 60
stack: {partitions: 1, workers: 1}
producer: {devices: 5, rate_eps: 50}
load:
  users: 6
  spawn_rate: 6
  start_s: 2
  duration_s: 20
  user_weights: {dashboard: 1, api: 1}
slo:
  - {metric: api.p95_ms, op: "<=", threshold: 0.001}
  - {metric: api.failure_ratio, op: "<=", threshold: 0.05}
"""


def test_scenario_with_failing_api_slo_exits_non_zero(load_stack: LoadStack,
                                                      tmp_path: Path) -> None:
    scenario = tmp_path / "load-slo.yaml"
    scenario.write_text(SCENARIO)
    runs = tmp_path / "runs"
    result = run_cli("benchmarks.cli", ["run", str(scenario), "--runs", str(runs)],
                     load_stack.env, timeout=400)
    output = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 1, output
    (run_dir,) = list(runs.iterdir())
    assert (run_dir / "locust_stats.csv").is_file(), output
    results = json.loads((run_dir / "results.json").read_text())
    assert results["api"]["requests"] > 0
    assert results["api"]["p95_ms"] > 0.001
    verdicts = {v["metric"]: v["passed"] for v in results["slo"]}
    assert verdicts == {"api.p95_ms": False, "api.failure_ratio": True}, results["slo"]
