"""Small statistics shared by every analysis module.

Percentile definition (used everywhere in ``reports``): numpy's default ``linear`` method,
which is also pandas' default (``Series.quantile``): for sorted values ``x[0..n-1]`` the
q-quantile is ``x[i] + (x[i+1] - x[i]) * f`` where ``i + f = q * (n - 1)``. ``p999`` is the
99.9th percentile. Summaries of an empty sample have ``count = 0`` and every other field None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

SUMMARY_QUANTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999}

# Two-sided 95 % critical values of Student's t, t_{0.975, df}, for df = 1..30.
_T_975 = [
    12.7062047, 4.30265273, 3.18244631, 2.77644511, 2.57058184, 2.44691185, 2.36462425,
    2.30600414, 2.26215716, 2.22813885, 2.20098516, 2.17881283, 2.16036866, 2.14478669,
    2.13144955, 2.11990530, 2.10981558, 2.10092204, 2.09302405, 2.08596345, 2.07961384,
    2.07387307, 2.06865761, 2.06389856, 2.05953855, 2.05552944, 2.05183052, 2.04840714,
    2.04522964, 2.04227246,
]
_Z_975 = 1.959963984540054


def summarize(values: pd.Series | np.ndarray, scale: float = 1.0) -> dict[str, Any]:
    """count, mean, min, p50, p95, p99, p999, max of the finite values, times ``scale``."""
    array = np.asarray(values, dtype="float64")
    array = array[np.isfinite(array)] * scale
    if array.size == 0:
        return {"count": 0, "mean": None, "min": None, "max": None,
                **{name: None for name in SUMMARY_QUANTILES}}
    summary: dict[str, Any] = {
        "count": int(array.size),
        "mean": float(array.mean()),
        "min": float(array.min()),
        "max": float(array.max()),
    }
    for name, q in SUMMARY_QUANTILES.items():
        summary[name] = float(np.quantile(array, q))
    return summary


def t_critical_95(degrees_of_freedom: int) -> float:
    """t_{0.975, df}: table for df ≤ 30, Cornish-Fisher expansion above (error < 1e-5)."""
    if degrees_of_freedom < 1:
        return math.nan
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, df = _Z_975, float(degrees_of_freedom)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci95(values: list[float] | pd.Series) -> dict[str, Any]:
    """Mean and 95 % confidence interval with Student's t: mean ± t_{0.975,n-1} · s / √n.

    ``s`` is the sample standard deviation (ddof = 1). With one value the half-width is None.
    """
    array = np.asarray([v for v in values if v is not None], dtype="float64")
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None, "low": None, "high": None}
    mean = float(array.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None, "low": None, "high": None}
    std = float(array.std(ddof=1))
    half_width = t_critical_95(n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": half_width,
            "low": mean - half_width, "high": mean + half_width}


def linear_slope(x: pd.Series | np.ndarray, y: pd.Series | np.ndarray) -> float | None:
    """Least-squares slope of ``y`` on ``x`` (``numpy.polyfit`` degree 1); None if < 2 points."""
    xs = np.asarray(x, dtype="float64")
    ys = np.asarray(y, dtype="float64")
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    slope, _intercept = np.polyfit(xs, ys, 1)
    return float(slope)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero or missing."""
    if denominator is None or numerator is None or denominator == 0:
        return None
    if isinstance(denominator, float) and math.isnan(denominator):
        return None
    return float(numerator) / float(denominator)
