"""Sweeps: a folder of run folders, listed in ``sweep.json``.

``sweep.json`` = ``{"points": [{"run_dir": "...", "point": {"stack.partitions": 2, ...},
"repetition": 0}, ...]}`` (``run_dir`` relative to the sweep folder, or absolute).

Per matrix point (runs with the same ``point``), every metric of :data:`SWEEP_METRICS` gets the
mean and the 95 % confidence interval over repetitions with Student's t
(:func:`reports.stats.mean_ci95`). Curves show throughput and p99 against ``stack.partitions``
and ``stack.workers`` (one line per combination of the other parameters). Capacity per stack
setting (all parameters but ``producer.rate_eps``) = the highest probed rate at and below which
every run was sustainable — each run judged by the one rule of :mod:`reports.sustainability`,
and the capacity taken by :func:`reports.sustainability.capacity_from_probes` (monotone: a
failure at a lower rate caps it), exactly as ``iotbench capacity`` computes ``capacity.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .slo import lookup
from .stats import mean_ci95
from .sustainability import capacity_from_probes, judge

SWEEP_METRICS = [
    "throughput.stored_eps", "throughput.achieved_ratio", "latency_ms.e2e.p50",
    "latency_ms.e2e.p99", "latency_ms.e2e.max", "lag.slope_eps", "integrity.lost",
    "integrity.storage_duplicates", "integrity.undrained",
]
CURVE_PARAMETERS = ["stack.partitions", "stack.workers"]
CURVE_METRICS = {"throughput.stored_eps": "stored events/s", "latency_ms.e2e.p99": "e2e p99 ms"}
RATE_PARAMETER = "producer.rate_eps"


def read_sweep(sweep_dir: Path) -> list[dict[str, Any]]:
    """The entries of ``sweep.json`` with ``run_path`` resolved against the sweep folder."""
    manifest = json.loads((Path(sweep_dir) / "sweep.json").read_text(encoding="utf-8"))
    entries = manifest.get("points", manifest) if isinstance(manifest, dict) else manifest
    resolved = []
    for entry in entries:
        run_path = Path(entry["run_dir"])
        if not run_path.is_absolute():
            run_path = Path(sweep_dir) / run_path
        resolved.append({**entry, "run_path": run_path, "point": entry.get("point") or {},
                         "repetition": int(entry.get("repetition", 0))})
    return resolved


def point_label(point: dict[str, Any], exclude: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{key}={point[key]}" for key in sorted(point) if key not in exclude)


def metric_names(run_results: list[dict[str, Any]]) -> list[str]:
    detectors = sorted({d for r in run_results for d in (r.get("accuracy") or {})})
    return SWEEP_METRICS + [f"accuracy.{detector}.f1" for detector in detectors]


def aggregate_points(entries: list[dict[str, Any]],
                     run_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per matrix point: label, point, n, run_dirs, metrics.<metric>.{mean, ci95…}."""
    metrics = metric_names(run_results)
    groups: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(json.dumps(entry["point"], sort_keys=True), []).append(index)
    points = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda i: entries[i]["repetition"])
        point = entries[members[0]]["point"]
        figures = {}
        for metric in metrics:
            values = [lookup(run_results[i], metric) for i in members]
            numeric = [float(v) for v in values if isinstance(v, (int, float))
                       and not isinstance(v, bool)]
            figures[metric] = {**mean_ci95(numeric), "values": numeric}
        verdicts = [judge(run_results[i]) for i in members]
        points.append({"label": point_label(point) or "default", "point": point,
                       "n": len(members), "run_dirs": [str(entries[i]["run_dir"])
                                                       for i in members],
                       "sustainable": all(v["sustainable"] for v in verdicts),
                       "runs_sustainable": [v["sustainable"] for v in verdicts],
                       "reasons": [v["reasons"] for v in verdicts], "metrics": figures})
    return points


def curve_table(points: list[dict[str, Any]], parameter: str, metric: str) -> pd.DataFrame:
    """Columns: ``parameter``, series, mean, ci95 (points lacking the parameter are skipped)."""
    rows = []
    for point in points:
        if parameter not in point["point"]:
            continue
        stats = point["metrics"].get(metric, {})
        rows.append({parameter: point["point"][parameter],
                     "series": point_label(point["point"], (parameter,)),
                     "mean": stats.get("mean"), "ci95": stats.get("ci95")})
    return pd.DataFrame(rows, columns=[parameter, "series", "mean", "ci95"])


def capacity(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Monotone capacity per stack setting (None if the lowest rate already failed)."""
    settings: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        if RATE_PARAMETER in point["point"]:
            settings.setdefault(point_label(point["point"], (RATE_PARAMETER,)), []).append(point)
    result = []
    for setting in sorted(settings):
        probes = [{"rate_eps": float(p["point"][RATE_PARAMETER]), "sustainable": ok}
                  for p in settings[setting] for ok in p["runs_sustainable"]]
        found = capacity_from_probes(probes)
        result.append({"setting": setting or "default",
                       "capacity_eps": found["capacity_eps"],
                       "first_unsustainable_eps": found["first_unsustainable_eps"],
                       "rates_tried": sorted({probe["rate_eps"] for probe in probes})})
    return result


def sweep_slos(entries: list[dict[str, Any]],
               run_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every run's SLO verdicts, named ``[point #repetition] name``."""
    verdicts = []
    for entry, results in zip(entries, run_results, strict=True):
        label = point_label(entry["point"]) or "default"
        for verdict in results.get("slo", []) + results.get("expectations", []):
            verdicts.append({**verdict,
                             "name": f"[{label} #{entry['repetition']}] {verdict['name']}"})
    return verdicts


def sweep_results(sweep_dir: Path, entries: list[dict[str, Any]],
                  run_results: list[dict[str, Any]]) -> dict[str, Any]:
    points = aggregate_points(entries, run_results)
    slos = sweep_slos(entries, run_results)
    return {
        "schema": "iotbench.results/1", "kind": "sweep", "sweep": Path(sweep_dir).name,
        "runs": len(entries), "metrics": metric_names(run_results), "points": points,
        "capacity": capacity(points), "slo": slos,
        "slo_passed": all(v["passed"] for v in slos),
    }
