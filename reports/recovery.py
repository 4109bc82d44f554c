"""Recovery per fault: how long after the heal lag and p99 latency are back to the baseline.

For each fault (applied → healed):

- *baseline*: the ``baseline_s`` seconds before it was applied (not reaching back past the
  previous fault's heal). ``baseline_lag`` = median total lag per second there;
  ``baseline_p99_ms`` = median of the per-second p99 of e2e latency (events bucketed by the
  second they were scheduled, see :func:`reports.latency.latency_per_second`).
- *within tolerance* in second ``s``: ``lag(s) ≤ baseline_lag·(1 + relative) + lag_events``
  and ``p99(s) ≤ baseline_p99_ms·(1 + relative) + latency_ms``. A second without a lag sample
  is *unknown* (never filled from a neighbour): it cannot count as recovered (when the run has
  lag samples at all); a second without any measured event passes the latency check (nothing
  was late).
- *recovered at* the first second ``s`` at or after the heal began (``heal_started_at``, so a
  restart's own time counts; fallback ``healed_at``) from which ``hold_s`` consecutive seconds
  are all within tolerance; ``recovery_s`` = (origin + s) − heal start, floored at 0.
  ``unknown_seconds`` = seconds without a lag sample between the heal start and the recovery
  (or the end of the data); when > 0 the recovery spans time nobody observed and
  ``spans_unknown`` is true.
  If that never happens before the end of the data: status ``"not recovered"``; a fault without
  ``healed_at`` is ``"not healed"``; without baseline data, ``"no baseline"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .rundir import FaultWindow


@dataclass(frozen=True)
class RecoveryTolerance:
    relative: float = 0.2
    lag_events: float = 10.0
    latency_ms: float = 50.0
    hold_s: int = 5
    baseline_s: float = 30.0


def _median_between(series: pd.Series, start: int, end: int) -> float | None:
    values = series[(series.index >= start) & (series.index < end)].dropna()
    return float(values.median()) if len(values) else None


def fault_recovery(fault: FaultWindow, lag_total: pd.Series, p99_ms: pd.Series,
                   origin: float, run_end: float, previous_heal: float | None,
                   tolerance: RecoveryTolerance = RecoveryTolerance()) -> dict[str, Any]:
    """Recovery figures of one fault; ``lag_total`` and ``p99_ms`` are indexed by second."""
    applied_second = int(math.floor(fault.applied_at - origin))
    baseline_start = fault.applied_at - tolerance.baseline_s
    if previous_heal is not None and not math.isnan(previous_heal):
        baseline_start = max(baseline_start, previous_heal)
    start_second = int(math.ceil(baseline_start - origin))
    baseline_lag = _median_between(lag_total, start_second, applied_second)
    baseline_p99 = _median_between(p99_ms, start_second, applied_second)
    result: dict[str, Any] = {
        "id": fault.fault_id, "target": fault.target, "kind": fault.kind,
        "applied_at": fault.applied_at,
        "healed_at": None if math.isnan(fault.healed_at) else fault.healed_at,
        "duration_s": None if math.isnan(fault.healed_at) else fault.healed_at - fault.applied_at,
        "baseline_lag": baseline_lag, "baseline_p99_ms": baseline_p99,
        "peak_lag": None, "peak_p99_ms": None,
        "heal_started_at": (None if math.isnan(fault.heal_started_at)
                            else fault.heal_started_at),
        "status": "", "recovered_at": None, "recovery_s": None, "error": fault.error,
        "unknown_seconds": None, "spans_unknown": None,
    }
    end_second = int(math.floor(run_end - origin))
    after_applied = range(applied_second, end_second + 1)
    peak_lag = lag_total.reindex(after_applied).max()
    peak_p99 = p99_ms.reindex(after_applied).max()
    result["peak_lag"] = None if pd.isna(peak_lag) else float(peak_lag)
    result["peak_p99_ms"] = None if pd.isna(peak_p99) else float(peak_p99)
    if math.isnan(fault.healed_at):
        result["status"] = "not healed"
        return result
    have_lag = bool(lag_total.notna().any())
    if (have_lag and baseline_lag is None) or (baseline_p99 is None and baseline_lag is None):
        result["status"] = "no baseline"
        return result
    heal_from = fault.recovery_from
    seconds = pd.RangeIndex(int(math.floor(heal_from - origin)), end_second + 1)
    unknown = (lag_total.reindex(seconds).isna() if have_lag
               else pd.Series(False, index=seconds))
    ok = pd.Series(True, index=seconds)
    if have_lag:
        lag_limit = baseline_lag * (1 + tolerance.relative) + tolerance.lag_events
        ok &= (lag_total.reindex(seconds) <= lag_limit).fillna(False).astype(bool)
    if baseline_p99 is not None:
        latency_limit = baseline_p99 * (1 + tolerance.relative) + tolerance.latency_ms
        late = (p99_ms.reindex(seconds) > latency_limit).fillna(False).astype(bool)
        ok &= ~late
    values = ok.to_numpy()
    hold = max(1, int(tolerance.hold_s))
    for i in range(0, len(values) - hold + 1):
        if values[i:i + hold].all():
            recovered_at = origin + float(seconds[i])
            blind = int(unknown.iloc[:i].sum())
            result.update(status="recovered", recovered_at=recovered_at,
                          recovery_s=max(0.0, recovered_at - heal_from),
                          unknown_seconds=blind, spans_unknown=blind > 0)
            return result
    blind = int(unknown.sum())
    result.update(status="not recovered", unknown_seconds=blind, spans_unknown=blind > 0)
    return result


def recovery_table(faults: list[FaultWindow], lag_total: pd.Series, p99_ms: pd.Series,
                   origin: float, run_end: float,
                   tolerance: RecoveryTolerance = RecoveryTolerance()) -> list[dict[str, Any]]:
    """Recovery of every fault, in the order they were applied."""
    ordered = sorted(faults, key=lambda f: (f.applied_at, f.fault_id))
    results = []
    previous_heal: float | None = None
    for fault in ordered:
        results.append(fault_recovery(fault, lag_total.astype("float64"),
                                      p99_ms.astype("float64"), origin, run_end,
                                      previous_heal, tolerance))
        if not math.isnan(fault.healed_at):
            previous_heal = max(previous_heal or -np.inf, fault.healed_at)
    return results
