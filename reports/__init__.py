"""Reports: analysis (pandas) of a run folder and its rendering.

Entry points (the ``iotbench`` CLI calls these):

- :func:`build_report` (run folder → ``results.json``, ``report.html``, ``summary.md``,
  ``junit.xml``), :func:`build_sweep_report` (sweep folder, see :mod:`reports.sweep`);
- :func:`compare` (two runs or sweeps → :class:`reports.compare.Comparison`);
- :func:`report_main` / :func:`compare_main`: the CLI's exit codes (0 = all SLOs and
  expectations passed / no regression, 1 otherwise).

Reports read only the run folder, so every output can be rebuilt from the raw files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .analysis import analyze_run
from .compare import Comparison, compare
from .recovery import RecoveryTolerance
from .render_html import render_run_html, render_sweep_html
from .render_junit import render_junit
from .render_md import render_run_md, render_sweep_md
from .results import Results, build_results, lookup, to_json, write_results
from .rundir import load_run

__all__ = ["Comparison", "RecoveryTolerance", "Results", "build_report", "build_sweep_report",
           "compare", "compare_main", "lookup", "report_main"]

OUTPUT_FILES = ("results.json", "report.html", "summary.md", "junit.xml")


def build_report(run_dir: Path | str,
                 tolerance: RecoveryTolerance | None = None) -> Results:
    """Analyse ``run_dir`` and write its four outputs next to the raw files."""
    run_dir = Path(run_dir)
    analysis = analyze_run(load_run(run_dir), tolerance or RecoveryTolerance())
    results = build_results(analysis)
    write_results(results, run_dir)
    (run_dir / "report.html").write_text(render_run_html(analysis, results), encoding="utf-8")
    (run_dir / "summary.md").write_text(render_run_md(results), encoding="utf-8")
    suite = f"iotbench.{results['run'].get('run_id') or run_dir.name}"
    (run_dir / "junit.xml").write_text(
        render_junit(results["slo"], suite, results["expectations"], results["run"]),
        encoding="utf-8")
    return Results(results, run_dir)


def build_sweep_report(sweep_dir: Path | str) -> Results:
    """Build every run's report, then the sweep's own four outputs in ``sweep_dir``."""
    from . import plots
    from .sweep import CURVE_METRICS, CURVE_PARAMETERS, curve_table, read_sweep, sweep_results

    sweep_dir = Path(sweep_dir)
    entries = read_sweep(sweep_dir)
    run_results = [build_report(entry["run_path"]).data for entry in entries]
    results = sweep_results(sweep_dir, entries, run_results)
    curves: dict[str, bytes] = {}
    for parameter in CURVE_PARAMETERS:
        for metric, label in CURVE_METRICS.items():
            table = curve_table(results["points"], parameter, metric)
            if not table.empty:
                curves[f"{metric} vs {parameter}"] = plots.sweep_curve_png(table, parameter,
                                                                           metric, label)
    write_results(results, sweep_dir)
    results = Results(json.loads(to_json(results)), sweep_dir)
    (sweep_dir / "report.html").write_text(render_sweep_html(results.data, curves),
                                           encoding="utf-8")
    (sweep_dir / "summary.md").write_text(render_sweep_md(results.data), encoding="utf-8")
    (sweep_dir / "junit.xml").write_text(
        render_junit(results.data["slo"], f"iotbench.sweep.{sweep_dir.name}"), encoding="utf-8")
    return results


def report_main(run_dir: Path | str) -> int:
    """Rebuild the report of a run (or sweep) folder; 0 if every SLO passed, else 1."""
    directory = Path(run_dir)
    results = (build_sweep_report(directory) if (directory / "sweep.json").exists()
               else build_report(directory))
    for verdict in results.slo + results.expectations:
        mark = "PASS" if verdict["passed"] else "FAIL"
        print(f"{mark}  {verdict['name']}  (value: {verdict['value']}) {verdict['message']}")
    status = (results.data.get("run") or {}).get("status")
    incomplete = status not in (None, "completed")
    if incomplete:
        print(f"run status: {status}")
    print(f"report: {directory / 'report.html'}")
    return 0 if results.passed and not incomplete else 1


def compare_main(a: Path | str, b: Path | str, tolerance: float = 0.1) -> int:
    """Print the comparison of B against A as Markdown; 0 if no regression, else 1."""
    comparison = compare(Path(a), Path(b), tolerance)
    sys.stdout.write(comparison.to_markdown())
    return 1 if comparison.regressions else 0
