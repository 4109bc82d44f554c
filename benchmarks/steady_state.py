"""Steady state before chaos (Chaos Toolkit's steady-state hypothesis).

Right before the first fault fires, the runner asks whether the pipeline has settled; a fault
injected into a pipeline still starting up (or already falling behind) measures nothing about
the fault, so such a run ends with status ``invalid-baseline``, applies no fault, and fails.

A batch's *period* is the trigger interval, or the time the newest batches took when that
is longer (a batch that outlasts its trigger starts the next one late). Settled means, over
the last ``window_s`` seconds of producing — stretched to cover ``min_batches + 1`` periods —
(or all of them, if fewer):

- Spark committed at least ``min_batches`` micro-batches that read input;
- consumer lag has no strong upward trend: least-squares slope ≤ ``slope_share`` of the rate,
  or ≤ rate × period / window when that is larger (loose on purpose: a lag sawtooth of height
  rate × period tilts a short window's fit by up to that; the report's sustainability rule is
  the strict one);
- batches are short: the newest one took ≤ trigger interval + ``batch_slack_s`` (the batch
  limit);
- lag is bounded by what batches within that limit leave: the newest total ≤ rate × 2 × the
  batch limit. Right before a batch of B seconds commits, lag holds the rows it is writing
  (≈ rate × B, read when it started) plus those that arrived while it ran (≈ rate × B), so a
  pipeline that keeps up with batches of B shows lag up to 2 × rate × B; a tighter bound would
  refuse a baseline that the batch rule accepts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reports.stats import linear_slope


@dataclass(frozen=True)
class SteadyStateRule:
    window_s: float = 10.0
    min_batches: int = 2
    slope_share: float = 0.10
    batch_slack_s: float = 10.0
    """A fresh Spark app's first batches take 20-35 s on the 2-core CI machine; its steady
    batches with the FerretDB-SQLite sink took 2.2-6.1 s at 80 events/s (the report test's
    run in a clean-clone CI): 10 s refuses the first and accepts the second."""


def _batches(progress_file: Path, since: float) -> list[dict[str, Any]]:
    """Progress of the batches that read input and ended after ``since`` (epoch s)."""
    from datetime import datetime

    batches = []
    try:
        lines = progress_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            progress = json.loads(line)
            ended = datetime.fromisoformat(progress["timestamp"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        if (progress.get("numInputRows") or 0) > 0 and ended.timestamp() >= since:
            batches.append(progress)
    return batches


def check(rule: SteadyStateRule, *, now: float, produce_started_at: float, rate_eps: float,
          trigger_s: float, lag_history: list[tuple[float, int]],
          progress_file: Path) -> dict[str, Any]:
    """The verdict, with every figure it used (for the journal)."""
    recent = _batches(progress_file, produce_started_at)[-(rule.min_batches + 1):]
    took_s = [((b.get("durationMs") or {}).get("triggerExecution") or 0) / 1000 for b in recent]
    period_s = min(max([trigger_s, *took_s]), trigger_s + rule.batch_slack_s)
    window_s = max(rule.window_s, (rule.min_batches + 1) * period_s)
    since = max(produce_started_at, now - window_s)
    batches = _batches(progress_file, since)
    lag = [(ts, total) for ts, total in lag_history if ts >= since]
    slope = linear_slope([ts for ts, _ in lag], [total for _, total in lag]) if lag else None
    latest_lag = lag[-1][1] if lag else None
    last_batch_ms = ((batches[-1].get("durationMs") or {}).get("triggerExecution")
                     if batches else None)
    slope_limit = max(1.0, rule.slope_share * rate_eps, rate_eps * period_s / window_s)
    batch_limit_ms = (trigger_s + rule.batch_slack_s) * 1000
    lag_limit = rate_eps * 2 * batch_limit_ms / 1000
    why = []
    if len(batches) < rule.min_batches:
        why.append(f"{len(batches)} micro-batch(es) with input in the last "
                   f"{now - since:.1f} s < {rule.min_batches}")
    if slope is None:
        why.append("no lag sample yet")
    elif slope > slope_limit:
        why.append(f"lag rising {slope:,.1f} events/s > {slope_limit:,.1f}")
    if latest_lag is not None and latest_lag > lag_limit:
        why.append(f"lag {latest_lag:,} > {lag_limit:,.0f}")
    if last_batch_ms is not None and last_batch_ms > batch_limit_ms:
        why.append(f"last batch took {last_batch_ms:,} ms > {batch_limit_ms:,.0f}")
    return {"checked_at": now, "window_s": now - since, "period_s": period_s,
            "passed": not why,
            "why": "; ".join(why) or "settled", "batches": len(batches),
            "lag_slope_eps": slope, "lag_slope_limit_eps": slope_limit,
            "latest_lag": latest_lag, "lag_limit": lag_limit,
            "last_batch_ms": last_batch_ms, "batch_limit_ms": batch_limit_ms,
            "rule": asdict(rule)}
