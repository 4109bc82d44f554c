"""Compare two runs (or two sweeps) and flag regressions of B against baseline A.

A metric *regresses* when B is worse than A (by its direction: lower latency is better, higher
throughput is better) by more than ``max(tolerance · |A|, slack)``; integrity counts use no
tolerance (any increase is a regression). For sweeps, each matrix point present in both is
compared on the means, and a regression must additionally lie outside A's 95 % confidence
interval when A has one (so repetition noise is not flagged). A fault that recovered in A but
not in B is a regression.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .formatting import fmt
from .render_md import md_table
from .slo import lookup

LOWER, HIGHER = "lower", "higher"
# metric → (better direction, absolute slack, strict: ignore the relative tolerance)
RUN_METRICS: dict[str, tuple[str, float, bool]] = {
    "latency_ms.e2e.p50": (LOWER, 0.0, False),
    "latency_ms.e2e.p95": (LOWER, 0.0, False),
    "latency_ms.e2e.p99": (LOWER, 0.0, False),
    "latency_ms.e2e.max": (LOWER, 0.0, False),
    "latency_ms.visible.p99": (LOWER, 0.0, False),
    "throughput.stored_eps": (HIGHER, 0.0, False),
    "throughput.achieved_ratio": (HIGHER, 0.0, False),
    "lag.slope_eps": (LOWER, 1.0, False),
    "lag.max": (LOWER, 10.0, False),
    "integrity.lost": (LOWER, 0.0, True),
    "integrity.lost_in_kafka": (LOWER, 0.0, True),
    "integrity.lost_in_pipeline": (LOWER, 0.0, True),
    "integrity.storage_duplicates": (LOWER, 0.0, True),
    "integrity.undrained": (LOWER, 0.0, True),
    "integrity.unexpected": (LOWER, 0.0, True),
    "api.total.p99_ms": (LOWER, 0.0, False),
    "api.total.failure_ratio": (LOWER, 0.001, False),
}
DETECTOR_METRICS: dict[str, tuple[str, float, bool]] = {
    "precision": (HIGHER, 0.0, False), "recall": (HIGHER, 0.0, False),
    "f1": (HIGHER, 0.0, False), "nab.score": (HIGHER, 1.0, False),
}


@dataclass(frozen=True)
class ComparisonRow:
    scope: str
    metric: str
    a: Any
    b: Any
    regression: bool
    note: str = ""

    @property
    def delta(self) -> float | None:
        if isinstance(self.a, (int, float)) and isinstance(self.b, (int, float)):
            return float(self.b) - float(self.a)
        return None


@dataclass
class Comparison:
    a: Path
    b: Path
    tolerance: float
    rows: list[ComparisonRow] = field(default_factory=list)

    @property
    def regressions(self) -> list[ComparisonRow]:
        return [row for row in self.rows if row.regression]

    def to_markdown(self) -> str:
        header = (f"### iotbench compare: `{self.a}` (A) → `{self.b}` (B), "
                  f"tolerance {self.tolerance:g}\n\n")
        rows = [[row.scope, row.metric, row.a, row.b, row.delta,
                 "⚠️ regression" if row.regression else "", row.note] for row in self.rows]
        verdict = (f"\n**{len(self.regressions)} regression(s).**\n" if self.regressions
                   else "\nNo regression.\n")
        return header + md_table(["scope", "metric", "A", "B", "Δ", "flag", "note"], rows) + verdict

    def to_text(self) -> str:
        lines = [f"A = {self.a}", f"B = {self.b}", f"tolerance = {self.tolerance:g}", ""]
        width = max([len(f"{r.scope} {r.metric}") for r in self.rows] + [10])
        for row in self.rows:
            flag = "REGRESSION" if row.regression else ""
            lines.append(f"{(row.scope + ' ' + row.metric).strip():<{width}}  {fmt(row.a):>12}  "
                         f"{fmt(row.b):>12}  {flag} {row.note}".rstrip())
        lines.append(f"\n{len(self.regressions)} regression(s)")
        return "\n".join(lines) + "\n"


def is_worse(a: float, b: float, direction: str, tolerance: float, slack: float,
             strict: bool) -> bool:
    worse_by = (b - a) if direction == LOWER else (a - b)
    allowed = slack if strict else max(tolerance * abs(a), slack)
    return worse_by > allowed


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _metrics_for(results: dict[str, Any]) -> dict[str, tuple[str, float, bool]]:
    metrics = dict(RUN_METRICS)
    for detector in sorted(results.get("accuracy") or {}):
        for name, spec in DETECTOR_METRICS.items():
            metrics[f"accuracy.{detector}.{name}"] = spec
    return metrics


def compare_run_results(a: dict[str, Any], b: dict[str, Any], tolerance: float,
                        scope: str = "",
                        get: Callable[[dict[str, Any], str], Any] = lookup,
                        ci: Callable[[dict[str, Any], str], float | None] | None = None,
                        ) -> list[ComparisonRow]:
    rows = []
    for metric, (direction, slack, strict) in _metrics_for(a).items():
        value_a, value_b = get(a, metric), get(b, metric)
        if value_a is None and value_b is None:
            continue
        number_a, number_b = _number(value_a), _number(value_b)
        regression, note = False, ""
        if number_a is not None and number_b is not None:
            regression = is_worse(number_a, number_b, direction, tolerance, slack, strict)
            half_width = ci(a, metric) if ci else None
            if regression and half_width is not None and abs(number_b - number_a) <= half_width:
                regression, note = False, "within A's 95 % CI"
        elif number_a is not None:
            regression, note = True, "not reported by B"
        rows.append(ComparisonRow(scope, metric, value_a, value_b, regression, note))
    return rows


def compare_recovery(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> list[ComparisonRow]:
    rows = []
    faults_b = {fault["id"]: fault for fault in b.get("recovery") or []}
    for fault in a.get("recovery") or []:
        other = faults_b.get(fault["id"])
        if other is None:
            continue
        metric = f"recovery.{fault['id']}.recovery_s"
        time_a, time_b = fault.get("recovery_s"), other.get("recovery_s")
        if time_a is not None and time_b is None:
            rows.append(ComparisonRow("", metric, time_a, other["status"], True, "not recovered"))
        elif time_a is not None and time_b is not None:
            rows.append(ComparisonRow("", metric, time_a, time_b,
                                      is_worse(time_a, time_b, LOWER, tolerance, 1.0, False)))
    return rows


def load_results(directory: Path) -> dict[str, Any]:
    """``results.json`` of a run or sweep folder, built from the raw files if absent."""
    path = Path(directory) / "results.json"
    if not path.exists():
        from . import build_report, build_sweep_report
        if (Path(directory) / "sweep.json").exists():
            build_sweep_report(Path(directory))
        else:
            build_report(Path(directory))
    return json.loads(path.read_text(encoding="utf-8"))


def _point_value(point: dict[str, Any], metric: str) -> Any:
    return (point["metrics"].get(metric) or {}).get("mean")


def _point_ci(point: dict[str, Any], metric: str) -> float | None:
    return (point["metrics"].get(metric) or {}).get("ci95")


def compare(a: Path, b: Path, tolerance: float = 0.1) -> Comparison:
    """Side-by-side comparison of two runs or two sweeps; B is judged against A."""
    results_a, results_b = load_results(Path(a)), load_results(Path(b))
    comparison = Comparison(Path(a), Path(b), tolerance)
    if results_a.get("kind") == "sweep" and results_b.get("kind") == "sweep":
        points_b = {point["label"]: point for point in results_b.get("points", [])}
        for point in results_a.get("points", []):
            other = points_b.get(point["label"])
            if other is None:
                continue
            detectors = {m.split(".")[1] for m in point["metrics"] if m.startswith("accuracy.")}
            shaped_a = {"accuracy": {d: {} for d in detectors}, **point}
            comparison.rows += [row for row in compare_run_results(
                shaped_a, other, tolerance, point["label"], _point_value, _point_ci)
                if row.metric in point["metrics"]]
    else:
        comparison.rows += compare_run_results(results_a, results_b, tolerance)
        comparison.rows += compare_recovery(results_a, results_b, tolerance)
    return comparison
