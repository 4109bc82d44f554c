"""``python -m benchmarks.pipeline``: the pipeline's goal table, measured in one sitting.

For each configuration (our design on each Mongo-wire backend and producer client, and the
seed's naive design) a capacity search (:func:`benchmarks.sweep.search_capacity`: the shared
sustainability rule, repeated probes) on the quickstart topology — 2 partitions, 1 Spark
worker × 1 core; then each component's standalone ceiling (:mod:`benchmarks.ceilings`);
then one run of the first configuration at half its capacity for latency, visibility and
CPU shares. Writes ``pipeline.json`` and ``pipeline.md`` (every figure with the run folder
it comes from) into ``--out``. Figures are recorded here, never asserted in tests.

Run it alone on the machine: every probe shares its 2 cores with the whole stack.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.scenario.errors import parse_path
from benchmarks.scenario.model import Scenario, load_scenario, parse_scenario, with_value
from benchmarks.sweep import at_rate

REPO = Path(__file__).resolve().parents[1]
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "ours": ("scenarios/capacity.yaml", {}),
    "ours-kafka-python": ("scenarios/capacity.yaml", {"producer.client": "kafka-python"}),
    "ours-sqlite": ("scenarios/capacity.yaml", {"stack.mongo": "ferretdb-sqlite"}),
    "ours-trigger-0": ("scenarios/capacity.yaml", {"stack.trigger_ms": 0}),
    "seed-baseline": ("scenarios/seed-baseline.yaml", {}),
}
"""Name → (scenario file, key path → value overrides)."""

DEFAULT_START_EPS = 50.0
"""``--start`` for a configuration it does not name."""

GOALS = {
    "sustainable_eps": 8000,
    "ratio_to_slowest_ceiling": 0.8,
    "ratio_to_baseline": 20,
    "e2e_p99_ms_at_half": 1000,
    "stored_to_visible_p50_ms": 1000,
    "mongo_cpu_share_of_machine": 0.20,
}


def configured(name: str) -> Scenario:
    path, overrides = CONFIGS[name]
    scenario = load_scenario(REPO / path)
    if not overrides:
        return scenario
    data = scenario.model_dump(exclude_unset=True)
    for key, value in overrides.items():
        data = with_value(data, parse_path(key), value)
    return parse_scenario(data)


def half_load_run(scenario: Scenario, capacity_eps: float, root: Path) -> dict[str, Any]:
    """One run at half the capacity: e2e latency, stored → visible, CPU shares."""
    from benchmarks.runner import Run

    outcome = Run(at_rate(scenario, max(1.0, round(capacity_eps / 2))), root).execute()
    results = outcome.results or {}
    latency = results.get("latency_ms", {})
    e2e = latency.get("e2e", {})
    visible = latency.get("hops", {}).get("stored_to_visible", {})
    cores = os.cpu_count() or 1
    cpu = {name: round(r.get("cpu_mean_percent", 0) / (100 * cores), 4)
           for name, r in (results.get("resources") or {}).items()}
    components = (results.get("batch_breakdown") or {}).get("components", {})
    largest = sorted(components.items(), key=lambda kv: -(kv[1].get("share") or 0))[:3]
    return {"run_dir": str(outcome.run_dir), "status": outcome.status,
            "rate_eps": round(capacity_eps / 2),
            "e2e_p50_ms": e2e.get("p50"), "e2e_p99_ms": e2e.get("p99"),
            "e2e_p99_censored": (e2e.get("censored_above") or {}).get("p99"),
            "stored_to_visible_p50_ms": visible.get("p50"),
            "cpu_share_of_machine": cpu,
            "largest_batch_components": [
                {"component": name, "share": c.get("share"), "mean_ms": c.get("mean_ms")}
                for name, c in largest]}


def start_rates(text: str, configs: list[str]) -> dict[str, float]:
    """``--start``: one rate for every configuration (``1000``), then ``name=rate`` entries
    for some (``1000,seed-baseline=250``). Raises ValueError naming what is wrong."""
    default, rates, bad = DEFAULT_START_EPS, {}, []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, value = part.rpartition("=")
        try:
            rate = float(value)
        except ValueError:
            bad.append(part)
            continue
        if rate <= 0 or (name and name not in configs):
            bad.append(part)
        elif name:
            rates[name] = rate
        else:
            default = rate
    if bad:
        raise ValueError(f"--start: {', '.join(bad)} (a positive rate, or name=rate for one "
                         f"of {', '.join(configs)})")
    return {name: rates.get(name, default) for name in configs}


def measure(configs: list[str], out: Path, sweeps: Path, *, repetitions: int,
            precision: float, start_eps: dict[str, float], command: str = "") -> dict[str, Any]:
    from benchmarks import ceilings
    from benchmarks.sweep import search_capacity

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result: dict[str, Any] = {"measured_at": started, "machine": {"cpus": os.cpu_count()},
                              "topology": "2 partitions, 1 Spark worker × 1 core",
                              "command": command, "repetitions": repetitions,
                              "precision": precision, "goals": GOALS, "capacity": {}}

    def save() -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "pipeline.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (out / "pipeline.md").write_text(markdown(result))

    for name in configs:
        print(f"== capacity of {name}", flush=True)
        found, folder = search_capacity(configured(name), sweeps, start_eps=start_eps[name],
                                        precision=precision, repetitions=repetitions)
        result["capacity"][name] = {"capacity_eps": found["capacity_eps"],
                                    "first_unsustainable_eps": found["first_unsustainable_eps"],
                                    "start_eps": start_eps[name], "sweep": str(folder),
                                    "scenario": CONFIGS[name][0],
                                    "overrides": CONFIGS[name][1]}
        save()
    print("== component ceilings", flush=True)
    result["ceilings"] = ceilings.measure(sweeps / f"ceilings-{int(time.time())}")
    save()
    first = configs[0]
    capacity = result["capacity"][first]["capacity_eps"]
    if capacity:
        print(f"== {first} at half its capacity", flush=True)
        result["half_load"] = {"config": first, **half_load_run(configured(first), capacity,
                                                                sweeps)}
    result["verdicts"] = verdicts(result)
    save()
    return result


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    """Each goal: the measured value and whether it is met (None = not measured)."""
    caps = {k: v["capacity_eps"] for k, v in result["capacity"].items()}
    ours = max((v for k, v in caps.items() if k != "seed-baseline" and v), default=None)
    base = caps.get("seed-baseline")
    ceiling = result.get("ceilings", {}).get("ceilings_eps", {})
    known = [v for v in ceiling.values() if v]
    half = result.get("half_load", {})
    mongo = (half.get("cpu_share_of_machine") or {}).get("mongo")
    measured = {
        "sustainable_eps": ours,
        "ratio_to_slowest_ceiling": round(ours / min(known), 4) if ours and known else None,
        "ratio_to_baseline": round(ours / base, 2) if ours and base else None,
        "e2e_p99_ms_at_half": half.get("e2e_p99_ms"),
        "stored_to_visible_p50_ms": half.get("stored_to_visible_p50_ms"),
        "mongo_cpu_share_of_machine": mongo,
    }
    upper = {"e2e_p99_ms_at_half", "stored_to_visible_p50_ms", "mongo_cpu_share_of_machine"}
    return {goal: {"measured": value, "goal": GOALS[goal],
                   "met": None if value is None else (value <= GOALS[goal] if goal in upper
                                                      else value >= GOALS[goal])}
            for goal, value in measured.items()}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Pipeline goals, measured {result['measured_at']}", "",
             f"`python -m benchmarks.pipeline` on {result['machine']['cpus']} cores, "
             f"{result['topology']}; {result['repetitions']} probes a rate, bisection to "
             f"{result['precision']:.0%}."]
    if result.get("command"):
        lines += ["", f"Command: `{result['command']}`"]
    lines += ["",
             "| configuration | scenario | overrides | sustainable events/s | first unsustainable "
             "| sweep |", "|---|---|---|---:|---:|---|"]
    for name, c in result["capacity"].items():
        lines.append(f"| {name} | `{c['scenario']}` | {c['overrides'] or '—'} | "
                     f"{_fmt(c['capacity_eps'])} | {_fmt(c['first_unsustainable_eps'])} | "
                     f"`{Path(c['sweep']).name}` |")
    if "ceilings" in result:
        lines += ["", "Component ceilings (same sitting): " + ", ".join(
            f"{k} {_fmt(v)}" for k, v in result["ceilings"]["ceilings_eps"].items())
            + f"; slowest: {result['ceilings']['slowest']}."]
    if "half_load" in result:
        h = result["half_load"]
        lines += ["", f"At half of `{h['config']}`'s capacity ({_fmt(h['rate_eps'])} events/s, "
                  f"run `{Path(h['run_dir']).name}`, {h['status']}): e2e p50 "
                  f"{_fmt(h['e2e_p50_ms'])} ms, p99 {_fmt(h['e2e_p99_ms'])} ms"
                  + (" (censored)" if h.get("e2e_p99_censored") else "")
                  + f"; stored → visible p50 {_fmt(h['stored_to_visible_p50_ms'])} ms; "
                  "largest shares of a micro-batch: " + ", ".join(
                      f"{c['component']} {c['share']:.0%}" for c in h["largest_batch_components"]
                      if c.get("share") is not None) + ".",
                  "", "CPU share of the machine: " + ", ".join(
                      f"{k} {v:.0%}" for k, v in sorted(h["cpu_share_of_machine"].items(),
                                                         key=lambda kv: -kv[1])) + "."]
    if "verdicts" in result:
        lines += ["", "| goal | target | measured | met |", "|---|---:|---:|---|"]
        for goal, v in result["verdicts"].items():
            met = {True: "yes", False: "**no**", None: "not measured"}[v["met"]]
            lines.append(f"| {goal} | {_fmt(v['goal'])} | {_fmt(v['measured'])} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0],
        epilog="Configurations: " + "; ".join(
            f"{name} = {path} {overrides or ''}".strip()
            for name, (path, overrides) in CONFIGS.items()))
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help="comma-separated configurations; the first is also run at half "
                             "its capacity (default: all)")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="probes per rate; a rate passes only if all pass (3)")
    parser.add_argument("--precision", type=float, default=0.1,
                        help="bisect until the bracket is within this share (0.1)")
    parser.add_argument("--start", default=str(DEFAULT_START_EPS),
                        help="first rate probed: one for all (%(default)s), then name=rate "
                             "for some, e.g. 1000,seed-baseline=250")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                        help="where pipeline.json and pipeline.md go (benchmarks/results)")
    parser.add_argument("--sweeps", type=Path, default=Path("sweeps"),
                        help="where the probes' sweep folders go (sweeps/)")
    args = parser.parse_args(argv)
    from benchmarks.cli import stop_signals_interrupt

    stop_signals_interrupt()  # a sitting started in the background stops on SIGINT too
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        parser.error(f"unknown configuration(s) {', '.join(unknown) or '(none)'}; "
                     f"known: {', '.join(CONFIGS)}")
    try:
        starts = start_rates(args.start, configs)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        result = measure(configs, args.out, args.sweeps, repetitions=args.repetitions,
                         precision=args.precision, start_eps=starts,
                         command=shlex.join(["python", "-m", "benchmarks.pipeline",
                                             *(sys.argv[1:] if argv is None else argv)]))
    except KeyboardInterrupt:
        print("interrupted; what was measured so far is in", args.out / "pipeline.json")
        return 130
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
