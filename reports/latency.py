"""Event-time latency and its per-hop decomposition.

One row per ledger event is joined with its *first* stored copy (the row with the smallest
``stored_ts``; later copies are duplicates, counted by ``integrity``) and its probe visibility.

- ``e2e``         = stored − scheduled (event-time latency, Karimov et al. ICDE 2018)
- ``visible``     = visible − scheduled (only events the freshness probe saw)

Hops, which telescope to ``e2e`` (publish + send→ack + ack→kafka + kafka→processed +
processed→stored = stored − scheduled):

- ``publish_delay``        = send − scheduled (as in OpenMessaging Benchmark)
- ``send_to_ack``          = ack − send
- ``ack_to_kafka``         = kafka − ack (usually *negative*: the broker appends before the
                             acknowledgement reaches the producer)
- ``kafka_to_processed``   = processed − kafka
- ``processed_to_stored``  = stored − processed
- ``stored_to_visible``    = visible − stored

All summaries are in milliseconds; see :mod:`reports.stats` for the percentile definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .rundir import RunData, TimeWindow
from .stats import summarize

HOPS: dict[str, tuple[str, str]] = {
    "publish_delay": ("scheduled_ts", "send_ts"),
    "send_to_ack": ("send_ts", "ack_ts"),
    "ack_to_kafka": ("ack_ts", "kafka_ts"),
    "kafka_to_processed": ("kafka_ts", "processed_ts"),
    "processed_to_stored": ("processed_ts", "stored_ts"),
    "stored_to_visible": ("stored_ts", "visible_ts"),
}
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


def event_times(data: RunData) -> pd.DataFrame:
    """One row per ledger event with every timestamp of its journey (NaN where it never got)."""
    ledger = data.ledger
    stored = first_stored_copy(data.stored)
    store_columns = ["event_id", "kafka_ts", "processed_ts", "stored_ts"]
    events = ledger.merge(stored[store_columns], on="event_id", how="left")
    probe = data.probe.sort_values(["event_id", "visible_ts"], kind="mergesort")
    probe = probe.drop_duplicates("event_id", keep="first")[["event_id", "visible_ts"]]
    events = events.merge(probe, on="event_id", how="left")
    for column in ("kafka_ts", "processed_ts", "stored_ts", "visible_ts"):
        events[column] = events[column].astype("float64")
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


def latency_summary(events: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{e2e, visible}`` summaries in ms (count, mean, min, p50, p95, p99, p999, max)."""
    latencies = with_latencies(events)
    return {name: summarize(latencies[f"{name}_s"], scale=1000.0) for name in END_TO_END}


def hop_summary(events: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per-hop summaries in ms, same fields as :func:`latency_summary`."""
    latencies = with_latencies(events)
    return {name: summarize(latencies[f"{name}_s"], scale=1000.0) for name in HOPS}


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
