"""``results.json``: every figure of a run (or sweep), with stable keys, deterministic bytes.

Stable keys of a run's ``results.json`` (times in epoch seconds, latencies in ms, rates in
events/s; absent or undefined values are ``null``):

- ``schema`` ("iotbench.results/1"), ``kind`` ("run")
- ``run.{run_id, status, status_note, drain, probe, steady_state, scenario, seed, started_at,
  ended_at, origin, window.{start, end, duration_s}, stack, producer, versions, detectors,
  primary_detector}``
- ``latency_ms.e2e``: censored over every acked, not dead-lettered event of the window
  ``{count, stored, censored, censored_ratio, mean (stored only), min, p50, p95, p99, p999,
  max, censored_above.<q>}`` (a quantile among the censored is null, its flag true);
  ``latency_ms.e2e_stored`` (stored only, labelled); ``latency_ms.visible`` censored over the
  probe's sample ``{…, sampled, visible}``; ``latency_ms.all_events`` (e2e stored only, whole
  run); ``latency_ms.hops.<hop>`` ``{count, mean, min, p50, p95, p99, p999, max, negative,
  negative_min}``, hops in causal order ``publish_delay, send_to_append, append_to_ack,
  append_to_processing, processing_to_stored, stored_to_visible``
- ``throughput.{target_eps, scheduled_eps, sent_eps, acked_eps, stored_eps, achieved_ratio,
  window_s, sustainable, lag_trend_ok, lag_slope_limit_eps}``
- ``sustainability.{sustainable, rate_eps, reasons[], checks[].{name, passed, value, limit,
  detail, …}, rule}`` (:mod:`reports.sustainability`)
- ``lag.{samples, max, mean, final, slope_eps, slope_low, slope_high, slope_stderr, slope_n,
  unknown_seconds, partitions.<pN>.{max, final}}``
- ``integrity.{scheduled, sent, acked, unacked, send_errors, stored_rows, stored_unique,
  stored_unacked, dead_lettered, lost, duplicate_rows, dead_letters,
  dead_letters_by_reason.<reason>, delivered_ratio, partial, topic_available,
  lost_in_kafka, kafka_duplicates, lost_in_pipeline, replayed_writes, replayed_events,
  storage_duplicates, reordered, reordered_in_kafka, reordered_in_storage, unexpected,
  undrained, acked_without_offset, examples.<class>[]}`` (:mod:`reports.checker`; null =
  unknown)
- ``recovery[]``: ``{id, target, kind, applied_at, heal_started_at, healed_at, duration_s,
  baseline_lag, baseline_p99_ms, peak_lag, peak_p99_ms, status, recovered_at, recovery_s,
  unknown_seconds, spans_unknown, error}``;
  ``recovery_tolerance.{relative, lag_events, latency_ms, hold_s, baseline_s}``
- ``accuracy.<detector>.{precision, recall, f1, accuracy, events, confusion.{tp, fp, fn, tn},
  per_kind.<kind>.{…same…}, detection_delay.{episodes, detected, mean_s, p50_s, max_s,
  mean_readings, detection_latency_mean_s}, detection_delay_per_kind.<kind>, nab.{score, raw,
  windows, detected_windows, false_positives}, fault_windows.{inside, outside}, not_stored,
  garbage_total, garbage_rejected, garbage_dead_lettered, column}``
- ``api``: null, or ``{endpoints.<"METHOD name">, total}`` each ``{requests, failures,
  failure_ratio, rps, failures_per_s, mean_ms, max_ms, p50_ms, p95_ms, p99_ms}``; the total's
  fields are repeated directly under ``api`` (``api.p99_ms`` = ``api.total.p99_ms``)
- ``spark.{batches, input_rows, trigger_ms.{mean, p50, p99, max}}``
- ``resources.<service>.{cpu_mean_percent, cpu_max_percent, rss_max_bytes}``
- ``slo[]``: ``{name, metric, op, threshold, value, passed, message}``; ``slo_passed``
- ``expectations[]`` (same shape, from the scenario's ``expect``); ``expectations_passed``;
  ``passed`` = ``slo_passed`` and ``expectations_passed``

Determinism: keys sorted, floats rounded to 6 decimals (−0.0 → 0.0), NaN/inf → null, two-space
indentation, trailing newline; nothing about the moment of generation is written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import RunAnalysis
from .expectations import evaluate_expectations
from .slo import evaluate_slos, lookup
from .sustainability import SELF_REFERENCES, judge

__all__ = ["Results", "build_results", "lookup", "normalise", "to_json", "write_results"]

FLOAT_DECIMALS = 6


@dataclass
class Results:
    """A results dict with the folder it describes."""

    data: dict[str, Any]
    directory: Path

    @property
    def slo(self) -> list[dict[str, Any]]:
        return self.data.get("slo", [])

    @property
    def expectations(self) -> list[dict[str, Any]]:
        return self.data.get("expectations", [])

    @property
    def passed(self) -> bool:
        """Every SLO and every expectation met (the run's CI gate)."""
        return all(verdict["passed"] for verdict in self.slo + self.expectations)

    def lookup(self, metric: str) -> Any:
        return lookup(self.data, metric)


def normalise(value: Any) -> Any:
    """JSON-ready copy: numpy → Python, floats rounded, NaN → None, tuples → lists."""
    if isinstance(value, dict):
        return {str(key): normalise(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return None
        number = round(number, FLOAT_DECIMALS)
        return 0.0 if number == 0 else number
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(results: dict[str, Any]) -> str:
    return json.dumps(normalise(results), sort_keys=True, indent=2, allow_nan=False,
                      ensure_ascii=False) + "\n"


def build_results(analysis: RunAnalysis) -> dict[str, Any]:
    """The run's figures plus sustainability, SLO and expectation verdicts, normalised exactly
    as they are written.

    Verdicts are evaluated on the normalised figures, so a verdict always agrees with the value
    printed next to it. SLOs on anything but the sustainability verdict are evaluated first,
    since the verdict requires them to pass; then every SLO is evaluated on the final figures.
    """
    figures = normalise(analysis.figures)
    scenario = analysis.data.scenario
    slos = scenario.get("slo") or []
    others = [s for s in slos if not str(s.get("metric", "")).startswith(SELF_REFERENCES)]
    verdict = normalise(judge(figures, evaluate_slos(others, figures)))
    figures["sustainability"] = verdict
    lag_check = next(c for c in verdict["checks"] if c["name"] == "lag_trend")
    figures["throughput"].update(sustainable=verdict["sustainable"],
                                 lag_trend_ok=lag_check["passed"],
                                 lag_slope_limit_eps=lag_check["limit"])
    figures["slo"] = normalise(evaluate_slos(slos, figures))
    figures["slo_passed"] = all(v["passed"] for v in figures["slo"])
    figures["expectations"] = normalise(evaluate_expectations(scenario.get("expect"), figures))
    figures["expectations_passed"] = all(v["passed"] for v in figures["expectations"])
    figures["passed"] = bool(figures["slo_passed"] and figures["expectations_passed"])
    return figures


def write_results(results: dict[str, Any], directory: Path) -> Path:
    path = Path(directory) / "results.json"
    path.write_text(to_json(results), encoding="utf-8")
    return path


def read_results(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / "results.json").read_text(encoding="utf-8"))
