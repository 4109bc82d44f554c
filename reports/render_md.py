"""``summary.md``: a short Markdown summary fit for a GitHub job summary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .formatting import fmt, headline_rows


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


def render_run_md(results: dict[str, Any]) -> str:
    run = results.get("run", {})
    verdict = "✅ all SLOs passed" if results.get("slo_passed") else "❌ SLO failed"
    parts = [f"## iotbench — {run.get('scenario')} `{run.get('run_id')}`: {verdict}\n",
             md_table(["figure", "value"], headline_rows(results)),
             "### SLOs\n", slo_markdown(results.get("slo", []))]
    hops = results.get("latency_ms", {}).get("hops", {})
    if hops:
        parts += ["### Latency per hop (ms)\n",
                  md_table(["hop", "p50", "p99", "max"],
                           [[name, h["p50"], h["p99"], h["max"]] for name, h in hops.items()])]
    recovery = results.get("recovery") or []
    if recovery:
        parts += ["### Recovery\n",
                  md_table(["fault", "kind", "target", "status", "recovery s"],
                           [[f["id"], f["kind"], f["target"], f["status"], f["recovery_s"]]
                            for f in recovery])]
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
