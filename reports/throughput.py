"""Throughput: scheduled, sent, acked and stored events per second; achieved vs target rate.

Per-second counts bucket each event by the second (since the run origin) of the matching
timestamp: ``scheduled_ts``, ``send_ts``, ``ack_ts`` and the first ``stored_ts``.
Rates over the measurement window ``[start, end)`` are ``events whose timestamp falls in the
window / window duration``. The target is ``producer.rate_eps`` of the resolved scenario (when
the producer follows a profile instead, the target is the scheduled rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .rundir import TimeWindow
from .stats import ratio

STAGES: dict[str, str] = {
    "scheduled": "scheduled_ts",
    "sent": "send_ts",
    "acked": "ack_ts",
    "stored": "stored_ts",
}


def throughput_per_second(events: pd.DataFrame, origin: float) -> pd.DataFrame:
    """Events per second for each stage; index ``second`` from 0 to the last observed second."""
    counts: dict[str, pd.Series] = {}
    for stage, column in STAGES.items():
        times = events[column].dropna()
        seconds = np.floor(times - origin).astype("int64")
        counts[stage] = seconds.value_counts()
    last = max((int(c.index.max()) for c in counts.values() if len(c)), default=-1)
    first = min((int(c.index.min()) for c in counts.values() if len(c)), default=0)
    index = pd.RangeIndex(min(first, 0), last + 1, name="second")
    table = pd.DataFrame({stage: c.reindex(index, fill_value=0) for stage, c in counts.items()},
                         index=index)
    return table.astype("int64")


def target_rate(scenario: dict[str, Any]) -> float | None:
    """``producer.rate_eps`` from the resolved scenario, or None (profile / absent)."""
    rate = (scenario.get("producer") or {}).get("rate_eps")
    try:
        return float(rate) if rate is not None else None
    except (TypeError, ValueError):
        return None


def throughput_summary(events: pd.DataFrame, window: TimeWindow,
                       target_eps: float | None) -> dict[str, Any]:
    """Rates (events/s) over the measurement window and the achieved/target ratio."""
    duration = window.duration_s
    summary: dict[str, Any] = {"window_s": duration, "target_eps": target_eps}
    for stage, column in STAGES.items():
        count = int(window.contains(events[column].dropna()).sum())
        summary[f"{stage}_eps"] = ratio(count, duration)
    reference = target_eps if target_eps else summary["scheduled_eps"]
    summary["achieved_ratio"] = ratio(summary["stored_eps"], reference) if reference else None
    return summary
