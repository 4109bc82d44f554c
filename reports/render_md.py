"""``summary.md``: a short Markdown summary fit for a GitHub job summary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .checker import CLASSES
from .formatting import fmt, headline_rows, latency_value, status_note


def md_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [(c if isinstance(c, str) else fmt(c)).replace("|", "\\|") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def slo_markdown(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return "_No SLO defined._\n"
    rows = [["✅ pass" if v["passed"] else "❌ fail", v["name"], v["value"],
             f"{v['op']} {fmt(v['threshold'])}", v.get("message") or ""] for v in verdicts]
    return md_table(["verdict", "SLO", "value", "threshold", "message"], rows)


def _verdict_line(results: dict[str, Any]) -> str:
    if not results.get("slo_passed"):
        verdict = "❌ SLO failed"
    elif not results.get("expectations_passed", True):
        verdict = "❌ expected outcome not seen"
    else:
        verdict = "✅ all SLOs passed"
    status = (results.get("run") or {}).get("status")
    if status not in (None, "completed"):
        verdict += f" — ⚠️ status **{status}**"
    return verdict


def _integrity_md(results: dict[str, Any]) -> list[str]:
    integrity = results.get("integrity") or {}
    examples = integrity.get("examples") or {}
    rows = [[name, "unknown" if integrity.get(name) is None else integrity.get(name),
             ", ".join((examples.get(name) or [])[:5])] for name in CLASSES]
    parts = ["### Integrity (history checker)\n"]
    if integrity.get("partial"):
        parts.append("_The run was interrupted: integrity figures are partial._\n")
    if not integrity.get("topic_available"):
        parts.append("_No topic.parquet: Kafka-side classes are unknown._\n")
    return parts + [md_table(["class", "count", "examples"], rows)]


def _latency_md(results: dict[str, Any]) -> list[str]:
    latency = results.get("latency_ms", {})
    e2e = latency.get("e2e") or {}
    rows = [[label, (latency.get(name) or {}).get("count"),
             (latency.get(name) or {}).get("censored"),
             *[latency_value(latency.get(name) or {}, k) for k in ("p50", "p99", "max")]]
            for name, label in (("e2e", "e2e, censored"), ("e2e_stored", "e2e, stored only"),
                                ("visible", "visible, censored (probe sample)"))]
    hops = latency.get("hops", {})
    parts = ["### Latency (ms)\n",
             f"{fmt(e2e.get('censored'))} of {fmt(e2e.get('count'))} acked events were never "
             "stored (censored, counted as +∞).\n",
             md_table(["measure", "count", "censored", "p50", "p99", "max"], rows)]
    if hops:
        parts += ["### Latency per hop, causal order (ms)\n",
                  md_table(["hop", "p50", "p99", "max", "negative (clock)"],
                           [[name, h["p50"], h["p99"], h["max"], h.get("negative")]
                            for name, h in hops.items()])]
    return parts


def _batch_breakdown_md(results: dict[str, Any]) -> list[str]:
    breakdown = results.get("batch_breakdown") or {}
    components = breakdown.get("components") or {}
    if not components:
        return []
    return [f"### Where a micro-batch's time went (mean of {breakdown['batches']} batches, "
            f"{breakdown['mean_batch_ms']} ms, {breakdown['mean_rows']} rows)\n",
            md_table(["component", "mean ms", "share", "calls per batch"],
                     [[name, c["mean_ms"], c["share"], c["calls_per_batch"]]
                      for name, c in components.items()])]


def render_run_md(results: dict[str, Any]) -> str:
    run = results.get("run", {})
    parts = [f"## iotbench — {run.get('scenario')} `{run.get('run_id')}`: "
             f"{_verdict_line(results)}\n"]
    note = status_note(results)
    if note:
        parts.append(f"> **{note}**\n")
    parts += [md_table(["figure", "value"], headline_rows(results)),
              "### SLOs\n", slo_markdown(results.get("slo", []))]
    expectations = results.get("expectations") or []
    if expectations:
        parts += ["### Expected outcomes\n", slo_markdown(expectations)]
    sustainability = results.get("sustainability") or {}
    if sustainability:
        parts += ["### Sustainability\n",
                  md_table(["check", "verdict", "evidence"],
                           [[c["name"], "✅" if c["passed"] else "❌", c.get("detail") or ""]
                            for c in sustainability.get("checks") or []])]
    parts += _latency_md(results) + _batch_breakdown_md(results) + _integrity_md(results)
    recovery = results.get("recovery") or []
    if recovery:
        parts += ["### Recovery\n",
                  md_table(["fault", "kind", "target", "status", "recovery s", "unknown s"],
                           [[f["id"], f["kind"], f["target"], f["status"], f["recovery_s"],
                             f.get("unknown_seconds")] for f in recovery])]
    cluster_faults = (results.get("cluster") or {}).get("faults") or []
    if cluster_faults:
        columns = ["id", "broker", "leader_back_s", "isr_full_s", "controller_moved_s",
                   "sends", "unacked_sends", "errored_sends"]
        parts += ["### Broker faults\n",
                  md_table(columns, [[f.get(c) for c in columns] for f in cluster_faults])]
    accuracy = results.get("accuracy") or {}
    if accuracy:
        parts += ["### Anomaly accuracy\n",
                  md_table(["detector", "precision", "recall", "F1", "NAB"],
                           [[d, a["precision"], a["recall"], a["f1"], a["nab"]["score"]]
                            for d, a in sorted(accuracy.items())])]
    api = results.get("api")
    if api and api.get("total"):
        total = api["total"]
        parts += ["### API (Locust)\n",
                  md_table(["requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms"],
                           [[total["requests"], total["failures"], total["rps"],
                             total["p50_ms"], total["p95_ms"], total["p99_ms"]]])]
    parts.append("\nFull report: `report.html`; figures: `results.json`.\n")
    return "\n".join(parts)


def render_sweep_md(results: dict[str, Any]) -> str:
    verdict = "✅ all SLOs passed" if results.get("slo_passed") else "❌ SLO failed"
    metrics = results.get("metrics", [])
    rows = [[p["label"], p["n"], *[f"{fmt(p['metrics'].get(m, {}).get('mean'))} ± "
                                   f"{fmt(p['metrics'].get(m, {}).get('ci95'))}" for m in metrics]]
            for p in results.get("points", [])]
    parts = [f"## iotbench sweep `{results.get('sweep')}`: {verdict}\n",
             md_table(["point", "runs", *metrics], rows)]
    capacity = results.get("capacity") or []
    if capacity:
        parts += ["### Capacity\n", md_table(["stack setting", "highest sustainable events/s"],
                                             [[c["setting"], c["capacity_eps"]]
                                              for c in capacity])]
    parts += ["### SLOs\n", slo_markdown(results.get("slo", []))]
    return "\n".join(parts)
