"""Matplotlib figures (Agg backend) rendered to PNG bytes for embedding in ``report.html``.

Timelines use seconds since the run origin on the x axis and shade every fault window
(applied → healed, or to the end of the run) with its label.
"""

from __future__ import annotations

import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .analysis import RunAnalysis  # noqa: E402
from .latency import HOPS, latency_cdf  # noqa: E402

FIGSIZE_WIDE = (10, 3.6)
FAULT_COLOR = "#f4b183"


def to_png(figure: plt.Figure) -> bytes:
    """PNG bytes of ``figure`` (closed afterwards); no software/date metadata."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight",
                   metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def shade_faults(axes: plt.Axes, analysis: RunAnalysis) -> None:
    origin, end = analysis.data.origin, analysis.data.end
    for fault in analysis.data.faults:
        healed = fault.healed_at if not math.isnan(fault.healed_at) else end
        axes.axvspan(fault.applied_at - origin, healed - origin, color=FAULT_COLOR, alpha=0.35,
                     lw=0)
        axes.text(fault.applied_at - origin, 0.98, f" {fault.label}", rotation=0, fontsize=7,
                  va="top", ha="left", transform=axes.get_xaxis_transform())


def _empty(axes: plt.Axes, message: str = "no data") -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)


def latency_cdf_png(analysis: RunAnalysis) -> bytes:
    figure, axes = plt.subplots(figsize=(7, 3.6))
    plotted = False
    latency = analysis.figures["latency_ms"]
    for measure, label in (("e2e", "stored − scheduled"), ("visible", "visible − scheduled")):
        values, fractions = latency_cdf(analysis.measured, measure)
        summary = latency.get(measure) or {}
        if values.size:
            # Over the whole censored population: the curve stops below 1 by the share of
            # events never stored (or never seen), instead of pretending they were fast.
            share = 1.0 - (summary.get("censored_ratio") or 0.0)
            note = f"{summary.get('censored', 0)} censored"
            if measure == "visible":
                note = f"probe sample n={summary.get('sampled', 0)}, " + note
            axes.step(values, fractions * share, where="post", label=f"{label} ({note})")
            plotted = True
    if plotted:
        axes.set_xscale("symlog", linthresh=1.0)
        axes.legend(loc="lower right")
    else:
        _empty(axes)
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("fraction of events")
    axes.grid(True, alpha=0.3)
    axes.set_title("Event-time latency CDF (measurement window)")
    return to_png(figure)


def latency_timeline_png(analysis: RunAnalysis) -> bytes:
    figure, axes = plt.subplots(figsize=FIGSIZE_WIDE)
    table = analysis.latency_per_second
    if table.empty:
        _empty(axes)
    else:
        for column in ("p50", "p99", "max"):
            axes.plot(table.index, table[column], label=f"e2e {column}", lw=1)
        visible = analysis.visible_per_second
        if not visible.empty:
            axes.plot(visible.index, visible["p99"], label="visible p99", lw=1, ls="--")
        axes.set_yscale("symlog", linthresh=10.0)
        axes.legend(loc="upper right", fontsize=8)
    return _timeline_png(figure, axes, analysis, "scheduled time (s since origin)",
                         "latency (ms)", "Latency over time")


def _label_timeline(axes: Any, analysis: RunAnalysis, xlabel: str, ylabel: str) -> None:
    """Fault windows shaded and labelled, axes named, a light grid."""
    shade_faults(axes, analysis)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)


def _timeline_png(figure: Any, axes: Any, analysis: RunAnalysis, xlabel: str, ylabel: str,
                  title: str) -> bytes:
    _label_timeline(axes, analysis, xlabel, ylabel)
    axes.set_title(title)
    return to_png(figure)


def throughput_timeline_png(analysis: RunAnalysis) -> bytes:
    figure, axes = plt.subplots(figsize=FIGSIZE_WIDE)
    table = analysis.throughput_per_second
    if table.empty:
        _empty(axes)
    else:
        for column in table.columns:
            axes.plot(table.index, table[column], label=column, lw=1)
        target = analysis.figures["throughput"].get("target_eps")
        if target:
            axes.axhline(target, color="grey", ls=":", label="target")
        axes.legend(loc="upper right", fontsize=8)
    return _timeline_png(figure, axes, analysis, "time (s since origin)", "events / s",
                         "Throughput over time")


def lag_timeline_png(analysis: RunAnalysis) -> bytes:
    figure, axes = plt.subplots(figsize=FIGSIZE_WIDE)
    lag = analysis.lag
    if lag.empty:
        _empty(axes)
    else:
        for column in lag.columns:
            # NaN seconds (no sample) break the line: gaps are unknown, never filled.
            axes.plot(lag.index, lag[column], label=column, marker=".", ms=2,
                      lw=2 if column == "total" else 0.8)
        axes.legend(loc="upper right", fontsize=8, ncol=2)
    return _timeline_png(figure, axes, analysis, "time (s since origin)", "lag (events)",
                         "Consumer lag per partition and total (gaps = no sample)")


def cluster_timeline_png(analysis: RunAnalysis) -> bytes:
    """Offline and under-replicated partitions, and the active controller, per sample."""
    from .cluster import cluster_per_sample

    figure, axes = plt.subplots(figsize=FIGSIZE_WIDE)
    samples = cluster_per_sample(analysis.data.cluster)
    if samples.empty:
        _empty(axes, "no cluster sample")
    else:
        seconds = samples["ts"] - analysis.data.origin
        axes.step(seconds, samples["offline"], where="post", label="offline partitions")
        axes.step(seconds, samples["under_replicated"], where="post",
                  label="under-replicated partitions")
        axes.set_ylim(bottom=0, top=max(1, int(samples["partitions"].max())) + 0.5)
        controller = axes.twinx()
        controller.plot(seconds, samples["controller"], "k.", ms=3, label="active controller")
        controller.set_ylabel("controller id (-1 = none)")
        axes.legend(loc="upper right", fontsize=8)
    return _timeline_png(figure, axes, analysis, "time (s since origin)", "partitions",
                         "Cluster: leaders, ISR and controller (gaps = no sample)")


BREAKDOWN_SHOWN = 9
"""Components drawn on their own in the batch breakdown; the rest are summed as "other"."""


def batch_breakdown_png(analysis: RunAnalysis) -> bytes:
    """Each micro-batch as a stacked bar of its components (ms), at its start time."""
    from .batches import component_columns

    frame = analysis.batches
    figure, axes = plt.subplots(figsize=FIGSIZE_WIDE)
    if frame.empty:
        _empty(axes, "no batch timings (batch_timings.jsonl)")
        return _timeline_png(figure, axes, analysis, "batch start (s since origin)", "ms",
                             "Where each micro-batch's time went")
    columns = component_columns(frame)
    ranked = sorted(columns, key=lambda c: -float(frame[c].mean()))
    shown = [c for c in columns if c in ranked[:BREAKDOWN_SHOWN]]
    other = frame[[c for c in columns if c not in shown]].sum(axis=1)
    seconds = frame["start"] - analysis.data.origin
    width = max(0.2, float(np.nanmedian(np.diff(seconds))) * 0.8) if len(frame) > 1 else 1.0
    bottom = np.zeros(len(frame))
    for column, values in [*((c, frame[c]) for c in shown), ("other", other)]:
        values = values.clip(lower=0).to_numpy()
        axes.bar(seconds, values, width=width, bottom=bottom, label=column, align="edge")
        bottom += values
    axes.plot(seconds + width / 2, frame["duration_ms"], "k_", ms=8,
              label="batch duration (triggerExecution)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return _timeline_png(figure, axes, analysis, "batch start (s since origin)", "ms",
                         "Where each micro-batch's time went (Spark phases, sink steps)")


def hops_png(analysis: RunAnalysis) -> bytes:
    hops = analysis.figures["latency_ms"]["hops"]
    names = list(HOPS)
    p50 = [hops[name]["p50"] if hops[name]["p50"] is not None else np.nan for name in names]
    p99 = [hops[name]["p99"] if hops[name]["p99"] is not None else np.nan for name in names]
    figure, axes = plt.subplots(figsize=(8, 3.4))
    positions = np.arange(len(names))
    axes.barh(positions - 0.2, p50, height=0.4, label="p50")
    axes.barh(positions + 0.2, p99, height=0.4, label="p99")
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xscale("symlog", linthresh=1.0)
    axes.set_xlabel("ms")
    axes.legend(loc="lower right")
    axes.grid(True, axis="x", alpha=0.3)
    axes.set_title("Per-hop latency, causal order (append_to_ack: producer side)")
    return to_png(figure)


def confusion_png(detector: str, figures: dict[str, Any]) -> bytes:
    matrix = figures["confusion"]
    grid = np.array([[matrix["tn"], matrix["fp"]], [matrix["fn"], matrix["tp"]]])
    figure, axes = plt.subplots(figsize=(3.4, 3.0))
    axes.imshow(grid, cmap="Blues")
    for (row, column), count in np.ndenumerate(grid):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > grid.max() / 2 else "black")
    axes.set_xticks([0, 1], ["normal", "anomaly"])
    axes.set_yticks([0, 1], ["normal", "anomaly"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("truth")
    axes.set_title(detector)
    return to_png(figure)


def api_png(analysis: RunAnalysis) -> bytes:
    history = analysis.api_history
    figure, (rate_axes, time_axes) = plt.subplots(1, 2, figsize=FIGSIZE_WIDE)
    if history.empty:
        _empty(rate_axes)
        _empty(time_axes)
    else:
        rate_axes.plot(history.index, history["rps"], label="requests/s")
        rate_axes.plot(history.index, history["failures_per_s"], label="failures/s")
        time_axes.plot(history.index, history["p50_ms"], label="p50")
        time_axes.plot(history.index, history["p95_ms"], label="p95")
        rate_axes.legend(fontsize=8)
        time_axes.legend(fontsize=8)
    for axes, label in ((rate_axes, "per second"), (time_axes, "response time (ms)")):
        _label_timeline(axes, analysis, "time (s since origin)", label)
    figure.suptitle("Dashboard API (Locust)")
    return to_png(figure)


def sweep_curve_png(table: pd.DataFrame, parameter: str, metric: str, label: str) -> bytes:
    """Mean ± 95 % CI of ``metric`` against ``parameter``, one line per other setting.

    ``table`` has columns ``parameter``, ``series`` (label of the other parameters), ``mean``
    and ``ci95``.
    """
    figure, axes = plt.subplots(figsize=(6, 3.6))
    if table.empty:
        _empty(axes)
    for series, group in table.groupby("series", sort=True):
        group = group.sort_values(parameter)
        errors = group["ci95"].astype("float64").fillna(0.0)
        axes.errorbar(group[parameter], group["mean"], yerr=errors, marker="o", capsize=3,
                      label=str(series) or "all")
    if not table.empty:
        axes.legend(fontsize=7)
    axes.set_xlabel(parameter)
    axes.set_ylabel(label)
    axes.grid(True, alpha=0.3)
    axes.set_title(f"{label} vs {parameter}")
    return to_png(figure)
