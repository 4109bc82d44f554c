"""200 ms of latency on dashboard-mongo shows in what API clients feel: p95 rises ≥ 150 ms.

Runs Locust the way the scenario runner does (``load.handle`` → ``python -m load.run``, the
library in a process of its own) with API clients only: every ``/api/temperature`` request
reads ``device_stats`` through the link, and ``/api/data`` reads ``recent_events`` whenever
its 0.5 s bounded-staleness snapshot has expired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from load_helpers import LoadStack, stats_rows

from load.handle import LoadHandle, load_command

RUN_S = 10


def _run(load_stack: LoadStack, out: Path) -> dict[str, dict[str, Any]]:
    command = load_command(load_stack.dashboard_url, out, users=8, spawn_rate=8,
                           run_time_s=RUN_S, classes=["ApiClientUser"])
    handle = LoadHandle(command, out, load_stack.env)
    code = handle.wait(RUN_S + 60)
    assert code == 0, f"Locust exited {code}:\n{handle.tail()}"
    return stats_rows(out)


def _p95(rows: dict[str, dict[str, Any]], name: str) -> float:
    return float(rows[name]["95%"])


def test_latency_toxic_raises_api_p95(load_stack: LoadStack, tmp_path: Path) -> None:
    links = load_stack.stack.links
    links.reset()
    baseline = _run(load_stack, tmp_path / "baseline")
    links.add_toxic("dashboard-mongo", "latency", {"latency": 200})
    try:
        slowed = _run(load_stack, tmp_path / "toxic")
    finally:
        links.reset()

    names = ("Aggregated", "/api/temperature/[device_id]", "/api/data")
    figures = {n: (_p95(baseline, n), _p95(slowed, n)) for n in names}
    print("p95 ms (baseline, with 200 ms toxic):", figures)
    for name in ("Aggregated", "/api/temperature/[device_id]"):
        before, after = figures[name]
        assert after - before >= 150, f"{name}: p95 {before} → {after} ms, expected ≥ +150"
    assert int(slowed["Aggregated"]["Failure Count"]) == 0, "latency alone must not fail requests"
