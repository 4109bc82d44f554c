"""Analysis of one run folder: every figure of the report, computed with pandas.

The concepts live in their own modules (one concept each):

- :mod:`reports.latency`     event-time latency, per-hop breakdown, per-second series, CDF
- :mod:`reports.throughput`  events per second per stage; achieved vs target rate
- :mod:`reports.lag`         consumer lag per partition and total; slope after warm-up
- :mod:`reports.integrity`   sent / acked / stored / lost / duplicated / unexpected
- :mod:`reports.recovery`    time to recover after each fault
- :mod:`reports.accuracy`    anomaly-detection accuracy per detector, NAB-style score
- :mod:`reports.api`         dashboard API panel from Locust CSVs
- :mod:`reports.sweep`       mean and 95 % CI over repetitions, capacity per stack setting
- :mod:`reports.slo`         SLO evaluation and ``lookup``

This module ties them together: :func:`analyze_run` returns the frames the renderers plot and
the ``figures`` dict that becomes ``results.json`` (see :mod:`reports.results`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .accuracy import detector_accuracy, garbage_counts, prediction_column
from .api import api_history, api_summary
from .integrity import dead_lettered_event_ids, integrity_summary
from .lag import lag_per_partition, lag_summary
from .latency import (
    event_times,
    first_stored_copy,
    hop_summary,
    in_window,
    latency_per_second,
    latency_summary,
    spark_batches,
)
from .recovery import RecoveryTolerance, recovery_table
from .rundir import RunData, load_run
from .stats import ratio
from .throughput import target_rate, throughput_per_second, throughput_summary

__all__ = ["RunAnalysis", "analyze_run", "load_run", "sustainability", "resource_summary"]

SUSTAINABLE_SLOPE_FLOOR_EPS = 1.0
SUSTAINABLE_SLOPE_FRACTION = 0.01
BOUNDED_P99_FACTOR = 2.0
BOUNDED_P99_SLACK_MS = 50.0


@dataclass
class RunAnalysis:
    """Frames for the plots and the figures for ``results.json``."""

    data: RunData
    events: pd.DataFrame
    measured: pd.DataFrame
    latency_per_second: pd.DataFrame
    visible_per_second: pd.DataFrame
    throughput_per_second: pd.DataFrame
    lag: pd.DataFrame
    api_history: pd.DataFrame
    figures: dict[str, Any]


def sustainability(lag_slope_eps: float | None, per_second: pd.DataFrame,
                   target_eps: float | None) -> dict[str, Any]:
    """Is the run sustainable (Theodolite-style)?

    - lag shows no upward trend: slope ≤ max(1 event/s, 1 % of the target rate);
    - latency stays bounded: the median per-second p99 of the last third of the measured
      seconds ≤ 2 × that of the first third + 50 ms.
    """
    slope_limit = max(SUSTAINABLE_SLOPE_FLOOR_EPS,
                      SUSTAINABLE_SLOPE_FRACTION * (target_eps or 0.0))
    lag_ok = None if lag_slope_eps is None else bool(lag_slope_eps <= slope_limit)
    bounded = None
    p99 = per_second["p99"].dropna() if "p99" in per_second else pd.Series(dtype="float64")
    if len(p99) >= 3:
        third = len(p99) // 3
        first, last = float(p99.iloc[:third].median()), float(p99.iloc[-third:].median())
        bounded = bool(last <= BOUNDED_P99_FACTOR * first + BOUNDED_P99_SLACK_MS)
    verdicts = [v for v in (lag_ok, bounded) if v is not None]
    return {"sustainable": all(verdicts) if verdicts else None, "lag_trend_ok": lag_ok,
            "latency_bounded": bounded, "lag_slope_limit_eps": slope_limit}


def resource_summary(resources: pd.DataFrame) -> dict[str, Any]:
    """Per service: mean and max CPU %, max RSS in bytes."""
    if resources.empty:
        return {}
    summary = {}
    for service, group in resources.groupby(resources["service"].astype(str), sort=True):
        cpu = pd.to_numeric(group["cpu_percent"], errors="coerce")
        rss = pd.to_numeric(group["rss_bytes"], errors="coerce")
        summary[service] = {
            "cpu_mean_percent": float(cpu.mean()) if cpu.notna().any() else None,
            "cpu_max_percent": float(cpu.max()) if cpu.notna().any() else None,
            "rss_max_bytes": float(rss.max()) if rss.notna().any() else None,
        }
    return summary


def _run_metadata(data: RunData) -> dict[str, Any]:
    window = data.measurement_window
    scenario, journal = data.scenario, data.journal
    return {
        "run_id": journal.get("run_id") or data.run_dir.name,
        "status": journal.get("status"),
        "scenario": scenario.get("name"),
        "seed": scenario.get("seed"),
        "started_at": journal.get("started_at"),
        "ended_at": journal.get("ended_at"),
        "origin": data.origin,
        "window": {"start": window.start, "end": window.end, "duration_s": window.duration_s},
        "stack": scenario.get("stack") or {},
        "producer": scenario.get("producer") or {},
        "versions": journal.get("versions") or {},
        "detectors": data.detectors,
        "primary_detector": data.primary_detector,
    }


def _accuracy(data: RunData, events: pd.DataFrame) -> dict[str, Any]:
    first_copies = first_stored_copy(data.stored)
    garbage = garbage_counts(events, dead_lettered_event_ids(data.dead_letter))
    accuracy: dict[str, Any] = {}
    for detector in data.detectors:
        column = prediction_column(data.stored, detector, data.primary_detector)
        if column is None:
            continue
        figures = detector_accuracy(events, first_copies, column, data.faults, data.end)
        figures.update(garbage)
        figures["column"] = column
        accuracy[detector] = figures
    return accuracy


def analyze_run(data: RunData,
                tolerance: RecoveryTolerance | None = None) -> RunAnalysis:
    """Compute every frame and figure of one run (default recovery tolerance if None)."""
    tolerance = tolerance or RecoveryTolerance()
    origin, window = data.origin, data.measurement_window
    events = event_times(data)
    measured = in_window(events, window)
    per_second = latency_per_second(events, origin, "e2e")
    visible_per_second = latency_per_second(events, origin, "visible")
    lag = lag_per_partition(data.lag, origin)
    lag_figures = lag_summary(lag, window, origin)
    target = target_rate(data.scenario)
    throughput = throughput_summary(events, window, target)
    measured_seconds = per_second[(per_second.index + origin >= window.start)
                                  & (per_second.index + origin < window.end)]
    throughput.update(sustainability(lag_figures["slope_eps"], measured_seconds, target))
    latency = latency_summary(measured)
    latency["hops"] = hop_summary(measured)
    latency["all_events"] = latency_summary(events)["e2e"]
    lag_total = lag["total"] if "total" in lag else pd.Series(dtype="float64")
    figures: dict[str, Any] = {
        "schema": "iotbench.results/1",
        "kind": "run",
        "run": _run_metadata(data),
        "latency_ms": latency,
        "throughput": throughput,
        "lag": lag_figures,
        "integrity": integrity_summary(data.ledger, data.stored, data.dead_letter),
        "recovery": recovery_table(data.faults, lag_total, per_second["p99"], origin,
                                   data.end, tolerance),
        "recovery_tolerance": vars(tolerance).copy(),
        "accuracy": _accuracy(data, events),
        "api": api_summary(data.locust_stats),
        "spark": spark_batches(data.spark_progress),
        "resources": resource_summary(data.resources),
    }
    figures["integrity"]["delivered_ratio"] = ratio(figures["integrity"]["stored_unique"],
                                                    figures["integrity"]["acked"])
    return RunAnalysis(
        data=data, events=events, measured=measured, latency_per_second=per_second,
        visible_per_second=visible_per_second,
        throughput_per_second=throughput_per_second(events, origin), lag=lag,
        api_history=api_history(data.locust_history, origin), figures=figures,
    )


def relative_seconds(timestamps: np.ndarray | pd.Series, origin: float) -> np.ndarray:
    """Epoch seconds → seconds since the run origin (for plots)."""
    return np.asarray(timestamps, dtype="float64") - origin
