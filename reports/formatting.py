"""Number formatting shared by the HTML and Markdown renderers."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """Human-readable value: None → "—", floats with ``digits`` significant decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.1f}"
        if abs(value) < 1:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def latency_value(summary: dict[str, Any], key: str) -> str:
    """A latency figure, or "> run (censored)" when it falls among never-stored events."""
    value = summary.get(key)
    if value is None and (summary.get("censored_above") or {}).get(key):
        return "> run (censored)"
    return fmt(value)


def status_note(results: dict[str, Any]) -> str | None:
    """A sentence for a run that did not complete normally (None when it did)."""
    run = results.get("run", {})
    status = run.get("status")
    if status in (None, "completed"):
        return None
    return f"Run status {status}: {run.get('status_note') or 'see journal.json'}"


def headline_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary figures every renderer shows first: (label, value)."""
    latency = results.get("latency_ms", {}).get("e2e", {})
    throughput = results.get("throughput", {})
    integrity = results.get("integrity", {})
    lag = results.get("lag", {})
    rows = [
        ("run", str(results.get("run", {}).get("run_id"))),
        ("status", str(results.get("run", {}).get("status"))),
        ("e2e latency p50 / p99 / max (ms, censored)",
         f"{latency_value(latency, 'p50')} / {latency_value(latency, 'p99')} / "
         f"{latency_value(latency, 'max')}"),
        ("acked events never stored (censored)",
         f"{fmt(latency.get('censored'))} of {fmt(latency.get('count'))}"),
        ("stored rate / target (events/s)",
         f"{fmt(throughput.get('stored_eps'))} / {fmt(throughput.get('target_eps'))}"),
        ("sustainable", fmt(throughput.get("sustainable"))),
        ("lag slope after warm-up (events/s)", fmt(lag.get("slope_eps"))),
        ("sent / acked / stored unique",
         f"{fmt(integrity.get('sent'))} / {fmt(integrity.get('acked'))} / "
         f"{fmt(integrity.get('stored_unique'))}"),
        ("lost / storage duplicates / unexpected / undrained",
         f"{fmt(integrity.get('lost'))} / {fmt(integrity.get('storage_duplicates'))} / "
         f"{fmt(integrity.get('unexpected'))} / {fmt(integrity.get('undrained'))}"
         + (" (partial: run interrupted)" if integrity.get("partial") else "")),
    ]
    for detector, figures in sorted((results.get("accuracy") or {}).items()):
        rows.append((f"{detector}: precision / recall / F1",
                     f"{fmt(figures.get('precision'))} / {fmt(figures.get('recall'))} / "
                     f"{fmt(figures.get('f1'))}"))
    return rows
