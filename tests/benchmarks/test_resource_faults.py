"""Resource faults: a ``cpu_hog`` really runs busy processes for its window, and is healed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks.events import RunEvents
from benchmarks.faults import FaultInjector
from benchmarks.provider import Target
from benchmarks.scenario import parse_scenario
from benchmarks.scenario_errors import ScenarioError

BASE = {"name": "hog", "duration_s": 30, "warmup_s": 0}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_cpu_hog_runs_busy_processes_and_heals_them() -> None:
    scenario = parse_scenario({**BASE, "faults": [
        {"at_s": 0, "duration_s": 20, "cpu_hog": {"cores": 2}}]})
    (scheduled,) = scenario.fault_schedule()
    target = Target("native", "", "", "", "", "", "", None, None)
    entries: list[dict] = []
    events = RunEvents()
    events.fault_applied.add_listener(lambda entry: entries.append(entry))
    injector = FaultInjector([scheduled], target, {}, events, log=lambda _: None)
    injector.t0 = time.time()
    injector.apply(scheduled)
    try:
        (entry,) = entries
        assert (entry["target"], entry["kind"], entry["attributes"]) == (
            "cpu", "cpu_hog", {"cores": 2})
        pids = entry["pids"]
        assert len(pids) == 2
        before = [_cpu_seconds(pid) for pid in pids]
        time.sleep(2.0)
        burnt = [_cpu_seconds(pid) - b for pid, b in zip(pids, before)]
        # Each keeps a core busy; even on a loaded 2-core machine it gets a share of one.
        assert all(b > 0.2 for b in burnt), burnt
    finally:
        injector.heal(scheduled.index)
    assert entry["healed_at"] is not None and entry["error"] is None
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)


def test_heal_all_stops_a_cpu_hog_left_running() -> None:
    scenario = parse_scenario({**BASE, "faults": [
        {"at_s": 0, "duration_s": 20, "cpu_hog": {"cores": 1}}]})
    (scheduled,) = scenario.fault_schedule()
    target = Target("native", "", "", "", "", "", "", None, None)
    injector = FaultInjector([scheduled], target, {}, RunEvents(), log=lambda _: None)
    injector.apply(scheduled)
    (pid,) = injector.active[scheduled.index]["pids"]
    injector.heal_all()
    assert not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize(("fault", "message"), [
    ({"at_s": 1, "duration_s": 5, "cpu_hog": {"cores": 0}}, "faults[0].cpu_hog.cores: must be ≥ 1"),
    ({"at_s": 1, "duration_s": 5, "cpu_hog": {"cores": 1, "load": 50}}, "load"),
    ({"at_s": 1, "cpu_hog": {"cores": 1}}, "duration_s"),
    ({"at_s": 1, "duration_s": 5, "cpu_hog": {"cores": 1}, "process": "kafka",
      "action": "kill"}, "exactly one of 'link'"),
])
def test_a_bad_cpu_hog_is_named(fault: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario({**BASE, "faults": [fault]})
    assert message in str(raised.value)
