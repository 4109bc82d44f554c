"""A 10 s headless Locust run hits every endpoint, with no failure, and writes its CSVs."""

from __future__ import annotations

import csv
from pathlib import Path

from load_helpers import LoadStack, run_cli, stats_rows

ENDPOINTS = {"/", "/api/stats", "/api/chart-data", "/api/data", "/api/anomalies",
             "/api/temperature/[device_id]"}


def test_headless_run_hits_every_endpoint_without_failure(load_stack: LoadStack,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "load"
    result = run_cli("load.cli", ["--headless", "-u", "24", "-r", "24", "-t", "10s",
                                  "--refresh-s", "2", "--out", str(out)],
                     load_stack.env, timeout=90)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv",
                 "locust_report.html"):
        assert (out / name).is_file(), f"{name} missing in {sorted(p.name for p in out.iterdir())}"
    rows = stats_rows(out)
    assert set(rows) >= ENDPOINTS, f"endpoints never hit: {ENDPOINTS - set(rows)}"
    for name in ENDPOINTS:
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, (name, rows[name])
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    with (out / "locust_failures.csv").open(newline="") as handle:
        assert list(csv.DictReader(handle)) == []
    with (out / "locust_stats_history.csv").open(newline="") as handle:
        history = list(csv.DictReader(handle))
    assert len({row["Timestamp"] for row in history}) >= 5, "history has too few samples"
    assert "Locust" in (out / "locust_report.html").read_text()
