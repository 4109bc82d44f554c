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


def headline_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary figures every renderer shows first: (label, value)."""
    latency = results.get("latency_ms", {}).get("e2e", {})
    throughput = results.get("throughput", {})
    integrity = results.get("integrity", {})
    lag = results.get("lag", {})
    rows = [
        ("run", str(results.get("run", {}).get("run_id"))),
        ("status", str(results.get("run", {}).get("status"))),
        ("e2e latency p50 / p99 / max (ms)",
         f"{fmt(latency.get('p50'))} / {fmt(latency.get('p99'))} / {fmt(latency.get('max'))}"),
        ("stored rate / target (events/s)",
         f"{fmt(throughput.get('stored_eps'))} / {fmt(throughput.get('target_eps'))}"),
        ("sustainable", fmt(throughput.get("sustainable"))),
        ("lag slope after warm-up (events/s)", fmt(lag.get("slope_eps"))),
        ("sent / acked / stored unique",
         f"{fmt(integrity.get('sent'))} / {fmt(integrity.get('acked'))} / "
         f"{fmt(integrity.get('stored_unique'))}"),
        ("lost / duplicated / unexpected",
         f"{fmt(integrity.get('lost'))} / {fmt(integrity.get('duplicated'))} / "
         f"{fmt(integrity.get('unexpected'))}"),
    ]
    for detector, figures in sorted((results.get("accuracy") or {}).items()):
        rows.append((f"{detector}: precision / recall / F1",
                     f"{fmt(figures.get('precision'))} / {fmt(figures.get('recall'))} / "
                     f"{fmt(figures.get('f1'))}"))
    return rows
