"""``report.html``: one self-contained file (inline CSS, PNGs as base64 data URIs, no URL)."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from typing import Any

from . import plots
from .analysis import RunAnalysis
from .checker import CLASSES
from .formatting import fmt, headline_rows, latency_value, status_note
from .latency import HOPS, SIDE_HOPS

RUN_SECTIONS = ["Summary", "SLO verdicts", "Expectations", "Latency", "Per-hop breakdown",
                "Batch breakdown", "Throughput", "Sustainability", "Lag", "Integrity", "Recovery",
                "Anomaly accuracy", "API"]
SWEEP_SECTIONS = ["Summary", "SLO verdicts", "Sweep points", "Sweep curves", "Capacity"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.pass{background:#d9f2d9}.fail{background:#f8d0d0}.muted{color:#777}
img{max-width:100%;display:block;margin:.5em 0}.grid{display:flex;flex-wrap:wrap;gap:1em}
"""


def image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def table(header: Iterable[str], rows: Iterable[Iterable[Any]],
          row_classes: Iterable[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    classes = list(row_classes) if row_classes is not None else None
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        cells = "".join(f"<td>{html.escape(c if isinstance(c, str) else fmt(c))}</td>"
                        for c in row)
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(title: str, *parts: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def slo_table(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return '<p class="muted">No SLO defined by the scenario.</p>'
    rows = [[v["name"], v["metric"], f"{v['op']} {fmt(v['threshold'])}", v["value"],
             "PASS" if v["passed"] else "FAIL", v.get("message") or ""] for v in verdicts]
    return table(["SLO", "metric", "threshold", "value", "verdict", "message"], rows,
                 ["pass" if v["passed"] else "fail" for v in verdicts])


def expectation_table(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return '<p class="muted">The scenario declares no expected outcome.</p>'
    rows = [[v["metric"], f"{v['op']} {fmt(v['threshold'])}", v["value"],
             "MET" if v["passed"] else "NOT MET", v.get("message") or ""] for v in verdicts]
    return table(["expected figure", "expected", "value", "verdict", "message"], rows,
                 ["pass" if v["passed"] else "fail" for v in verdicts])


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def _summary_table(results: dict[str, Any]) -> str:
    note = status_note(results)
    banner = f'<p class="fail"><b>{html.escape(note)}</b></p>' if note else ""
    return banner + table(["figure", "value"], headline_rows(results))


def _stat_rows(summaries: dict[str, dict[str, Any]], names: Iterable[str]) -> list[list[Any]]:
    keys = ["count", "mean", "p50", "p95", "p99", "p999", "max"]
    return [[name, *[summaries[name].get(key) for key in keys]] for name in names]


LATENCY_LABELS = {"e2e": "e2e, censored (all acked events)",
                  "e2e_stored": "e2e, stored events only",
                  "visible": "visible, censored (probe sample)"}


def _latency_rows(latency: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, label in LATENCY_LABELS.items():
        summary = latency.get(name) or {}
        rows.append([label, summary.get("count"), summary.get("censored"), summary.get("mean"),
                     *[latency_value(summary, k) for k in ("p50", "p95", "p99", "p999", "max")]])
    return rows


def _latency(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    latency = results["latency_ms"]
    e2e, visible = latency.get("e2e") or {}, latency.get("visible") or {}
    probe = (results.get("run") or {}).get("probe") or {}
    return section("Latency",
                   "<p>Event-time latency (ms) of events scheduled in the measurement window; "
                   "percentiles use linear interpolation (numpy/pandas default). "
                   f"<b>Censored</b>: {fmt(e2e.get('censored'))} of {fmt(e2e.get('count'))} "
                   "acked events were never stored and count as +∞; a percentile among them "
                   "reads \"&gt; run\". The mean is over stored events only. "
                   f"Visible latency comes from the probe's uniform sample of "
                   f"{fmt(visible.get('sampled'))} events (1 in "
                   f"{html.escape(fmt(probe.get('sample_every')))}), "
                   f"{fmt(visible.get('censored'))} never seen.</p>",
                   table(["measure", "count", "censored", "mean", "p50", "p95", "p99", "p99.9",
                          "max"], _latency_rows(latency)),
                   image(plots.latency_cdf_png(analysis), "latency CDF"),
                   image(plots.latency_timeline_png(analysis), "latency timeline"))


def _hops(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    hops = results["latency_ms"]["hops"]
    keys = ["count", "negative", "mean", "p50", "p95", "p99", "p999", "max"]
    rows = [[f"{name} (beside the chain)" if name in SIDE_HOPS else name,
             *[hops[name].get(key) for key in keys]] for name in HOPS]
    return section("Per-hop breakdown",
                   "<p>Hops in causal order: scheduled → send → Kafka append (LogAppendTime) → "
                   "processing start → stored (after the write was acknowledged) → visible. "
                   "append_to_ack is the producer's side and is not part of e2e. "
                   "<b>negative</b> counts samples below 0 — a clock problem, left out of the "
                   "percentiles.</p>",
                   table(["hop", "count", "negative", "mean", "p50", "p95", "p99", "p99.9",
                          "max"], rows,
                         ["fail" if hops[name].get("negative") else "" for name in HOPS]),
                   image(plots.hops_png(analysis), "per-hop latency"))


def _batch_breakdown(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    breakdown = results.get("batch_breakdown") or {}
    components = breakdown.get("components") or {}
    rows = [[name, c["mean_ms"], c["share"], c["calls_per_batch"]]
            for name, c in components.items()]
    return section("Batch breakdown",
                   f"<p>{fmt(breakdown.get('batches'))} micro-batches, mean "
                   f"{fmt(breakdown.get('mean_batch_ms'))} ms for "
                   f"{fmt(breakdown.get('mean_rows'))} "
                   "rows. <code>spark.*</code> are Spark's phases from its progress; "
                   "<code>spark.task_overhead</code> is <code>addBatch</code> minus the time the "
                   "sink's partition slices ran; the other rows are the slices' own steps "
                   "(<code>read</code> = rows pulled from Spark's Kafka reader; one row per "
                   "MongoDB operation with its calls). The components cover a median "
                   f"<b>{fmt(breakdown.get('covered_median'))}</b> of each batch's duration "
                   "(more than 1 when slices ran in parallel).</p>",
                   table(["component", "mean ms per batch", "share of batch", "calls per batch"],
                         rows),
                   image(plots.batch_breakdown_png(analysis), "batch breakdown"))


def _throughput(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    throughput = results["throughput"]
    keys = ["target_eps", "scheduled_eps", "sent_eps", "acked_eps", "stored_eps",
            "achieved_ratio", "sustainable"]
    return section("Throughput", table(["figure", "value"], [[k, throughput.get(k)] for k in keys]),
                   image(plots.throughput_timeline_png(analysis), "throughput timeline"))


def _sustainability(results: dict[str, Any]) -> str:
    verdict = results.get("sustainability") or {}
    checks = verdict.get("checks") or []
    rows = [[c["name"], "PASS" if c["passed"] else "FAIL", c.get("detail") or ""]
            for c in checks]
    word = "sustainable" if verdict.get("sustainable") else "NOT sustainable"
    return section("Sustainability",
                   f"<p>At {fmt(verdict.get('rate_eps'))} events/s the run is <b>{word}</b> "
                   "by the one rule shared with sweeps and <code>iotbench capacity</code>.</p>",
                   table(["check", "verdict", "evidence"], rows,
                         ["pass" if c["passed"] else "fail" for c in checks]))


def _lag(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    lag = results["lag"]
    rows = [["total", lag.get("max"), lag.get("final")]]
    rows += [[name, p["max"], p["final"]] for name, p in sorted(lag["partitions"].items())]
    interval = (f" (95 % CI {fmt(lag.get('slope_low'))} … {fmt(lag.get('slope_high'))}, "
                f"{fmt(lag.get('slope_n'))} samples)" if lag.get("slope_low") is not None else "")
    return section("Lag", f"<p>Slope of total lag after warm-up: <b>{fmt(lag.get('slope_eps'))}"
                          f"</b> events/s{interval}. Seconds of the window without a lag sample "
                          f"(unknown, shown as gaps): {fmt(lag.get('unknown_seconds'))}.</p>",
                   table(["partition", "max", "final"], rows),
                   image(plots.lag_timeline_png(analysis), "lag timeline"))


def _integrity(results: dict[str, Any]) -> str:
    integrity = results["integrity"]
    keys = ["scheduled", "sent", "acked", "unacked", "send_errors", "stored_rows",
            "stored_unique", "stored_unacked", "dead_lettered", "lost", "duplicate_rows",
            "replayed_events", "acked_without_offset", "dead_letters"]
    examples = integrity.get("examples") or {}
    class_rows = [[name, "unknown (no topic.parquet)" if integrity.get(name) is None
                   else integrity.get(name), ", ".join(examples.get(name) or [])]
                  for name in CLASSES]
    notes = []
    if integrity.get("partial"):
        notes.append('<p class="fail">The run was interrupted: these figures are partial.</p>')
    if not integrity.get("topic_available"):
        notes.append('<p class="muted">No topic.parquet in this run folder: the classes that '
                     "need the topic are unknown, and lost counts acked events neither stored "
                     "nor dead-lettered (undrained backlog included).</p>")
    reasons = integrity.get("dead_letters_by_reason") or {}
    reason_table = (table(["dead-letter reason", "count"], sorted(reasons.items()))
                    if reasons else "")
    return section("Integrity", *notes,
                   table(["anomaly class", "count", "examples (up to 20 event ids)"], class_rows,
                         ["fail" if integrity.get(name) and name != "replayed_writes" else ""
                          for name in CLASSES]),
                   table(["count", "value"], [[k, integrity.get(k)] for k in keys]),
                   reason_table)


def _cluster(analysis: RunAnalysis, results: dict[str, Any]) -> list[str]:
    """The cluster timeline and the per-broker-fault table (3-broker runs only)."""
    cluster = results.get("cluster") or {}
    if not cluster:
        return []
    columns = ["id", "label", "broker", "window_s", "leader_back_s", "isr_full_s",
               "controller_moved_s", "max_offline", "max_under_replicated", "sends",
               "unacked_sends", "errored_sends"]
    faults = cluster.get("faults") or []
    return [f"<h3>Cluster</h3><p>{cluster['samples']} samples; longest gap "
            f"{cluster.get('longest_gap_s')} s; controllers seen "
            f"{html.escape(str(cluster.get('controllers_seen')))}. Times in seconds from the "
            "fault (leader, controller) or from when its heal began (ISR); empty = did not "
            "happen while sampled.</p>",
            image(plots.cluster_timeline_png(analysis), "cluster timeline"),
            table(columns, [[f.get(c) for c in columns] for f in faults]) if faults else
            '<p class="muted">No broker fault.</p>']


def _recovery(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    faults = results.get("recovery") or []
    if not faults:
        return section("Recovery", '<p class="muted">No fault was applied.</p>',
                       *_cluster(analysis, results))
    rows = [[f["id"], f["kind"], f["target"], f["duration_s"], f["baseline_lag"], f["peak_lag"],
             f["baseline_p99_ms"], f["peak_p99_ms"], f["status"], f["recovery_s"],
             f.get("unknown_seconds")] for f in faults]
    tolerance = results.get("recovery_tolerance", {})
    return section("Recovery",
                   "<p>Recovery is measured from when the heal began. <b>unknown s</b>: seconds "
                   "of the recovery without a lag sample (nobody observed them).</p>",
                   table(["fault", "kind", "target", "duration s", "baseline lag", "peak lag",
                          "baseline p99 ms", "peak p99 ms", "status", "recovery s",
                          "unknown s"], rows,
                         ["pass" if f["status"] == "recovered" else "fail" for f in faults]),
                   f"<p class=\"muted\">Tolerance: {html.escape(str(tolerance))}</p>",
                   *_cluster(analysis, results))


def _accuracy(results: dict[str, Any]) -> str:
    accuracy = results.get("accuracy") or {}
    if not accuracy:
        return section("Anomaly accuracy", '<p class="muted">No detector output stored.</p>')
    rows, images, kinds = [], [], []
    for detector, figures in sorted(accuracy.items()):
        delay = figures["detection_delay"]
        rows.append([detector, figures["precision"], figures["recall"], figures["f1"],
                     figures["nab"]["score"], delay["detected"], delay["episodes"],
                     delay["mean_s"], figures["fault_windows"]["inside"]["f1"],
                     figures["fault_windows"]["outside"]["f1"], figures["garbage_rejected"]])
        images.append(image(plots.confusion_png(detector, figures), f"confusion {detector}"))
        for kind, scores in sorted(figures["per_kind"].items()):
            kinds.append([detector, kind, scores["precision"], scores["recall"], scores["f1"]])
    return section("Anomaly accuracy",
                   table(["detector", "precision", "recall", "F1", "NAB score", "detected",
                          "episodes", "mean delay s", "F1 in faults", "F1 outside",
                          "garbage rejected"], rows),
                   table(["detector", "kind", "precision", "recall", "F1"], kinds),
                   f'<div class="grid">{"".join(images)}</div>')


def _api(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    api = results.get("api")
    if not api:
        return section("API", '<p class="muted">Locust did not run.</p>')
    entries = list(api["endpoints"].items()) + ([("total", api["total"])] if api["total"] else [])
    rows = [[name, e["requests"], e["failures"], e["rps"], e["p50_ms"], e["p95_ms"], e["p99_ms"]]
            for name, e in entries]
    return section("API", table(["endpoint", "requests", "failures", "req/s", "p50 ms", "p95 ms",
                                 "p99 ms"], rows),
                   image(plots.api_png(analysis), "API timeline"))


def render_run_html(analysis: RunAnalysis, results: dict[str, Any]) -> str:
    run = results.get("run", {})
    body = "".join([
        section("Summary", _summary_table(results)),
        section("SLO verdicts", slo_table(results.get("slo", []))),
        section("Expectations", expectation_table(results.get("expectations", []))),
        _latency(analysis, results), _hops(analysis, results),
        _batch_breakdown(analysis, results), _throughput(analysis, results),
        _sustainability(results), _lag(analysis, results), _integrity(results),
        _recovery(analysis, results), _accuracy(results), _api(analysis, results),
    ])
    return page(f"iotbench report — {run.get('scenario')} ({run.get('run_id')})", body)


def render_sweep_html(results: dict[str, Any], curves: dict[str, bytes]) -> str:
    """A sweep folder's report: per-point CIs, curves and capacity."""
    points = results.get("points", [])
    metrics = results.get("metrics", [])
    rows = []
    for point in points:
        cells: list[Any] = [point["label"], point["n"], point.get("sustainable")]
        for metric in metrics:
            stats = point["metrics"].get(metric, {})
            cells.append(f"{fmt(stats.get('mean'))} ± {fmt(stats.get('ci95'))}")
        rows.append(cells)
    capacity = results.get("capacity", [])
    summary = table(["figure", "value"], [["runs", results.get("runs")],
                                          ["points", len(points)],
                                          ["all SLOs passed", results.get("slo_passed")]])
    body = "".join([
        section("Summary", summary),
        section("SLO verdicts", slo_table(results.get("slo", []))),
        section("Sweep points", "<p>Mean ± half-width of the 95 % confidence interval "
                                "(Student's t) over repetitions.</p>",
                table(["point", "runs", "sustainable", *metrics], rows)),
        section("Sweep curves", "".join(image(png, name) for name, png in sorted(curves.items()))
                or '<p class="muted">No partitions/workers axis in this sweep.</p>'),
        section("Capacity", "<p>Each run judged by the one sustainability rule; capacity = the "
                "highest rate at and below which every run passed (monotone), as in "
                "capacity.json.</p>" + table(
                    ["stack setting", "capacity (events/s)", "first unsustainable",
                     "rates tried"],
                    [[c["setting"], c["capacity_eps"], c.get("first_unsustainable_eps"),
                      ", ".join(fmt(r) for r in c.get("rates_tried", []))] for c in capacity])
                if capacity else '<p class="muted">No producer.rate_eps axis.</p>'),
    ])
    return page(f"iotbench sweep report — {results.get('sweep')}", body)
