"""Resource faults: a ``cpu_hog`` really runs busy processes for its window, a
``disk_full`` really fills a broker's log dir (and Kafka halts on it), a ``clock_skew``
steps the producer's wall clock — each healed, or refused with its reason, and journaled."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from benchmarks.chaos import clock_skew
from benchmarks.chaos.injector import FaultInjector, action_order, stack_handles
from benchmarks.events import RunEvents
from benchmarks.provider import Target, native_target
from benchmarks.scenario.errors import ScenarioError
from benchmarks.scenario.model import parse_scenario
from system.stack import disks

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
        burnt = [_cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
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


# ------------------------------------------------------------------ clock_skew

CLOCK_PROBE = """
import json, sys
from system.producer.schedule import AnchoredClock, pause
clock = AnchoredClock()
for _ in range(int(sys.argv[1])):
    clock.watch()
    print(json.dumps({"now": clock.now(), "stamp": clock.stamp(), "skew": clock.skew_s}),
          flush=True)
    pause(0.5)  # time.sleep would fail here: libfaketime#426
"""


@pytest.mark.skipif(clock_skew.library() is None, reason=clock_skew.INSTALL_HINT)
def test_clock_skew_steps_the_producers_stamps_not_its_pace(tmp_path: Path) -> None:
    """The fault writes the offset libfaketime reads; the producer's clock then stamps the
    stepped wall clock while ``now`` (its pace) goes on smoothly; the heal steps it back."""
    import json
    import subprocess
    import sys

    scenario = parse_scenario({**BASE, "faults": [
        {"at_s": 0, "duration_s": 20, "clock_skew": {"service": "producer", "offset_s": -7.5}}]})
    (scheduled,) = scenario.fault_schedule()
    clock = clock_skew.ProducerClock(tmp_path)
    entries: list[dict] = []
    events = RunEvents()
    events.fault_healed.add_listener(lambda entry: entries.append(entry))
    injector = FaultInjector([scheduled], Target("native", "", "", "", "", "", "", None, None),
                             {}, events, log=lambda _: None, clock=clock)
    probe = subprocess.Popen([sys.executable, "-c", CLOCK_PROBE, "14"], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, **clock.env(),
                                             "PYTHONPATH": str(Path(__file__).parents[2])})
    lines = [json.loads(probe.stdout.readline())]
    injector.apply(scheduled)
    for _ in range(6):
        lines.append(json.loads(probe.stdout.readline()))
    injector.heal(scheduled.index)
    lines += [json.loads(line) for line in probe.stdout]
    assert probe.wait(timeout=30) == 0
    skews = [round(line["skew"], 1) for line in lines]
    assert skews[0] == 0.0 and -7.5 in skews and skews[-1] == 0.0, skews
    steps = [b["now"] - a["now"] for a, b in itertools.pairwise(lines)]
    assert all(0.3 < step < 3.0 for step in steps), f"the pace jumped: {steps}"
    (entry,) = entries
    assert (entry["target"], entry["kind"]) == ("producer-clock", "clock_skew")
    assert entry["attributes"] == {"service": "producer", "offset_s": -7.5}
    assert clock.path.read_text().strip() == "+0"


def test_clock_skew_is_validated() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({**BASE, "faults": [
            {"at_s": 0, "duration_s": 5, "clock_skew": {"service": "kafka", "offset_s": 0}}]})
    text = str(caught.value)
    assert "must be one of: producer" in text and "offset_s must be non-zero" in text
    with pytest.raises(ScenarioError, match="overlaps"):
        parse_scenario({**BASE, "faults": [
            {"at_s": 0, "duration_s": 5, "clock_skew": {"service": "producer", "offset_s": 2}},
            {"at_s": 1, "duration_s": 5, "clock_skew": {"service": "producer", "offset_s": 3}}]})


@pytest.mark.skipif(clock_skew.library() is None, reason=clock_skew.INSTALL_HINT)
def test_clock_skew_is_refused_where_libfaketime_breaks_monotonic_sleeps(tmp_path: Path) -> None:
    """On a libfaketime with wolfcw/libfaketime#426 (Debian bookworm's 0.9.10) the run is
    refused before the producer starts, naming the bug; with a fixed one it is not."""
    import subprocess
    import sys

    clock = clock_skew.ProducerClock(tmp_path)
    broken = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.01)"],
                            env={**os.environ, **clock.env()}).returncode != 0
    if broken:
        with pytest.raises(RuntimeError, match="libfaketime#426"):
            clock.check_sleep()
    else:
        clock.check_sleep()


# ------------------------------------------------------------------ disk_full

DISK_OFFSET = 7000


@pytest.mark.skipif(disks.why_not() is not None, reason=str(disks.why_not()))
def test_disk_full_halts_the_broker_and_the_heal_brings_it_back(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from system.stack import kafka
    from tests.own_stack import own_stack

    home = tmp_path_factory.mktemp("disk-full-stack")
    with own_stack(home, DISK_OFFSET, partitions=1, workers=1, dashboard=False,
                   small_disks=("kafka",), small_disk_mb=64) as stack:
        log_dir = stack.log_dir("kafka")
        assert disks.mounted_under(home) == [log_dir]
        assert disks.usage(log_dir)["size_bytes"] == 64 << 20
        scenario = parse_scenario({**BASE, "faults": [
            {"at_s": 0, "duration_s": 20, "disk_full": {"service": "kafka", "size_mb": 64}}]})
        (scheduled,) = scenario.fault_schedule()
        target = native_target(stack, started_here=False)
        entries: list[dict] = []
        events = RunEvents()
        events.fault_healed.add_listener(lambda entry: entries.append(entry))
        injector = FaultInjector([scheduled], target, stack_handles(target), events,
                                 log=lambda _: None)
        injector.apply(scheduled)
        entry = injector.active[scheduled.index]
        assert (entry["target"], entry["kind"]) == ("kafka", "disk_full")
        assert entry["filled_bytes"] > 0 and entry["disk"]["free_bytes"] == 0
        # KRaft's controller appends to the metadata log twice a second: the first append
        # that finds no space fails the (only) log dir, and Kafka halts the broker.
        deadline = time.monotonic() + 90
        while stack.record("kafka").alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not stack.record("kafka").alive(), "the broker kept running on a full disk"
        assert "No space left on device" in (home / "logs" / "kafka.log").read_text(
            errors="replace")
        injector.heal(scheduled.index)
        (healed,) = entries
        assert healed["error"] is None and healed["healed_at"] is not None
        assert healed["broker_stopped_by_full_disk"] is True
        assert stack.record("kafka").alive()
        assert kafka.broker_ready(stack.endpoints.direct_bootstrap)
        assert disks.usage(log_dir)["free_bytes"] > 0
    assert disks.mounted_under(home) == [], "stack down unmounts the small disk"


def test_disk_full_is_refused_where_it_cannot_work() -> None:
    three = {"stack": {"kafka": {"brokers": 3}}}
    cases = [
        ({**three, "faults": [{"at_s": 1, "duration_s": 5, "disk_full": {"service": "kafka"}}]},
         "disk_full: service 'kafka' does not exist with 3 broker(s)"),
        ({"faults": [{"at_s": 1, "duration_s": 5, "disk_full": {"service": "kafka-2"}}]},
         "disk_full: service 'kafka-2' does not exist with 1 broker(s)"),
        ({"stack": {"provider": "docker"}, "faults": [
            {"at_s": 1, "duration_s": 5, "disk_full": {"service": "kafka"}}]},
         "provider docker does not allow it"),
        ({"faults": [{"at_s": 1, "disk_full": {"service": "kafka"}}]}, "duration_s"),
        ({"faults": [{"at_s": 1, "duration_s": 5, "disk_full": {"service": "kafka",
                                                                 "size_mb": 1}}]}, "size_mb"),
    ]
    for data, message in cases:
        with pytest.raises(ScenarioError) as raised:
            parse_scenario({**BASE, **data})
        assert message in str(raised.value), (data, str(raised.value))


# ------------------------------------------------------------------ the schedule's order

def test_a_restart_without_delay_is_started_again_after_its_own_stop() -> None:
    scenario = parse_scenario({
        "name": "order", "duration_s": 130, "warmup_s": 0,
        "stack": {"kafka": {"brokers": 3}},
        "faults": [{"at_s": 60, "process": "kafka-1", "action": "restart", "duration_s": 15},
                   {"at_s": 75, "process": "kafka-2", "action": "restart", "duration_s": 15},
                   {"at_s": 60, "duration_s": 15, "cpu_hog": {"cores": 1}}]})
    order = [(at, what, sf.index) for at, what, sf in action_order(scenario.fault_schedule())]
    assert order == [(60, "apply", 0), (60, "apply", 2), (60, "heal", 0),
                     (75, "heal", 2), (75, "apply", 1), (75, "heal", 1)]
