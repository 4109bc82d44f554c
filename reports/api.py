"""Dashboard API panel from Locust's own CSV files (only when load ran).

Column names are Locust's (``locust/stats.py``, ``StatsCSV.requests_csv_columns`` and
``StatsCSVFileWriter.stats_history_csv_columns``): ``Type, Name, Request Count, Failure Count,
Median Response Time, Average Response Time, Min Response Time, Max Response Time,
Average Content Size, Requests/s, Failures/s, 50%, 66%, …, 95%, 98%, 99%, 99.9%, 99.99%, 100%``
and, in the history, ``Timestamp, User Count, Type, Name, Requests/s, Failures/s, <percentiles>,
Total Request Count, Total Failure Count, …``. The totals row is named ``Aggregated``.
Percentile cells are ``N/A`` for an endpoint without requests; response times are in ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

AGGREGATED = "Aggregated"
_PERCENTILE_COLUMNS = {"p50": "50%", "p95": "95%", "p99": "99%"}


def _number(value: Any) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def _endpoint_figures(row: pd.Series) -> dict[str, Any]:
    requests = _number(row.get("Request Count")) or 0.0
    failures = _number(row.get("Failure Count")) or 0.0
    figures: dict[str, Any] = {
        "requests": int(requests),
        "failures": int(failures),
        "failure_ratio": failures / requests if requests else None,
        "rps": _number(row.get("Requests/s")),
        "failures_per_s": _number(row.get("Failures/s")),
        "mean_ms": _number(row.get("Average Response Time")),
        "max_ms": _number(row.get("Max Response Time")),
    }
    for key, column in _PERCENTILE_COLUMNS.items():
        figures[f"{key}_ms"] = _number(row.get(column))
    return figures


def api_summary(locust_stats: pd.DataFrame | None) -> dict[str, Any] | None:
    """Per-endpoint and total requests, failures, rps, p50/p95/p99; None if Locust did not run."""
    if locust_stats is None or locust_stats.empty or "Name" not in locust_stats:
        return None
    endpoints: dict[str, Any] = {}
    total: dict[str, Any] | None = None
    for _, row in locust_stats.iterrows():
        name = str(row["Name"])
        method = row.get("Type")
        method = "" if pd.isna(method) else str(method)
        if name == AGGREGATED and not method:
            total = _endpoint_figures(row)
            continue
        endpoints[f"{method} {name}".strip()] = _endpoint_figures(row)
    # ``api.<figure>`` is a shortcut for ``api.total.<figure>`` (benchmarks/scenario/slo.py).
    return {**(total or {}), "endpoints": dict(sorted(endpoints.items())), "total": total}


def api_history(locust_history: pd.DataFrame | None, origin: float) -> pd.DataFrame:
    """Aggregated Locust history by ``second`` since origin: rps, failures/s, p50, p95, users."""
    columns = ["rps", "failures_per_s", "p50_ms", "p95_ms", "users"]
    if locust_history is None or locust_history.empty or "Timestamp" not in locust_history:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="second", dtype="int64"))
    history = locust_history[locust_history["Name"].astype(str) == AGGREGATED]
    seconds = np.floor(pd.to_numeric(history["Timestamp"], errors="coerce") - origin)
    table = pd.DataFrame({
        "second": seconds,
        "rps": pd.to_numeric(history.get("Requests/s"), errors="coerce"),
        "failures_per_s": pd.to_numeric(history.get("Failures/s"), errors="coerce"),
        "p50_ms": pd.to_numeric(history.get("50%"), errors="coerce"),
        "p95_ms": pd.to_numeric(history.get("95%"), errors="coerce"),
        "users": pd.to_numeric(history.get("User Count"), errors="coerce"),
    }).dropna(subset=["second"])
    table["second"] = table["second"].astype("int64")
    return table.groupby("second").last().sort_index()
