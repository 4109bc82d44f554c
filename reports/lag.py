"""Consumer lag (``lag.csv``): per partition and total over time, and its trend.

``lag.csv`` has "timer" rows (a fixed rate) and "commit" rows (right after each micro-batch
commit). Nothing is ever forward-filled: a second in which a partition has no sample is
*unknown* (NaN, a gap in plots), and so is the total of that second.

- per second since the run origin: the last sample of each partition in that second; total =
  the sum over the run's partitions, NaN unless every partition has a sample;
- the *slope* (Theodolite's lag trend) is the least-squares slope of total lag against time over
  every sample instant in the measurement window (timer and commit rows alike): at each
  instant where every partition reported, total = Σ lag. It comes with its 95 % confidence
  interval (standard error × t_{0.975, n−2}), so a judgement can say whether the interval
  excludes a limit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .rundir import TimeWindow
from .stats import t_critical_95

INSTANT_DECIMALS = 3
"""Samples of different partitions taken within the same millisecond form one instant."""


def lag_per_partition(lag: pd.DataFrame, origin: float) -> pd.DataFrame:
    """Wide frame: index ``second`` (every second from first to last), one column per
    partition, plus ``total``; NaN where no sample was taken."""
    samples = lag.dropna(subset=["ts", "lag"])
    if samples.empty:
        return pd.DataFrame(columns=["total"], index=pd.Index([], name="second", dtype="int64"))
    samples = samples.assign(second=np.floor(samples["ts"] - origin).astype("int64"),
                             partition=samples["partition"].astype("int64"))
    samples = samples.sort_values(["second", "partition", "ts"], kind="mergesort")
    last = samples.groupby(["second", "partition"])["lag"].last()
    wide = last.unstack("partition").sort_index()
    wide = wide.reindex(pd.RangeIndex(int(wide.index.min()), int(wide.index.max()) + 1,
                                      name="second"))
    wide.columns = [f"p{int(c)}" for c in wide.columns]
    wide["total"] = wide.sum(axis=1, min_count=len(wide.columns))
    return wide


def total_lag_samples(lag: pd.DataFrame) -> pd.DataFrame:
    """``ts``, ``total``, ``source`` at every instant where every partition has a sample."""
    samples = lag.dropna(subset=["ts", "lag"])
    if samples.empty:
        return pd.DataFrame(columns=["ts", "total", "source"])
    partitions = samples["partition"].nunique()
    instant = samples["ts"].round(INSTANT_DECIMALS)
    source = (samples["source"].astype("object").fillna("timer")
              if "source" in samples else pd.Series("timer", index=samples.index))
    grouped = samples.assign(instant=instant, source=source).groupby(["instant", "source"])
    frame = pd.DataFrame({"ts": grouped["ts"].max(), "total": grouped["lag"].sum(),
                          "partitions": grouped["partition"].nunique()}).reset_index()
    frame = frame[frame["partitions"] == partitions]
    return frame[["ts", "total", "source"]].sort_values("ts", kind="mergesort")


def slope_with_ci(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Least-squares slope, its standard error and 95 % interval (None with < 3 points)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    result: dict[str, Any] = {"n": n, "slope": None, "stderr": None, "low": None, "high": None}
    if n < 2 or np.ptp(x) == 0:
        return result
    centred = x - x.mean()
    sxx = float((centred ** 2).sum())
    slope = float((centred * (y - y.mean())).sum() / sxx)
    result["slope"] = slope
    if n >= 3:
        residuals = y - (y.mean() + slope * centred)
        stderr = math.sqrt(float((residuals ** 2).sum()) / (n - 2) / sxx)
        half = t_critical_95(n - 2) * stderr
        result.update(stderr=stderr, low=slope - half, high=slope + half)
    return result


def lag_slope(lag: pd.DataFrame, window: TimeWindow) -> dict[str, Any]:
    """Slope of total lag (events/s) over every sample instant inside the window."""
    totals = total_lag_samples(lag)
    totals = totals[window.contains(totals["ts"])] if len(totals) else totals
    return slope_with_ci(totals["ts"].to_numpy(dtype="float64"),
                         totals["total"].to_numpy(dtype="float64"))


def unknown_seconds(wide: pd.DataFrame, start_second: int, end_second: int) -> int:
    """Seconds in ``[start_second, end_second)`` without a known total lag."""
    if wide.empty or end_second <= start_second:
        return max(0, end_second - start_second)
    total = wide["total"].reindex(pd.RangeIndex(start_second, end_second))
    return int(total.isna().sum())


def lag_summary(wide: pd.DataFrame, window: TimeWindow, origin: float,
                lag: pd.DataFrame | None = None) -> dict[str, Any]:
    """Total lag max / mean / final, slope after warm-up with its CI, per-partition figures."""
    empty = {"samples": 0, "max": None, "mean": None, "final": None, "slope_eps": None,
             "slope_low": None, "slope_high": None, "slope_stderr": None, "slope_n": 0,
             "unknown_seconds": None, "partitions": {}}
    if wide.empty:
        return empty
    total = wide["total"].dropna()
    partitions = {
        column: {"max": float(wide[column].max()), "final": float(wide[column].dropna().iloc[-1])}
        for column in wide.columns if column != "total" and wide[column].notna().any()
    }
    slope = lag_slope(lag, window) if lag is not None else {"slope": None, "n": 0}
    start = int(math.floor(window.start - origin))
    end = int(math.ceil(window.end - origin))
    return {
        "samples": int(lag.dropna(subset=["lag"]).shape[0]) if lag is not None
        else int(total.size),
        "max": float(total.max()) if total.size else None,
        "mean": float(total.mean()) if total.size else None,
        "final": float(total.iloc[-1]) if total.size else None,
        "slope_eps": slope["slope"],
        "slope_low": slope.get("low"),
        "slope_high": slope.get("high"),
        "slope_stderr": slope.get("stderr"),
        "slope_n": slope["n"],
        "unknown_seconds": unknown_seconds(wide, max(start, int(wide.index.min())),
                                           min(end, int(wide.index.max()) + 1)),
        "partitions": partitions,
    }
