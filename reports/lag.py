"""Consumer lag (``lag.csv``): per partition and total over time, and its trend.

Samples are bucketed per second since the run origin (the last sample of a partition in a
second wins); a partition without a sample in a second keeps its previous value; total lag is
the sum over partitions. The *slope* is the least-squares slope of total lag against time over
the measurement window (after warm-up, as in Theodolite), in events/s: a positive slope means
the consumer falls behind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .rundir import TimeWindow
from .stats import linear_slope


def lag_per_partition(lag: pd.DataFrame, origin: float) -> pd.DataFrame:
    """Wide frame: index ``second``, one column per partition, plus ``total``."""
    samples = lag.dropna(subset=["ts", "lag"])
    if samples.empty:
        return pd.DataFrame(columns=["total"], index=pd.Index([], name="second", dtype="int64"))
    samples = samples.assign(second=np.floor(samples["ts"] - origin).astype("int64"),
                             partition=samples["partition"].astype("int64"))
    samples = samples.sort_values(["second", "partition", "ts"], kind="mergesort")
    last = samples.groupby(["second", "partition"])["lag"].last()
    wide = last.unstack("partition").sort_index()
    wide = wide.reindex(pd.RangeIndex(int(wide.index.min()), int(wide.index.max()) + 1,
                                      name="second")).ffill()
    wide.columns = [f"p{int(c)}" for c in wide.columns]
    wide["total"] = wide.sum(axis=1, min_count=1)
    return wide


def lag_slope(wide: pd.DataFrame, window: TimeWindow, origin: float) -> float | None:
    """Slope of total lag (events/s) over the seconds inside the measurement window."""
    if wide.empty:
        return None
    seconds = wide.index.to_numpy(dtype="float64")
    absolute = seconds + origin
    keep = (absolute >= window.start) & (absolute < window.end)
    return linear_slope(seconds[keep], wide["total"].to_numpy(dtype="float64")[keep])


def lag_summary(wide: pd.DataFrame, window: TimeWindow, origin: float) -> dict[str, Any]:
    """Total lag max / mean / final, slope after warm-up, and per-partition max and final."""
    if wide.empty:
        return {"samples": 0, "max": None, "mean": None, "final": None,
                "slope_eps": None, "partitions": {}}
    total = wide["total"].dropna()
    partitions = {
        column: {"max": float(wide[column].max()), "final": float(wide[column].dropna().iloc[-1])}
        for column in wide.columns if column != "total" and wide[column].notna().any()
    }
    return {
        "samples": int(total.size),
        "max": float(total.max()),
        "mean": float(total.mean()),
        "final": float(total.iloc[-1]),
        "slope_eps": lag_slope(wide, window, origin),
        "partitions": partitions,
    }
