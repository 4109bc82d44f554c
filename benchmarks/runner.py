"""``iotbench run``: one scenario, one run folder, one journal.

Phases: stack → processor → warmup → steady → flush → drain → export → report. Faults follow
the scenario's seeded schedule from the producer's own clock origin (``produce_started_at``,
announced by the producer once connected), and the first fault waits for the steady-state
check (:mod:`benchmarks.steady_state`). Whatever ends the run (the end, an error, Ctrl-C),
the ``finally`` path heals every fault, stops the producer and the processor, stops a stack
it started, and leaves a readable journal.

The runner fires the run's events (:mod:`benchmarks.events`); the journal, the progress line
and the samplers subscribe to them.

Exit codes: 0 passed; 1 an SLO failed or an expected anomaly did not appear; 2 the run
failed (or the scenario is invalid); 3 invalid baseline (not steady before the first fault);
130 interrupted.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import steady_state, versions
from benchmarks.chaos.clock_skew import ProducerClock
from benchmarks.chaos.faults import ClockSkewFault
from benchmarks.chaos.injector import FaultInjector, ProcessHandle, stack_handles
from benchmarks.collectors import (
    ClusterSampler,
    LagSampler,
    ProducerProgress,
    ResourceSampler,
    processed_offsets,
)
from benchmarks.events import RunEvents
from benchmarks.journal import Journal
from benchmarks.processes import ProcessorProcess, ProducerProcess
from benchmarks.progress import ProgressLine
from benchmarks.provider import Target, acquire, release
from benchmarks.scenario.model import Scenario
from benchmarks.topic_history import export_topic
from benchmarks.visibility import VisibilityProbe
from system.processor import store
from system.processor.detectors import DETECTORS
from system.producer.ledger import LEDGER_FILE, merge_ledger
from system.producer.producer import STARTED_FILE
from system.stack import disks, kafka
from system.stack.process import log_tail
from system.store_contract import DATABASE, SINK_WRITES

Log = Callable[[str], None]

EXIT_OK, EXIT_SLO_FAILED, EXIT_FAILED, EXIT_INVALID_BASELINE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
PRODUCER_START_TIMEOUT_S = 60.0
PROBE_POLL_INTERVAL_S = 0.25
"""The visibility probe's lookups read the whole collection on FerretDB v1 (no index use),
so it polls gently: it perturbs the store it measures as little as it can."""


@dataclass
class RunOutcome:
    run_dir: Path
    status: str
    exit_code: int
    failed_slos: list[str] = field(default_factory=list)
    results: dict[str, Any] | None = None


class Run:
    def __init__(self, scenario: Scenario, runs_root: Path = Path("runs"), *,
                 log: Log = print, target: Target | None = None, run_id: str | None = None,
                 show_progress: bool = True) -> None:
        self.scenario = scenario
        self.run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.name}"
        self.run_dir = (runs_root / self.run_id).resolve()
        self.log = log
        self.target = target
        self.owns_target = target is None
        self.show_progress = show_progress
        self.topic = f"iot-data.{self.run_id}"
        self.processor: ProcessorProcess | None = None
        self.producer: ProducerProcess | None = None
        self.injector: FaultInjector | None = None
        self.samplers: list[Any] = []
        self.lag: LagSampler | None = None
        self.events = RunEvents()
        self.baseline: dict[str, Any] | None = None
        self.exported = False
        self.load: Any = None
        """load.handle.LoadHandle while Locust runs (a subprocess: gevent must not patch us)."""

    # ------------------------------------------------------------------ the run

    def execute(self) -> RunOutcome:
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        s = self.scenario
        (self.run_dir / "scenario.resolved.json").write_text(
            json.dumps(s.model_dump(mode="json"), indent=2))
        self.journal = Journal(self.run_dir / "journal.json", self.run_id, s.name)
        self.journal.follow(self.events)
        self.log(f"run {self.run_id} → {self.run_dir}")
        status, error = "failed", None
        try:
            self._run()
            status = ("invalid-baseline" if self.baseline and not self.baseline["passed"]
                      else "completed")
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user (SIGINT/SIGTERM)"
            self.log("interrupted: healing faults and stopping what was started")
        except Exception as exc:  # noqa: BLE001 - recorded in the journal, then reported
            error = f"{type(exc).__name__}: {exc}"
            self.journal.event("error", traceback=traceback.format_exc())
            self.log(f"run failed: {error}")
        finally:
            self._cleanup()
            self.journal.finish(status, error)
        return self._report(status)

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        self.events.phase_started.fire(name=name)
        try:
            yield
        finally:
            self.events.phase_ended.fire(name=name)

    def _run(self) -> None:
        s, journal = self.scenario, self.journal
        clock = (ProducerClock(self.run_dir)  # refused here, before anything starts
                 if any(isinstance(f, ClockSkewFault) for f in s.faults) else None)
        if clock is not None:
            clock.check_sleep()
        small_disks, small_disk_mb = s.small_disks()
        if small_disks and disks.why_not():
            raise RuntimeError(f"disk_full refused: {disks.why_not()}")
        with self._phase("stack"):
            if self.target is None:
                self.target = acquire(s.stack, self.log, small_disks, small_disk_mb)
            t = self.target
            journal.update(versions=versions.collect(t), settings=self._settings())
            kafka.ensure_topic(t.admin_bootstrap, self.topic, s.stack.partitions,
                               recreate=True)
            store.reset(t.admin_mongo_uri)
        with self._phase("processor"):
            spark_ui = t.stack.endpoints.spark_master_ui if t.stack else None
            self.processor = ProcessorProcess(self.run_dir, self._processor_args(),
                                              self.run_dir / "spark", spark_ui)
            took = self.processor.start()
            journal.event("processor started", seconds=round(took, 2))
        self._start_samplers()
        self.producer = ProducerProcess(self.run_dir, self._producer_args(),
                                        env=clock.env() if clock else None)
        handles = {**stack_handles(t), "spark-driver": ProcessHandle(
            self.processor.kill, self.processor.pause, self.processor.stop,
            self.processor.start, partial(self.processor.lose_checkpoint,
                                          s.stack.starting_offsets)), "producer": ProcessHandle(
            self.producer.kill, self.producer.pause, self.producer.stop, _no_restart)}
        self.injector = FaultInjector(s.fault_schedule(), t, handles, self.events, self.log,
                                      topic=self.topic, clock=clock)
        self.injector.gate = self._steady_before_chaos
        self.injector.await_mid_batch = self._await_half_written_batch
        progress = ProgressLine(self.events, s.duration_s, enabled=self.show_progress)
        self.producer.start()
        self.samplers.append(ProducerProgress(self.producer.progress, self.events))
        self.samplers[-1].start()
        t0 = self._producer_t0(progress)
        progress.t0 = t0
        journal.update(produce_started_at=t0)
        self.injector.start(t0)
        if s.load is not None and t.dashboard_url:
            from load.handle import start_load

            self.load = start_load(s.load, t.dashboard_url, self.run_dir,
                                   run_duration_s=s.duration_s)
            journal.event("load started", pid=self.load.pid)
        with self._phase("warmup"):
            progress.until(t0 + s.warmup_s, "warmup")
        with self._phase("steady"):
            progress.until(t0 + s.duration_s, "steady")
        with self._phase("flush"):  # the producer waits for its last acks
            progress.until_done(lambda: not self.producer.alive(), "flush",
                                timeout_s=180)
        self.injector.stop()
        self.injector.heal_all()
        with self._phase("drain"):
            drained = progress.until_done(self._drained, "drain",
                                          timeout_s=s.drain_timeout_s)
            lag = self.lag.latest_total if self.lag else None
            journal.update(drain={"complete": drained, "undrained": lag,
                                  "processed_offsets": self.lag.processed if self.lag else {}})
            journal.event("drain", complete=drained, lag=lag)
        self.processor.stop()
        with self._phase("export"):
            self._export()

    def _producer_t0(self, progress: ProgressLine) -> float:
        """The producer's schedule origin, once it has connected and announced it."""
        started = self.run_dir / STARTED_FILE
        assert self.producer is not None
        progress.until_done(lambda: started.exists() or not self.producer.alive(),
                            "start", timeout_s=PRODUCER_START_TIMEOUT_S)
        if not started.exists():
            tail = "\n".join(log_tail(self.producer.log, 20))
            raise RuntimeError(f"the producer did not start sending within "
                               f"{PRODUCER_START_TIMEOUT_S:.0f} s (alive: "
                               f"{self.producer.alive()}); see {self.producer.log}\n{tail}")
        return float(json.loads(started.read_text())["t0"])

    def _steady_before_chaos(self) -> bool:
        """Asked by the fault schedule right before the first fault."""
        s = self.scenario
        self.baseline = steady_state.check(
            steady_state.SteadyStateRule(), now=time.time(),
            produce_started_at=self.injector.t0 if self.injector else time.time(),
            rate_eps=s.producer.rate_at(time.time() - (self.injector.t0 if self.injector
                                                       else time.time())),
            trigger_s=s.stack.realtime_batch_s or s.stack.trigger_ms / 1000,
            lag_history=list(self.lag.history) if self.lag else [],
            progress_file=self.run_dir / "spark_progress.jsonl")
        self.journal.update(steady_state=self.baseline)
        if not self.baseline["passed"]:
            self.log(f"invalid baseline: {self.baseline['why']}")
        return bool(self.baseline["passed"])

    def _await_half_written_batch(self, timeout_s: float = 30.0) -> float:
        """Wait until some partition slice past the last committed offsets is stored while
        another partition's slice of that batch is not yet: the batch can commit only after
        all its slices, so a kill now lands between a write and its commit."""
        from pymongo import MongoClient

        assert self.target is not None
        started = time.monotonic()
        progress = self.run_dir / "spark_progress.jsonl"
        client = MongoClient(self.target.admin_mongo_uri, serverSelectionTimeoutMS=5000)
        try:
            writes = client[DATABASE][SINK_WRITES]
            while time.monotonic() - started < timeout_s:
                _, committed = processed_offsets(progress, self.topic)
                uncommitted = {w["kafka_partition"] for w in writes.find(
                    {}, {"kafka_partition": 1, "offset_from": 1})
                    if w["offset_from"] >= committed.get(w["kafka_partition"], 0)}
                if uncommitted and len(uncommitted) < self.scenario.stack.partitions:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        return time.monotonic() - started

    def _drained(self) -> bool:
        return bool(self.lag and self.lag.latest_total == 0 and self.processor
                    and self.processor.alive())

    # ------------------------------------------------------------------ pieces

    def _settings(self) -> dict[str, Any]:
        s = self.scenario
        return {"topic": self.topic, "detectors": list(DETECTORS),
                "detector": s.stack.primary_detector,
                "target": self.target.describe() if self.target else {},
                "partitions": s.stack.partitions, "workers": s.stack.workers,
                "worker_cores": s.stack.worker_cores, "trigger_ms": s.stack.trigger_ms,
                "realtime_batch_s": s.stack.realtime_batch_s,
                "sink_mode": s.stack.sink.mode,
                "starting_offsets": s.stack.starting_offsets, "acks": s.producer.acks,
                "idempotence": s.producer.idempotence}

    def _processor_args(self) -> list[str]:
        s, t = self.scenario.stack, self.target
        assert t is not None
        args = ["--master", t.spark_master, "--driver-host", t.driver_host,
                "--bootstrap", t.spark_bootstrap,
                "--topic", self.topic, "--mongo-uri", t.spark_mongo_uri,
                "--checkpoint", str(self.run_dir / "checkpoint"),
                "--progress", str(self.run_dir / "spark_progress.jsonl"),
                "--batch-timings", str(self.run_dir / "batch_timings.jsonl"),
                "--detector", s.primary_detector, "--threshold", str(s.threshold),
                "--sink-mode", s.sink.mode,
                "--trigger-ms", str(s.trigger_ms),
                # The run's topic is new: its first query reads it all. starting_offsets is
                # where a query restarted without its checkpoint begins (lose_checkpoint);
                # "latest" at the first start would skip events sent before its first batch.
                "--starting-offsets", "earliest",
                "--shuffle-partitions", str(s.effective_shuffle_partitions),
                "--cores-max", str(s.workers * s.worker_cores)]
        if s.max_offsets_per_trigger:
            args += ["--max-offsets-per-trigger", str(s.max_offsets_per_trigger)]
        if s.realtime_batch_s:
            args += ["--realtime-batch-s", f"{s.realtime_batch_s:g}"]
        return args

    def _producer_args(self) -> list[str]:
        p, t = self.scenario.producer, self.target
        assert t is not None
        thermostats, motion = p.device_counts()
        args = ["--duration", str(self.scenario.duration_s),
                "--thermostats", str(thermostats), "--motion-sensors", str(motion),
                "--anomaly-rate", str(p.anomaly_rate),
                "--anomaly-mix", json.dumps(p.anomaly_mix.normalised()),
                "--seed", str(self.scenario.seed), "--processes", str(p.processes),
                "--client", p.client, "--acks", str(p.acks),
                "--idempotence" if p.idempotence else "--no-idempotence",
                *(["--sync-send"] if p.sync_send else []),
                "--run-id", self.run_id, "--topic", self.topic,
                "--bootstrap", t.producer_bootstrap, "--out", str(self.run_dir)]
        if p.profile:
            args += ["--profile", json.dumps([e.model_dump(mode="json") for e in p.profile])]
        else:
            args += ["--rate", str(p.rate_eps or 100.0)]
        return args

    def _start_samplers(self) -> None:
        t, s = self.target, self.scenario
        assert t is not None and self.processor is not None
        self.lag = LagSampler(self.run_dir / "lag.csv", t.admin_bootstrap, self.topic,
                              self.run_dir / "spark_progress.jsonl", events=self.events)
        self.samplers = [self.lag, ResourceSampler(self.run_dir / "resources.csv", self._pids)]
        if s.stack.kafka.brokers > 1:
            self.samplers.append(ClusterSampler(self.run_dir / "cluster.csv", t.admin_bootstrap,
                                                self.topic, events=self.events))
        if t.dashboard_url:
            probe = VisibilityProbe(
                self.run_dir / "probe.csv", t.dashboard_url, t.admin_bootstrap, self.topic,
                sample_every=VisibilityProbe.sample_every_for(s.producer.peak_rate_eps()),
                poll_interval_s=PROBE_POLL_INTERVAL_S)
            self.journal.update(probe=probe.settings())
            self.samplers.append(probe)
        for sampler in self.samplers:
            sampler.start()

    def _pids(self) -> dict[str, int]:
        pids: dict[str, int] = {}
        if self.target and self.target.stack and self.target.stack.state:
            pids.update({r.name: r.pid for r in self.target.stack.state.processes})
        for child in (self.processor, self.producer):
            if child is not None and child.alive() and child.pid:
                pids[child.name] = child.pid
        return pids

    def _export(self) -> None:
        assert self.target is not None
        if not (self.run_dir / LEDGER_FILE).exists():  # a killed producer merged nothing
            merge_ledger(self.run_dir)
        counts = store.export(self.target.admin_mongo_uri, self.run_dir)
        self.exported = True
        topic = export_topic(self.target.admin_bootstrap, self.topic, self.run_dir)
        self.journal.event("exported", **counts, topic_end_offsets=topic)

    def _cleanup(self) -> None:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("stop fault schedule", lambda: self.injector and self.injector.stop()),
            ("stop load", lambda: self.load and self.load.stop()),
            ("heal faults", lambda: self.injector and self.injector.heal_all()),
            ("stop producer", lambda: self.producer and self.producer.interrupt(60)),
            ("stop processor", lambda: self.processor and self.processor.stop()),
            ("stop samplers", self._stop_samplers),
            ("note probe", lambda: self.samplers and self._note_probe()),
            ("export", lambda: self.exported or (self.target and self._export())),
        ]
        if self.owns_target:
            steps.append(("stop stack", lambda: self.target and release(self.target, self.log)))
        for what, step in steps:
            try:
                step()
            except BaseException as exc:  # noqa: BLE001 - clean up the rest regardless
                self.log(f"cleanup: {what} failed: {type(exc).__name__}: {exc}")
                self.journal.event("cleanup failed", step=what, error=str(exc))

    def _stop_samplers(self) -> None:
        """Stop them; the journal says how many samples each lost, and the last error."""
        for sampler in self.samplers:
            sampler.stop()
        self.journal.update(samplers={
            type(s).__name__: {"errors": s.errors, "last_error": s.last_error}
            for s in self.samplers if getattr(s, "errors", None) is not None})

    def _note_probe(self) -> None:
        for sampler in self.samplers:
            if isinstance(sampler, VisibilityProbe):
                self.journal.update(probe=sampler.settings())

    def _report(self, status: str) -> RunOutcome:
        code = {"completed": EXIT_OK, "interrupted": EXIT_INTERRUPTED,
                "invalid-baseline": EXIT_INVALID_BASELINE}.get(status, EXIT_FAILED)
        try:
            from reports import build_report

            results = build_report(self.run_dir)
        except Exception as exc:  # noqa: BLE001 - a run without a report still has its data
            self.log(f"report failed: {type(exc).__name__}: {exc}")
            return RunOutcome(self.run_dir, status, code if code else EXIT_FAILED)
        data = results.data if hasattr(results, "data") else dict(results)
        checks = [*data.get("slo", []), *data.get("expectations", [])]
        failed = [check["name"] for check in checks if not check.get("passed")]
        self.journal.update(slo=data.get("slo", []), expectations=data.get("expectations", []))
        if code == EXIT_OK and failed:
            code = EXIT_SLO_FAILED
        self.log(f"report: {self.run_dir / 'report.html'}")
        for kind, entries in (("SLO", data.get("slo", [])),
                              ("EXPECT", data.get("expectations", []))):
            for check in entries:
                self.log(f"  {kind} {'PASS' if check.get('passed') else 'FAIL'} "
                         f"{check.get('name')}: {check.get('value')} {check.get('op')} "
                         f"{check.get('threshold')}")
        if status == "invalid-baseline" and self.baseline:
            self.log(f"  INVALID BASELINE: {self.baseline['why']}")
        return RunOutcome(self.run_dir, status, code, failed, data)


def _no_restart() -> None:
    """Process faults never restart the producer (the scenario model refuses it)."""


def run_file(path: Path, runs_root: Path = Path("runs")) -> int:
    from benchmarks.scenario.model import load_scenario

    outcome = Run(load_scenario(path), runs_root).execute()
    print(f"{outcome.status}: {outcome.run_dir}")
    return outcome.exit_code
