"""``iotbench sweep`` and ``iotbench capacity``: many runs into one sweep folder.

A sweep runs every matrix point × repetition. Points that share a stack setting (Spark
workers, cores, memory, provider) share one stack; the partition count is per run (each run
has its own topic). ``sweep.json`` lists every run; reports aggregate it.

Capacity (as in Theodolite) searches the highest sustainable producer rate: a probe run is
sustainable when consumer lag has no upward trend after warm-up (slope ≤ a share of the
rate), p99 event-time latency stays under a bound, and the producer really reached the rate
(achieved ≥ 95 % of target, publish delay p99 under a bound) — so the search never settles
on a rate the generator could not produce. Doubling until a probe fails, then bisection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.provider import Target, acquire, release
from benchmarks.runner import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SLO_FAILED, Run
from benchmarks.scenario import Scenario

Log = Callable[[str], None]


def _stack_key(scenario: Scenario) -> tuple[Any, ...]:
    s = scenario.stack
    return (s.provider, s.workers, s.worker_cores, s.worker_memory)


class Sweep:
    """Runs into ``<root>/<sweep-id>/``, reusing a stack across points that share it."""

    def __init__(self, root: Path, name: str, log: Log = print) -> None:
        self.dir = (root / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}").resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.entries: list[dict[str, Any]] = []
        self._targets: dict[tuple[Any, ...], Target] = {}

    def target_for(self, scenario: Scenario) -> Target:
        key = _stack_key(scenario)
        if key not in self._targets:
            for other in list(self._targets):  # one stack at a time on a small machine
                release(self._targets.pop(other), self.log)
            self._targets[key] = acquire(scenario.stack, self.log)
        return self._targets[key]

    def run(self, scenario: Scenario, point: dict[str, Any], repetition: int) -> Any:
        index = len(self.entries)
        outcome = Run(scenario, self.dir, target=self.target_for(scenario),
                      run_id=f"run{index:03d}-r{repetition}").execute()
        self.entries.append({"run_dir": outcome.run_dir.name, "point": point,
                             "repetition": repetition, "status": outcome.status,
                             "exit_code": outcome.exit_code})
        (self.dir / "sweep.json").write_text(json.dumps({"points": self.entries}, indent=2))
        if outcome.status == "interrupted":
            raise KeyboardInterrupt
        return outcome

    def close(self) -> None:
        for key in list(self._targets):
            release(self._targets.pop(key), self.log)

    def report(self) -> int:
        from reports import build_sweep_report

        results = build_sweep_report(self.dir)
        self.log(f"sweep report: {self.dir / 'report.html'}")
        failed = [e for e in self.entries if e["status"] != "completed"]
        if failed:
            return EXIT_FAILED
        return EXIT_OK if results.passed else EXIT_SLO_FAILED


def sweep_file(path: Path, root: Path = Path("sweeps")) -> int:
    from benchmarks.scenario import load_scenario

    scenario = load_scenario(path)
    points = scenario.expand_matrix()
    sweep = Sweep(root, scenario.name)
    total = len(points) * scenario.repetitions
    print(f"sweep {scenario.name}: {len(points)} point(s) × {scenario.repetitions} "
          f"repetition(s) = {total} runs → {sweep.dir}")
    try:
        # Repetitions innermost keeps points with the same stack together.
        ordered = sorted(points, key=lambda p: _stack_key(p[1]))
        for n, (point, point_scenario) in enumerate(ordered):
            for rep in range(scenario.repetitions):
                done = n * scenario.repetitions + rep
                print(f"[{done + 1}/{total}] {point or 'base'} repetition {rep + 1}")
                sweep.run(point_scenario, point, rep)
    except KeyboardInterrupt:
        print("sweep interrupted; the runs so far are kept")
        return EXIT_INTERRUPTED
    finally:
        sweep.close()
    return sweep.report()


# ---------------------------------------------------------------- capacity

@dataclass(frozen=True)
class Sustainability:
    lag_slope_share: float = 0.01
    """Lag slope after warm-up may be at most this share of the rate (events/s per s)."""
    p99_bound_ms: float = 10_000
    achieved_min: float = 0.95
    publish_delay_p99_ms: float = 1_000

    def judge(self, rate: float, results: dict[str, Any]) -> tuple[bool, str]:
        lag = (results.get("lag") or {}).get("slope_eps")
        p99 = ((results.get("latency_ms") or {}).get("e2e") or {}).get("p99")
        achieved = (results.get("throughput") or {}).get("achieved_ratio")
        publish = (((results.get("latency_ms") or {}).get("hops") or {})
                   .get("publish_delay") or {}).get("p99")
        reasons = []
        if lag is None or lag > max(1.0, self.lag_slope_share * rate):
            reasons.append(f"lag slope {lag} events/s > {self.lag_slope_share:.0%} of rate")
        if p99 is None or p99 > self.p99_bound_ms:
            reasons.append(f"e2e p99 {p99} ms > {self.p99_bound_ms:g} ms")
        if achieved is None or achieved < self.achieved_min:
            reasons.append(f"achieved {achieved} < {self.achieved_min:.0%} of target "
                           "(generator or pipeline saturated)")
        if publish is None or publish > self.publish_delay_p99_ms:
            reasons.append(f"publish delay p99 {publish} ms > {self.publish_delay_p99_ms:g}")
        return not reasons, "; ".join(reasons) or "sustainable"


def capacity_file(path: Path, root: Path = Path("sweeps"), *, start_eps: float | None = None,
                  max_eps: float = 50_000, precision: float = 0.1) -> int:
    """Doubling then bisection over ``producer.rate_eps``; every probe is a run."""
    from benchmarks.scenario import load_scenario

    base = load_scenario(path)
    rule = Sustainability()
    sweep = Sweep(root, f"capacity-{base.name}")
    probes: list[dict[str, Any]] = []
    low, high = 0.0, None
    rate = start_eps or base.producer.peak_rate_eps() or 100.0

    def probe(rate_eps: float) -> bool:
        scenario = base.model_copy(update={"producer": base.producer.model_copy(
            update={"rate_eps": rate_eps, "profile": None})})
        outcome = sweep.run(scenario, {"producer.rate_eps": rate_eps}, 0)
        ok, why = rule.judge(rate_eps, outcome.results or {})
        ok = ok and outcome.status == "completed"
        probes.append({"rate_eps": rate_eps, "sustainable": ok, "why": why,
                       "run_dir": outcome.run_dir.name})
        (sweep.dir / "capacity.json").write_text(json.dumps(
            {"rule": rule.__dict__, "probes": probes, "capacity_eps": low or None}, indent=2))
        print(f"probe {rate_eps:,.0f} events/s: {'sustainable' if ok else 'NOT sustainable'}"
              f" ({why})")
        return ok

    try:
        while high is None and rate <= max_eps:  # doubling
            if probe(rate):
                low, rate = rate, rate * 2
            else:
                high = rate
        while high is not None and (high - low) > precision * max(low, 1.0):  # bisection
            mid = round((low + high) / 2)
            if mid in (low, high):
                break
            if probe(mid):
                low = mid
            else:
                high = mid
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        sweep.close()
    (sweep.dir / "capacity.json").write_text(json.dumps(
        {"rule": rule.__dict__, "probes": probes, "capacity_eps": low or None}, indent=2))
    print(f"capacity: {low:,.0f} events/s (highest sustainable; first unsustainable: "
          f"{high if high is not None else f'> {max_eps:,.0f}'})")
    sweep.report()
    return EXIT_OK if low else EXIT_SLO_FAILED
