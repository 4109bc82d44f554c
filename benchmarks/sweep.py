"""``iotbench sweep`` and ``iotbench capacity``: many runs into one sweep folder.

A sweep runs every matrix point × repetition. Points that share a stack setting (Spark
workers, cores, memory, provider) share one stack; the partition count is per run (each run
has its own topic). ``sweep.json`` lists every run; reports aggregate it.

Capacity (as in Theodolite) searches the highest sustainable producer rate. Every probe run is
judged by the one rule of :mod:`reports.sustainability` (the run and sweep reports use the
same): lag trend within 1 % of the rate, achieved rate, censored p99 bound, zero loss in every
class, every SLO met — each verdict with its evidence. Each rate is probed several times; the
capacity is :func:`reports.sustainability.capacity_from_probes` (monotone), so
``capacity.json`` and the sweep report agree. Doubling until a rate fails, then bisection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.provider import Target, acquire, release
from benchmarks.runner import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SLO_FAILED, Run
from benchmarks.scenario.model import Scenario

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
    from benchmarks.scenario.model import load_scenario

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

MIN_REPETITIONS = 3
"""A rate counts as sustainable only when this many probes at it all passed."""


def capacity_file(path: Path, root: Path = Path("sweeps"), *, start_eps: float | None = None,
                  max_eps: float = 50_000, precision: float = 0.1,
                  repetitions: int = MIN_REPETITIONS) -> int:
    """``iotbench capacity FILE``: :func:`search_capacity` of the file's scenario."""
    from benchmarks.scenario.model import load_scenario

    try:
        found, _ = search_capacity(load_scenario(path), root, start_eps=start_eps,
                                   max_eps=max_eps, precision=precision,
                                   repetitions=repetitions)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK if found["capacity_eps"] else EXIT_SLO_FAILED


WARMUP_SHARE = 0.1
"""A capacity probe's rate for the first third of its warm-up, as a share of the probed rate."""


def at_rate(base: Scenario, rate_eps: float) -> Scenario:
    """``base`` producing ``rate_eps``, reached gently and held from the middle of its
    warm-up on.

    Every probe starts a new Spark application, whose first micro-batch took 11-29 s on this
    2-core machine (JIT, the executor's Kafka consumers, Python workers). Produced at the full
    rate from the start, that batch leaves a backlog of 11-29 s of the rate, which a pipeline
    near its capacity drains long after the warm-up: the window then saw the start-up
    (1,280 events/s, run 20261207-171903-probe: p99 41 s), or a pipeline still draining its
    backlog, whose falling lag passes the trend test. Reached too late, the rate leaves the
    window watching the batches grow towards their steady size (875 events/s in the aborted
    sitting 20261207-181949-capacity-capacity, run005-r0: batches of 1.1 k rows growing to
    1.7-2.3 k through the window, lag slope 36 events/s, while the CPU was 68 % busy).
    So the probe produces ``WARMUP_SHARE`` of the rate for the first third of the warm-up,
    ramps to the rate over the next sixth and holds it from the warm-up's middle through the
    measured window; without a warm-up it is the plain rate.
    """
    from benchmarks.scenario.sections import RateRamp, RateStep

    third = base.warmup_s / 3
    if third <= 0:
        update: dict[str, Any] = {"rate_eps": rate_eps, "profile": None}
    else:
        low = rate_eps * WARMUP_SHARE
        update = {"rate_eps": None, "profile": [
            RateStep(at_s=0, rate_eps=low),
            RateRamp(at_s=third, from_eps=low, to_eps=rate_eps, over_s=third / 2),
            RateStep(at_s=third * 1.5, rate_eps=rate_eps)]}
    return base.model_copy(update={"producer": base.producer.model_copy(update=update)})


def search_capacity(base: Scenario, root: Path, *, start_eps: float | None = None,
                    max_eps: float = 50_000, precision: float = 0.1,
                    repetitions: int = MIN_REPETITIONS) -> tuple[dict[str, Any], Path]:
    """Doubling then bisection over ``producer.rate_eps``; every probe is a run.

    A rate is probed up to ``repetitions`` times and passes only if every probe passes (the
    first failing probe settles it); the capacity is the highest rate at and below which
    every probed rate passed, so it never rests on a lucky probe above a failed one.
    Returns what ``capacity.json`` holds and the sweep folder; KeyboardInterrupt passes
    through (the probes so far are kept).
    """
    from reports.sustainability import SustainabilityRule, capacity_from_probes, judge

    rule = SustainabilityRule()
    sweep = Sweep(root, f"capacity-{base.name}")
    probes: list[dict[str, Any]] = []
    low, high = 0.0, None
    rate = start_eps or base.producer.peak_rate_eps() or 100.0

    def write_capacity() -> dict[str, Any]:
        found = capacity_from_probes(probes)
        (sweep.dir / "capacity.json").write_text(json.dumps(
            {"rule": asdict(rule), "repetitions": repetitions, "probes": probes, **found},
            indent=2, default=str))
        return found

    def rate_passes(rate_eps: float) -> bool:
        scenario = at_rate(base, rate_eps)
        for repetition in range(repetitions):
            outcome = sweep.run(scenario, {"producer.rate_eps": rate_eps}, repetition)
            verdict = judge(outcome.results or {}, rule=rule)
            ok = verdict["sustainable"] and outcome.status == "completed"
            why = "; ".join(verdict["reasons"]) or "sustainable"
            probes.append({"rate_eps": rate_eps, "repetition": repetition, "sustainable": ok,
                           "why": why, "checks": verdict["checks"],
                           "run_dir": outcome.run_dir.name})
            write_capacity()
            print(f"probe {rate_eps:,.0f} events/s #{repetition + 1}/{repetitions}: "
                  f"{'sustainable' if ok else 'NOT sustainable'} ({why})")
            if not ok:
                return False
        return True

    try:
        while high is None and rate <= max_eps:  # doubling
            if rate_passes(rate):
                low, rate = rate, rate * 2
            else:
                high = rate
        while high is not None and (high - low) > precision * max(low, 1.0):  # bisection
            mid = round((low + high) / 2)
            if mid in (low, high):
                break
            if rate_passes(mid):
                low = mid
            else:
                high = mid
    finally:
        sweep.close()
    found = write_capacity()
    capacity = found["capacity_eps"]
    print(f"capacity: {capacity or 0:,.0f} events/s (highest rate at and below which every "
          f"probe passed, {repetitions} probes a rate; first unsustainable: "
          f"{found['first_unsustainable_eps'] or f'> {max_eps:,.0f}'})")
    sweep.report()
    return found, sweep.dir
