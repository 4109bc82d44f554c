"""Event-time latency, censored where events never arrived, and its per-hop decomposition.

One row per ledger event is joined with its *first* stored copy (the row with the smallest
``stored_ts``; later copies are counted by the checker) and with the visibility probe's sample
(``probe.csv`` rows with a ``sampled_ts``: a uniform sample, so its percentiles are unbiased).

- ``e2e``        = stored − scheduled, over **every acked event** scheduled in the window that
                   was not dead-lettered; an event never stored counts as +∞ (censored). A
                   quantile falling among the censored values is null and flagged in
                   ``censored_above.<q>`` ("more than the run lasted"); ``mean`` is over the
                   stored events only.
- ``e2e_stored`` = the same over stored events only (the distribution of what arrived).
- ``visible``    = visible − scheduled over the probe's sampled events; a sampled event never
                   seen is censored the same way (``sampled`` says how many were sampled).

Hops in causal order (``append_to_ack`` is the producer's side, beside the chain):

- ``publish_delay``        = send − scheduled (as in OpenMessaging Benchmark)
- ``send_to_append``       = kafka (LogAppendTime) − send
- ``append_to_ack``        = ack − kafka
- ``append_to_processing`` = processing_start − kafka (includes the executor's Kafka fetch)
- ``processing_to_stored`` = stored − processing_start (includes the Mongo write)
- ``stored_to_visible``    = visible − stored (probe sample only)

None of them can be negative by definition; a negative sample is a clock problem: it is
counted in ``negative`` and left out of the hop's percentiles. All summaries are in ms; see
:mod:`reports.stats` for the percentile definition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .rundir import RunData, TimeWindow
from .stats import SUMMARY_QUANTILES, summarize

HOPS: dict[str, tuple[str, str]] = {
    "publish_delay": ("scheduled_ts", "send_ts"),
    "send_to_append": ("send_ts", "kafka_ts"),
    "append_to_ack": ("kafka_ts", "ack_ts"),
    "append_to_processing": ("kafka_ts", "processing_start_ts"),
    "processing_to_stored": ("processing_start_ts", "stored_ts"),
    "stored_to_visible": ("stored_ts", "visible_ts"),
}
SIDE_HOPS = ("append_to_ack",)
"""Hops beside the causal chain (they do not add up to e2e)."""
END_TO_END: dict[str, tuple[str, str]] = {
    "e2e": ("scheduled_ts", "stored_ts"),
    "visible": ("scheduled_ts", "visible_ts"),
}


def first_stored_copy(stored: pd.DataFrame) -> pd.DataFrame:
    """One row per event_id: the copy with the smallest stored_ts (ties: first in file order)."""
    if stored.empty:
        return stored.copy()
    ordered = stored.sort_values(["event_id", "stored_ts"], kind="mergesort", na_position="last")
    return ordered.drop_duplicates("event_id", keep="first").reset_index(drop=True)


def event_times(data: RunData, dead_lettered: set[str] | None = None) -> pd.DataFrame:
    """One row per ledger event with every timestamp of its journey (NaN where it never got),
    plus ``sampled`` (picked by the visibility probe) and ``dead_lettered``."""
    ledger = data.ledger
    stored = first_stored_copy(data.stored)
    store_columns = ["event_id", "kafka_ts", "processing_start_ts", "stored_ts"]
    events = ledger.merge(stored[store_columns], on="event_id", how="left")
    probe = data.probe[data.probe["sampled_ts"].notna()]
    probe = probe.sort_values(["event_id", "visible_ts"], kind="mergesort")
    probe = probe.drop_duplicates("event_id", keep="first")[["event_id", "sampled_ts",
                                                             "visible_ts"]]
    events = events.merge(probe, on="event_id", how="left")
    for column in ("kafka_ts", "processing_start_ts", "stored_ts", "sampled_ts", "visible_ts"):
        events[column] = events[column].astype("float64")
    events["sampled"] = events["sampled_ts"].notna()
    events["dead_lettered"] = events["event_id"].isin(dead_lettered or set())
    return events


def with_latencies(events: pd.DataFrame) -> pd.DataFrame:
    """Add one column per hop and end-to-end measure, in seconds (``<name>_s``)."""
    events = events.copy()
    for name, (start, end) in {**END_TO_END, **HOPS}.items():
        events[f"{name}_s"] = events[end] - events[start]
    return events


def in_window(events: pd.DataFrame, window: TimeWindow) -> pd.DataFrame:
    """Events scheduled inside the measurement window."""
    return events[window.contains(events["scheduled_ts"])]


def censored_quantile(finite_sorted: np.ndarray, censored: int, q: float) -> float | None:
    """numpy's ``linear`` quantile of ``finite_sorted`` followed by ``censored`` values of +∞.

    None when the quantile needs a censored value (numpy itself would give nan or inf there,
    since 0·∞ is nan). Computed by hand for exactly that reason.
    """
    n = finite_sorted.size + censored
    if n == 0:
        return None
    position = q * (n - 1)
    low = int(math.floor(position))
    fraction = position - low
    high = low if fraction == 0 else low + 1
    if high >= finite_sorted.size:
        return None
    return float(finite_sorted[low] + (finite_sorted[high] - finite_sorted[low]) * fraction)


def censored_summary(seconds: pd.Series | np.ndarray, observed_name: str = "stored",
                     scale: float = 1000.0) -> dict[str, Any]:
    """Summary of a latency sample where NaN means "never arrived" (= +∞, censored)."""
    array = np.asarray(seconds, dtype="float64")
    finite = np.sort(array[np.isfinite(array)] * scale)
    censored = int(array.size - finite.size)
    summary: dict[str, Any] = {
        "count": int(array.size), observed_name: int(finite.size), "censored": censored,
        "censored_ratio": censored / array.size if array.size else None,
        "mean": float(finite.mean()) if finite.size else None,
        "min": float(finite[0]) if finite.size else None,
    }
    flags = {}
    for name, q in {**SUMMARY_QUANTILES, "max": 1.0}.items():
        value = censored_quantile(finite, censored, q)
        summary[name] = value
        flags[name] = bool(value is None and array.size > 0)
    summary["censored_above"] = flags
    return summary


def hop_stats(seconds: pd.Series | np.ndarray) -> dict[str, Any]:
    """A hop's summary in ms over its non-negative samples; ``negative`` counts the others."""
    array = np.asarray(seconds, dtype="float64")
    array = array[np.isfinite(array)]
    summary = summarize(array[array >= 0], scale=1000.0)
    summary["negative"] = int((array < 0).sum())
    summary["negative_min"] = float(array.min() * 1000.0) if summary["negative"] else None
    return summary


def latency_summary(events: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``e2e`` (censored), ``e2e_stored`` and ``visible`` (censored, probe sample) in ms."""
    latencies = with_latencies(events)
    dead = latencies.get("dead_lettered", pd.Series(False, index=latencies.index))
    population = latencies[latencies["ack_ts"].notna() & ~dead.astype(bool)]
    sampled = latencies[latencies.get("sampled", pd.Series(False, index=latencies.index))
                        .astype(bool)]
    visible = censored_summary(sampled["visible_s"], observed_name="visible")
    visible["sampled"] = int(len(sampled))
    return {
        "e2e": censored_summary(population["e2e_s"]),
        "e2e_stored": {**summarize(population["e2e_s"], scale=1000.0),
                       "label": "stored events only"},
        "visible": visible,
    }


def hop_summary(events: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per-hop summaries in ms (see :func:`hop_stats`), in causal order."""
    latencies = with_latencies(events)
    return {name: hop_stats(latencies[f"{name}_s"]) for name in HOPS}


def latency_per_second(events: pd.DataFrame, origin: float,
                       measure: str = "e2e") -> pd.DataFrame:
    """Per second of *scheduled* time: count, p50, p99, max of ``measure`` in ms.

    Index ``second`` = floor(scheduled_ts − origin). Seconds without a measured event are absent.
    """
    latencies = with_latencies(events)
    values = latencies[[f"{measure}_s", "scheduled_ts"]].dropna()
    if values.empty:
        return pd.DataFrame(columns=["count", "p50", "p99", "max"],
                            index=pd.Index([], name="second", dtype="int64"))
    seconds = np.floor(values["scheduled_ts"] - origin).astype("int64").rename("second")
    grouped = (values[f"{measure}_s"] * 1000.0).groupby(seconds)
    table = pd.DataFrame({
        "count": grouped.count(),
        "p50": grouped.quantile(0.50),
        "p99": grouped.quantile(0.99),
        "max": grouped.max(),
    })
    return table.sort_index()


def latency_cdf(events: pd.DataFrame, measure: str = "e2e") -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF of ``measure`` in ms: sorted values and their cumulative fraction."""
    latencies = with_latencies(events)
    values = np.sort(latencies[f"{measure}_s"].dropna().to_numpy(dtype="float64") * 1000.0)
    if values.size == 0:
        return values, values
    return values, np.arange(1, values.size + 1) / values.size


def spark_batches(progress: list[dict[str, Any]]) -> dict[str, Any]:
    """Spark micro-batch figures: batches, input rows, mean/max trigger duration in ms."""
    durations = [float((p.get("durationMs") or {}).get("triggerExecution", np.nan))
                 for p in progress]
    rows = [float(p.get("numInputRows") or 0) for p in progress]
    summary = summarize(pd.Series(durations, dtype="float64"))
    return {
        "batches": len(progress),
        "input_rows": int(sum(rows)),
        "trigger_ms": {key: summary[key] for key in ("mean", "p50", "p99", "max")},
    }
