"""Apply a scenario's faults at their times and heal them at their end — and always at exit.

Each fault is announced on the run's events (``fault_applied`` / ``fault_healed``) with when
it was scheduled and when it was *really* applied, when its heal began and when the target
was healthy again (or why it failed); the journal records them, so the report shades the
true window.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.chaos.clock_skew import ProducerClock
from benchmarks.chaos.faults import (
    ClockSkewFault,
    DiskFullFault,
    IsolateFault,
    ProcessFault,
    ResourceFault,
    ScheduledFault,
)
from benchmarks.events import RunEvents
from benchmarks.provider import Target
from system.stack import disks
from system.stack.names import BROKER_ROLES

Log = Callable[[str], None]


class ProcessHandle:
    """What the injector can do to one process: kill -9, pause/resume, stop, start."""

    def __init__(self, kill: Callable[[], None], pause: Callable[[bool], None],
                 stop: Callable[[], Any], start: Callable[[], Any],
                 forget_state: Callable[[], Any] | None = None) -> None:
        self.kill, self.pause, self.stop, self.start = kill, pause, stop, start
        self.forget_state = forget_state
        """Delete what the process resumes from (the Spark driver's checkpoint), if any."""


def stack_handles(target: Target) -> dict[str, ProcessHandle]:
    """Handles for the native stack's own services (Kafka — each broker of a cluster by its
    name —, Mongo, first Spark worker)."""
    stack = target.stack
    if stack is None:
        return {}
    names = {"kafka": "kafka", "mongo": "mongo", "spark-worker": "spark-worker-1"}
    brokers = getattr(getattr(stack, "config", None), "brokers", 1)
    if brokers > 1:
        del names["kafka"]
        names |= {f"kafka-{n}": f"kafka-{n}" for n in range(1, brokers + 1)}
    return {fault_name: ProcessHandle(
        kill=lambda n=name: stack.kill_service(n),
        pause=lambda paused, n=name: stack.pause_service(n, paused),
        stop=lambda n=name: stack.stop_service(n),
        start=lambda n=name: stack.start_service(n),
    ) for fault_name, name in names.items()}


def action_order(schedule: list[ScheduledFault]) -> list[tuple[float, str, ScheduledFault]]:
    """(seconds, "apply" | "heal", fault) in the order the injector acts.

    At one instant: first the heals of faults applied earlier (a fault's window may end where
    the next one's begins), then the applies, then the heals of faults applied at that same
    instant — a restart with no delay is started again right after its own stop, not before
    it (which left three brokers stopped in run 20261204-031714-rolling-restart)."""
    actions: list[tuple[float, int, int, str, ScheduledFault]] = []
    for sf in schedule:
        actions.append((sf.start_s, 1, sf.index, "apply", sf))
        if sf.heal_s is not None:
            actions.append((sf.heal_s, 0 if sf.heal_s > sf.start_s else 2, sf.index, "heal",
                            sf))
    return [(at_s, what, sf) for at_s, _, _, what, sf in sorted(actions, key=lambda a: a[:3])]


class FaultInjector:
    """Runs the schedule on a thread; ``heal_all`` undoes whatever is still active."""

    def __init__(self, schedule: list[ScheduledFault], target: Target,
                 handles: dict[str, ProcessHandle], events: RunEvents, log: Log,
                 topic: str | None = None, clock: ProducerClock | None = None) -> None:
        self.schedule = schedule
        self.clock = clock
        """The producer's libfaketime offset (runs with a ``clock_skew`` fault)."""
        self.topic = topic
        """The run's topic: ``kafka-leader`` is the leader of one of its partitions."""
        self.target = target
        self.handles = handles
        self.events = events
        self.log = log
        self.active: dict[int, dict[str, Any]] = {}
        self._hogs: dict[int, list[subprocess.Popen]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0
        self.gate: Callable[[], bool] | None = None
        """Asked right before the first fault; False = the baseline is not steady, so no
        fault is applied (see :mod:`benchmarks.steady_state`)."""
        self.skipped = False
        self.await_mid_batch: Callable[[], float] | None = None
        """For ``mid_batch`` kills: blocks until a micro-batch is half written; returns the
        seconds waited."""

    # ------------------------------------------------------------------ scheduling

    def start(self, t0: float) -> None:
        """``t0``: time.time() at which producing started (fault times count from it)."""
        self.t0 = t0
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for at_s, what, sf in action_order(self.schedule):
            if self._stop.wait(max(0.0, self.t0 + at_s - time.time())):
                return
            if what == "apply" and self.gate is not None:
                gate, self.gate = self.gate, None
                if not gate():
                    self.skipped = True
                    self.log("baseline not steady before the first fault: no fault applied")
                    return
            try:
                self.apply(sf) if what == "apply" else self.heal(sf.index)
            except Exception as exc:  # noqa: BLE001 - journaled; the run goes on
                self.log(f"fault {sf.label}: {what} failed: {exc}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def active_labels(self) -> list[str]:
        with self._lock:
            return [entry["label"] for entry in self.active.values()]

    # ------------------------------------------------------------------ apply / heal

    def apply(self, sf: ScheduledFault) -> None:
        f = sf.fault
        entry: dict[str, Any] = {
            "id": sf.index, "label": sf.label,
            "target": f.journal_target(),
            "kind": f.journal_kind(),
            "attributes": f.journal_attributes(),
            "scheduled_start": self.t0 + sf.start_s,
            "scheduled_end": self.t0 + sf.end_s,
            "applied_at": None, "heal_started_at": None, "healed_at": None, "error": None,
        }
        try:
            if isinstance(f, ProcessFault):
                self._apply_process(f, entry)
            elif isinstance(f, ResourceFault):
                self._apply_cpu_hog(sf, entry)
            elif isinstance(f, IsolateFault):
                self._links().set_enabled(f.isolate, False)
                entry["heal"] = ("enable", f.isolate)
            elif isinstance(f, ClockSkewFault):
                if self.clock is None:
                    raise RuntimeError("clock_skew: the producer was not started under "
                                       "libfaketime (the runner does that for its scenario)")
                self.clock.step(f.clock_skew.offset_s)
                entry["heal"] = ("reset_clock",)
            elif isinstance(f, DiskFullFault):
                self._fill_disk(f, entry)
            else:
                self._apply_link(f, entry)
            entry["applied_at"] = time.time()
            with self._lock:
                self.active[sf.index] = entry
            self.log(f"fault applied: {sf.label}")
        except Exception as exc:
            entry["error"] = f"apply: {type(exc).__name__}: {exc}"
            raise
        finally:
            self.events.fault_applied.fire(entry=entry)

    def _links(self) -> Any:
        if self.target.links is None:
            raise RuntimeError("no Toxiproxy on this stack: link faults need one")
        return self.target.links

    def _apply_link(self, f: Any, entry: dict[str, Any]) -> None:
        links = self._links()
        if f.toxic == "down":
            links.set_enabled(f.link, False)
            entry["heal"] = ("enable", f.link)
        else:
            name = links.add_toxic(f.link, f.toxic, entry["attributes"], stream=f.stream,
                                   toxicity=f.toxicity, name=f"fault{entry['id']}-{f.toxic}")
            entry["heal"] = ("remove_toxic", f.link, name)

    def _apply_process(self, f: ProcessFault, entry: dict[str, Any]) -> None:
        name = f.process
        if name in BROKER_ROLES:
            name, entry["role"] = resolve_broker_role(self.target.admin_bootstrap, name,
                                                      self.topic, f.partition)
            entry["resolved"] = name
        handle = self.handles.get(name)
        if handle is None:
            raise RuntimeError(f"cannot signal {name!r} here")
        if f.action == "pause":
            handle.pause(True)
            entry["heal"] = ("resume", name)
        elif f.action == "kill":
            if getattr(f, "mid_batch", False) and self.await_mid_batch is not None:
                entry["waited_for_mid_batch_s"] = round(self.await_mid_batch(), 3)
            handle.kill()
            entry["heal"] = ("start", name)
        else:
            entry["stopped"] = handle.stop()
            entry["heal"] = ("start", name)
        if getattr(f, "lose_checkpoint", False):
            if handle.forget_state is None:
                raise RuntimeError(f"{f.process!r} has no checkpoint to lose")
            entry["checkpoint_lost"] = handle.forget_state()

    def _apply_cpu_hog(self, sf: ScheduledFault, entry: dict[str, Any]) -> None:
        bound_s = sf.end_s - sf.start_s + CPU_HOG_GRACE_S
        hogs = [subprocess.Popen([sys.executable, "-c", _BUSY_LOOP, str(bound_s)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
                for _ in range(sf.fault.cpu_hog.cores)]
        self._hogs[sf.index] = hogs
        entry["pids"] = [hog.pid for hog in hogs]
        entry["heal"] = ("stop_hogs", sf.index)

    def _fill_disk(self, f: DiskFullFault, entry: dict[str, Any]) -> None:
        service = f.disk_full.service
        if self.target.stack is None or not hasattr(self.target.stack, "log_dir"):
            raise RuntimeError("disk_full needs a native stack the harness can reach")
        path = self.target.stack.log_dir(service)
        entry["log_dir"] = str(path)
        entry["filled_bytes"] = disks.fill(path)
        entry["disk"] = disks.usage(path)
        entry["heal"] = ("free_disk", service, str(path))

    def _free_disk(self, service: str, path: str, entry: dict[str, Any]) -> None:
        """Delete the fill; start the broker again if the full disk stopped it."""
        disks.unfill(Path(path))
        alive = self.target.stack.record(service).alive()  # type: ignore[union-attr]
        entry["broker_stopped_by_full_disk"] = not alive
        if not alive:
            self.handles[service].start()

    def _stop_hogs(self, index: int) -> None:
        hogs = self._hogs.pop(index, [])
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=10)

    def heal(self, index: int) -> None:
        with self._lock:
            entry = self.active.get(index)
        if entry is None:
            return
        entry["heal_started_at"] = time.time()  # healed_at: when the target was healthy again
        try:
            kind, *args = entry["heal"]
            if kind == "enable":
                self.target.links.set_enabled(args[0], True)  # type: ignore[union-attr]
            elif kind == "remove_toxic":
                self.target.links.remove_toxic(args[0], args[1])  # type: ignore[union-attr]
            elif kind == "resume":
                self.handles[args[0]].pause(False)
            elif kind == "stop_hogs":
                self._stop_hogs(args[0])
            elif kind == "reset_clock":
                self.clock.reset()  # type: ignore[union-attr]
            elif kind == "free_disk":
                self._free_disk(args[0], args[1], entry)
            else:
                self.handles[args[0]].start()
            entry["healed_at"] = time.time()
            with self._lock:
                self.active.pop(index, None)
            self.log(f"fault healed: {entry['label']}")
        except Exception as exc:
            entry["error"] = (entry.get("error") or "") + f" heal: {type(exc).__name__}: {exc}"
            raise
        finally:
            self.events.fault_healed.fire(entry=entry)

    def heal_all(self) -> None:
        """Undo every active fault; then make sure no link keeps a toxic or stays down."""
        with self._lock:
            indexes = list(self.active)
        for index in indexes:
            try:
                self.heal(index)
            except Exception as exc:  # noqa: BLE001 - keep healing the others
                self.log(f"heal failed: {exc}")
        for index in list(self._hogs):  # applied, then its journal entry failed
            self._stop_hogs(index)
        if self.clock is not None:
            self.clock.reset()
        if self.target.links is not None:
            try:
                self.target.links.reset()
            except Exception as exc:  # noqa: BLE001
                self.log(f"Toxiproxy reset failed: {exc}")


def resolve_broker_role(bootstrap: str, role: str, topic: str | None,
                        partition: int | None) -> tuple[str, dict[str, Any]]:
    """The broker holding ``role`` right now (``kafka-<id>``), and what it was read from."""
    from system.stack.kafka_state import cluster_view, partition_states

    if role == "kafka-controller":
        controller = cluster_view(bootstrap).controller
        if controller < 0:
            raise RuntimeError("no active controller: the metadata quorum has no leader")
        return f"kafka-{controller}", {"controller": controller}
    if topic is None or partition is None:
        raise RuntimeError("kafka-leader needs the run's topic and a partition")
    state = next((s for s in partition_states(bootstrap, topic) if s.partition == partition),
                 None)
    if state is None or not state.led:
        raise RuntimeError(f"partition {partition} of {topic} has no leader now")
    return f"kafka-{state.leader}", {"partition": partition, "leader": state.leader,
                                     "isr": list(state.isr)}


CPU_HOG_GRACE_S = 30.0
"""A busy process ends by itself this long after its window, should nobody heal it."""

_BUSY_LOOP = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""
