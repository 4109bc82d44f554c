"""Sweep folders (mean and Student-t CI per point) and run/sweep comparison."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reports_factory import write_run_folder

import reports
from reports.render_html import SWEEP_SECTIONS
from reports.stats import mean_ci95


def make_sweep(sweep_dir: Path, slow_by: float = 0.0) -> Path:
    entries = []
    for partitions in (1, 2):
        for repetition in range(2):
            name = f"p{partitions}-r{repetition}"
            delay = 0.01 * repetition + 0.05 * partitions + slow_by
            write_run_folder(sweep_dir / name, events=1000, with_locust=False, with_fault=False,
                             extra_delay_s=delay)
            entries.append({"run_dir": name, "repetition": repetition,
                            "point": {"stack.partitions": partitions,
                                      "producer.rate_eps": 50}})
    (sweep_dir / "sweep.json").write_text(json.dumps({"points": entries}))
    return sweep_dir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, reports.Results]:
    sweep_dir = make_sweep(tmp_path_factory.mktemp("sweeps") / "baseline")
    return sweep_dir, reports.build_sweep_report(sweep_dir)


def test_sweep_points_have_mean_and_student_t_ci(sweep: tuple[Path, reports.Results]) -> None:
    sweep_dir, results = sweep
    points = results.data["points"]
    assert [p["label"] for p in points] == ["producer.rate_eps=50, stack.partitions=1",
                                            "producer.rate_eps=50, stack.partitions=2"]
    for point in points:
        assert point["n"] == 2
        p99 = point["metrics"]["latency_ms.e2e.p99"]
        run_values = [json.loads((sweep_dir / d / "results.json").read_text())
                      ["latency_ms"]["e2e"]["p99"] for d in point["run_dirs"]]
        expected = mean_ci95(run_values)
        assert p99["mean"] == pytest.approx(expected["mean"], abs=1e-6)
        assert p99["ci95"] == pytest.approx(expected["ci95"], abs=1e-6)
    assert results.data["capacity"][0]["capacity_eps"] == 50.0


def test_sweep_outputs(sweep: tuple[Path, reports.Results]) -> None:
    sweep_dir, results = sweep
    page = (sweep_dir / "report.html").read_text()
    assert re.findall(r"<h2>([^<]+)</h2>", page) == SWEEP_SECTIONS
    assert page.count("data:image/png;base64,") == 2       # throughput and p99 vs partitions
    assert len(results.slo) == 4 * 3
    assert (sweep_dir / "summary.md").read_text().startswith("## iotbench sweep")
    assert reports.report_main(sweep_dir) == 0


def test_compare_identical_runs_has_no_regression(tmp_path: Path) -> None:
    run = write_run_folder(tmp_path / "a", with_locust=False)
    comparison = reports.compare(run, run)
    assert comparison.rows and not comparison.regressions
    assert reports.compare_main(run, run) == 0


def test_compare_flags_lost_events_and_slower_latency(tmp_path: Path) -> None:
    good = write_run_folder(tmp_path / "good", with_locust=False)
    bad = write_run_folder(tmp_path / "bad", with_locust=False, missing=3, extra_delay_s=2.0)
    comparison = reports.compare(good, bad, tolerance=0.1)
    flagged = {row.metric for row in comparison.regressions}
    assert {"integrity.lost", "latency_ms.e2e.p50", "latency_ms.e2e.p99"} <= flagged
    assert "throughput.stored_eps" not in flagged
    assert "regression" in comparison.to_markdown()
    assert reports.compare_main(good, bad) == 1
    assert not reports.compare(bad, good).regressions      # B better than A: nothing flagged


def test_compare_sweeps_uses_points(sweep: tuple[Path, reports.Results], tmp_path: Path) -> None:
    baseline, _ = sweep
    slower = make_sweep(tmp_path / "slower", slow_by=3.0)
    comparison = reports.compare(baseline, slower)
    flagged = {(row.scope, row.metric) for row in comparison.regressions}
    assert ("producer.rate_eps=50, stack.partitions=1", "latency_ms.e2e.p50") in flagged
    assert not reports.compare(baseline, baseline).regressions
