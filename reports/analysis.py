"""Analysis of one run folder: every figure of the report, computed with pandas.

The concepts live in their own modules (one concept each):

- :mod:`reports.latency`     event-time latency, per-hop breakdown, per-second series, CDF
- :mod:`reports.throughput`  events per second per stage; achieved vs target rate
- :mod:`reports.lag`         consumer lag per partition and total; slope after warm-up
- :mod:`reports.integrity`   sent / acked / stored / lost, with :mod:`reports.checker`'s classes
- :mod:`reports.sustainability` the one sustainability rule (run, sweep, capacity)
- :mod:`reports.expectations` outcomes a scenario declares it provokes
- :mod:`reports.recovery`    time to recover after each fault
- :mod:`reports.accuracy`    anomaly-detection accuracy per detector, NAB-style score
- :mod:`reports.batches`     where each micro-batch's time went: Spark phases, sink steps
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
from .batches import batch_breakdown, breakdown_summary
from .cluster import cluster_summary
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

__all__ = ["RunAnalysis", "analyze_run", "load_run", "resource_summary"]

STATUS_NOTES = {
    "interrupted": "the run was interrupted: integrity figures are partial (events still in "
                   "flight were neither stored nor lost)",
    "invalid-baseline": "the baseline never settled before the first fault: the run is "
                        "invalid as an experiment (figures shown for diagnosis only)",
    "failed": "the run failed: figures may be incomplete",
}


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
    batches: pd.DataFrame
    """Per micro-batch, where its time went (:func:`reports.batches.batch_breakdown`)."""
    figures: dict[str, Any]


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
        "status_note": STATUS_NOTES.get(str(journal.get("status"))),
        "drain": journal.get("drain") or {},
        "probe": journal.get("probe") or {},
        "steady_state": journal.get("steady_state"),
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


def _integrity(data: RunData) -> dict[str, Any]:
    integrity = integrity_summary(data.ledger, data.stored, data.dead_letter,
                                  data.topic if data.has_topic else None, data.replays,
                                  data.drain)
    integrity["delivered_ratio"] = ratio(integrity["stored_unique"], integrity["acked"])
    integrity["partial"] = data.status == "interrupted"
    return integrity


def analyze_run(data: RunData,
                tolerance: RecoveryTolerance | None = None) -> RunAnalysis:
    """Compute every frame and figure of one run (default recovery tolerance if None).

    The sustainability verdict needs the SLO verdicts, so :func:`reports.results.build_results`
    adds it (see :mod:`reports.sustainability`).
    """
    tolerance = tolerance or RecoveryTolerance()
    origin, window = data.origin, data.measurement_window
    events = event_times(data, dead_lettered_event_ids(data.dead_letter))
    measured = in_window(events, window)
    per_second = latency_per_second(events, origin, "e2e")
    visible_per_second = latency_per_second(events, origin, "visible")
    lag = lag_per_partition(data.lag, origin)
    lag_figures = lag_summary(lag, window, origin, data.lag)
    target = target_rate(data.scenario)
    throughput = throughput_summary(events, window, target)
    latency = latency_summary(measured)
    latency["hops"] = hop_summary(measured)
    latency["all_events"] = latency_summary(events)["e2e_stored"]
    batches = batch_breakdown(data.spark_progress, data.batch_timings)
    lag_total = lag["total"] if "total" in lag else pd.Series(dtype="float64")
    figures: dict[str, Any] = {
        "schema": "iotbench.results/1",
        "kind": "run",
        "run": _run_metadata(data),
        "latency_ms": latency,
        "throughput": throughput,
        "lag": lag_figures,
        "integrity": _integrity(data),
        "recovery": recovery_table(data.faults, lag_total, per_second["p99"], origin,
                                   data.end, tolerance),
        "recovery_tolerance": vars(tolerance).copy(),
        "accuracy": _accuracy(data, events),
        "api": api_summary(data.locust_stats),
        "spark": spark_batches(data.spark_progress),
        "batch_breakdown": breakdown_summary(batches),
        "resources": resource_summary(data.resources),
        "cluster": cluster_summary(data.journal.get("faults") or [], data.cluster,
                                   data.ledger, data.end),
    }
    return RunAnalysis(
        data=data, events=events, measured=measured, latency_per_second=per_second,
        visible_per_second=visible_per_second,
        throughput_per_second=throughput_per_second(events, origin), lag=lag,
        api_history=api_history(data.locust_history, origin), batches=batches,
        figures=figures,
    )


def relative_seconds(timestamps: np.ndarray | pd.Series, origin: float) -> np.ndarray:
    """Epoch seconds → seconds since the run origin (for plots)."""
    return np.asarray(timestamps, dtype="float64") - origin
