"""The native stack: every service a real process on 127.0.0.1, started in parallel.

Usable as a library (a context manager) and by the CLI::

    with NativeStack(StackConfig(partitions=4, workers=2)) as stack:
        stack.endpoints.producer_bootstrap   # "127.0.0.1:9092", through Toxiproxy
        stack.links.add_toxic("spark-kafka", "latency", {"latency": 500})
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from system.config import HOST, TOPIC, Endpoints, Ports, cache_dir, state_dir
from system.stack import disks, mongo_backend, process, spark
from system.stack.errors import PortBusy, ServiceError, SetupError, StackError
from system.stack.kafka_cluster import Replication
from system.stack.kafka_services import (
    broker_data_dir,
    kafka_bound_ports,
    kafka_services,
    kafka_urls,
)
from system.stack.links import Links, link_specs
from system.stack.process import ProcessRecord
from system.stack.service import Service as _Service
from system.stack.setup import kafka_jars, toxiproxy_binary
from system.stack.state import StackState
from system.stack.wait import HttpJson, Predicate, port_open, wait_until

Log = Callable[[str], None]


@dataclass(frozen=True)
class StackConfig:
    partitions: int = 2
    """Partitions of the ``iot-data`` topic."""
    workers: int = 1
    """Spark standalone workers."""
    worker_cores: int = 1
    worker_memory: str = "1g"
    dashboard: bool = True
    """Serve the Flask dashboard (waitress) as a stack service on the dashboard port."""
    topic: str = TOPIC
    timeout_s: float = 90.0
    """How long each service may take to become healthy."""
    mongo: str = "auto"
    """The MongoDB-wire server: ``ferretdb-sqlite``, ``ferretdb-postgres`` (a private
    PostgreSQL cluster is started too), ``mongod`` (from PATH), or ``auto`` = ``mongod`` when
    one is on PATH, else ``ferretdb-sqlite``. A stack resolves ``auto`` when created, so its
    state file names the concrete backend."""
    brokers: int = 1
    """Kafka brokers: 1 (service ``kafka``) or 3 (``kafka-1..3``, a replicated KRaft cluster
    with every path into each broker behind its own proxy; see ``kafka_cluster``)."""
    replication_factor: int | None = None
    """Of the run's topic; None = the number of brokers."""
    min_insync_replicas: int | None = None
    """Of the run's topic; None = 1 for one broker, 2 for three."""
    unclean_leader_election: bool = False
    small_disks: tuple[str, ...] = ()
    """Kafka services (``kafka`` or ``kafka-N``) whose log dir is a tmpfs of
    ``small_disk_mb``, mounted before the broker formats it (the ``disk_full`` fault fills
    it; needs root) and unmounted at ``down``."""
    small_disk_mb: int = 256

    def replication(self) -> Replication:
        """The resolved settings; StackError names a setting Kafka would refuse."""
        return Replication.for_cluster(self.brokers, self.replication_factor,
                                       self.min_insync_replicas,
                                       self.unclean_leader_election)


class NativeStack:
    """Start, watch and stop the native stack; state lives in ``home``/state.json."""

    def __init__(self, config: StackConfig | None = None, *, home: Path | None = None,
                 cache: Path | None = None, ports: Ports | None = None, log: Log = print
                 ) -> None:
        config = config or StackConfig()
        config.replication()  # refuse brokers: 2, RF > brokers, … before anything starts
        self.home = (home or state_dir() / "stack").resolve()
        backend, self.mongo_choice = mongo_backend.choose(config.mongo, self.home)
        """Why ``stack.mongo: auto`` became ``config.mongo`` (None when it was chosen)."""
        self.config = replace(config, mongo=backend)
        self.cache = cache or cache_dir()
        self.ports = ports or Ports.from_env()
        self.endpoints = Endpoints(self.ports, brokers=self.config.brokers)
        self.links = Links(self.endpoints.toxiproxy_url)
        self.log = log
        self.state: StackState | None = None
        self._records: dict[str, ProcessRecord] = {}
        self._popens: dict[str, object] = {}
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._healthy: dict[str, threading.Event] = {}

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> NativeStack:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ------------------------------------------------------------------ services

    def _services(self) -> list[_Service]:
        p, c, e = self.ports, self.config, self.endpoints
        logs = self.home / "logs"
        senv = spark.spark_env(self.home / "spark")
        services = [
            _Service("toxiproxy",
                     lambda: [str(toxiproxy_binary(self.cache)), "-host", HOST,
                              "-port", str(p.toxiproxy_api)],
                     HttpJson(f"{e.toxiproxy_url}/version", what="Toxiproxy API /version"),
                     "run `iotbench setup` if the binary is missing.",
                     after_ready=lambda: self.links.ensure(link_specs(p, c.brokers))),
            *mongo_backend.services(c.mongo, self.cache, self.home, p, e.direct_mongo_uri),
            *kafka_services(c.brokers, c.replication(), c.topic, c.partitions, self.home,
                            self.cache, p, e, small_disks=c.small_disks,
                            small_disk_mb=c.small_disk_mb),
            _Service("spark-master", lambda: spark.master_command(p),
                     HttpJson(f"{e.spark_master_ui}/json/",
                              lambda s: isinstance(s, dict) and s.get("status") == "ALIVE",
                              "Spark master /json/ status ALIVE"),
                     "check that Java 17 is the default `java`.", env=senv),
        ]
        for i in range(c.workers):
            services.append(_Service(
                f"spark-worker-{i + 1}",
                lambda i=i: spark.worker_command(p, i, c.worker_cores, c.worker_memory,
                                                 self.home / "spark" / f"worker-{i + 1}"),
                Predicate(lambda: spark.alive_workers(e.spark_master_ui) >= c.workers,
                          f"{c.workers} ALIVE worker(s) registered at the master"),
                "a worker registers only once the master is up; see both logs.", env=senv))
        if c.dashboard:
            services.append(_Service(
                "dashboard",
                lambda: [sys.executable, "-m", "system.dashboard.wsgi", "--host", HOST,
                         "--port", str(p.dashboard), "--mongo-uri", e.dashboard_mongo_uri],
                HttpJson(f"{e.dashboard_url}/healthz", what="dashboard /healthz 200"),
                "it reads Mongo through the dashboard-mongo link; is that link up?"))
        for s in services:
            s.env.setdefault("IOTBENCH_LOG", str(logs / f"{s.name}.log"))
        return services

    def _bound_ports(self) -> dict[int, str]:
        p, c = self.ports, self.config
        ports = {
            **kafka_bound_ports(c.brokers, p),
            p.mongo: "mongo", p.toxiproxy_api: "toxiproxy",
            p.spark_master: "spark-master", p.spark_master_ui: "spark-master",
        }
        for i in range(c.workers):
            ports[p.spark_worker_base + i] = f"spark-worker-{i + 1}"
            ports[p.spark_worker_ui_base + i] = f"spark-worker-{i + 1}"
        if c.dashboard:
            ports[p.dashboard] = "dashboard"
        if c.mongo == "ferretdb-postgres":
            ports[p.postgres] = "postgres"
        return ports

    # ------------------------------------------------------------------ up

    def up(self) -> StackState:
        """Start everything, wait until healthy, write the state file. On any failure
        (or Ctrl-C) stop what was started and raise."""
        previous = StackState.load(self.home)
        if previous and previous.running():
            raise StackError(f"a stack is already running from {self.home} "
                             f"({', '.join(previous.running())}).\n"
                             f"Hint: `iotbench stack status` shows it; `iotbench stack down` "
                             f"stops it.")
        self._preflight()
        for port, service in sorted(self._bound_ports().items()):
            if port_open(port):
                raise PortBusy(service, port, _port_holder(port))
        self.home.mkdir(parents=True, exist_ok=True)
        if self.config.small_disks:
            disks.unmount_under(self.home)  # left by a stack that died without `down`
            self._forget_kafka("a small disk hides that broker's metadata log")
        self._cancel.clear()
        started = time.monotonic()
        timings: dict[str, float] = {}
        services = self._services()
        self._healthy = {s.name: threading.Event() for s in services}
        self.log(f"starting {len(services)} services (state in {self.home})")
        if self.mongo_choice:
            self.log(f"stack.mongo auto: {self.config.mongo} ({self.mongo_choice})")
        pool = ThreadPoolExecutor(max_workers=len(services))
        try:
            futures = {pool.submit(self._start_one, s, started): s.name for s in services}
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                self._cancel.set()
                wait(futures)
                raise failed[0].exception()  # type: ignore[misc]
            for f, name in futures.items():
                timings[name] = f.result()
        except BaseException:
            self._cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self.log("stack up failed: stopping what was started")
            self._stop_records(list(self._records.values()))
            disks.unmount_under(self.home)
            StackState.remove(self.home)
            self._records.clear()
            raise
        pool.shutdown()
        cold = time.monotonic() - started
        self.state = self._save_state(cold, timings)
        self.log(f"stack healthy after {cold:.1f} s")
        return self.state

    def _save_state(self, cold_s: float, timings: dict[str, float]) -> StackState:
        state = StackState(
            provider="native", home=str(self.home), config=asdict(self.config),
            ports=asdict(self.ports), urls=self.urls(), processes=list(self._records.values()),
            healthy_after_s=timings, cold_start_s=round(cold_s, 2), started_at=time.time(),
        )
        state.save(self.home)
        return state

    def _preflight(self) -> None:
        """Everything installed? One message naming what is missing and how to get it."""
        from system.stack.setup import spark_kafka_jars

        needed = {
            "Kafka jars": kafka_jars(self.cache) / ".complete",
            "Spark Kafka connector jars": spark_kafka_jars(self.cache) / ".complete",
            "Toxiproxy server": toxiproxy_binary(self.cache),
        }
        missing = [f"{what} ({path})" for what, path in needed.items() if not path.exists()]
        mongo_backend.preflight(self.config.mongo, self.cache, self.home, self.ports)
        if missing:
            raise SetupError("not installed: " + "; ".join(missing)
                             + ".\nHint: run `iotbench setup` (idempotent; cache: "
                             f"{self.cache}).")

    def _start_one(self, service: _Service, t0: float) -> float:
        """Launch and wait for one service; returns seconds from stack start to healthy."""
        log = self.home / "logs" / f"{service.name}.log"
        if service.after is not None:
            self._wait_for(service.after, service.name)
        popen, record = process.start(service.name, service.command(), log, env=service.env,
                                      cwd=self.home, user=service.user,
                                      stop_signal=service.stop_signal)
        with self._lock:
            self._records[service.name] = record
            self._popens[service.name] = popen
            if self.state is None:  # so `stack down` finds it if `up` crashes
                self._save_state(time.monotonic() - t0, {})
        wait_until(
            service.name, service.ready, self.config.timeout_s,
            alive=lambda: popen.poll() is None and not self._cancel.is_set(),
            state=lambda: process.describe(popen, record) + (
                " (start-up cancelled: another service failed)" if self._cancel.is_set() else ""),
            log_tail=lambda: process.log_tail(log),
            hint=f"{service.hint} Full log: {log}",
        )
        if service.after_ready is not None:
            try:
                service.after_ready()
            except Exception as exc:
                raise ServiceError(service.name, f"configuring after start: {exc}",
                                   time.monotonic() - t0, process.describe(popen, record),
                                   process.log_tail(log), service.hint) from exc
        took = time.monotonic() - t0
        self._healthy.setdefault(service.name, threading.Event()).set()
        self.log(f"  {service.name:<16} healthy after {took:5.1f} s")
        return round(took, 2)

    def _wait_for(self, first: str, name: str) -> None:
        """Block until ``first`` is healthy (or stop: start-up was cancelled)."""
        healthy = self._healthy.get(first)
        if healthy is None:  # restarting one service: the other runs already
            return
        while not healthy.wait(0.2):
            if self._cancel.is_set():
                raise StackError(f"{name}: not started, {first} did not become healthy")

    # ------------------------------------------------------------------ down

    def down(self, purge: bool = False) -> list[str]:
        """Stop every process of this home's stack; returns one line per process."""
        state = self.state or StackState.load(self.home)
        # A service being started again (a fault's heal) is in _records before the state
        # file lists it: stop the newest process of every name.
        newest = {r.name: r for r in (state.processes if state else [])} | self._records
        lines = self._stop_records(list(newest.values()))
        lines += disks.unmount_under(self.home)
        if self.config.small_disks:
            lines.append(self._forget_kafka("its small disk is gone with the unmount"))
        if state:
            StackState.remove(self.home)
        if purge:
            for sub in ("kafka", "mongo", "spark", "logs"):
                shutil.rmtree(self.home / sub, ignore_errors=True)
            mongo_backend.cluster(self.home, self.ports).purge()
            lines.append(f"purged data under {self.home}")
        self.state = None
        self._records.clear()
        return lines

    def _forget_kafka(self, why: str) -> str:
        """Delete every Kafka node's data (a fresh cluster next start): a KRaft voter whose
        metadata log vanished cannot rejoin a quorum that remembers it — Kafka 4.1 halts it
        with "Received request or response with leader … inconsistent with current leader
        OptionalInt.empty and epoch 0" — so a stack with a small disk starts and ends with
        no Kafka data at all."""
        shutil.rmtree(self.home / "kafka", ignore_errors=True)
        return f"Kafka data under {self.home / 'kafka'} deleted ({why})"

    def _stop_records(self, records: list[ProcessRecord]) -> list[str]:
        # Stopped in parallel: each waits on its own grace period. Replicated brokers go
        # first, while Toxiproxy still carries their controlled shutdown (without it they
        # wait for each other until they are killed).
        cluster = [r for r in records if r.name.startswith("kafka-")]
        order = [*cluster, *(r for r in records if r not in cluster)]
        results = []
        for wave in (cluster, order[len(cluster):]):
            with ThreadPoolExecutor(max_workers=max(1, len(wave))) as pool:
                results += list(pool.map(process.stop, wave))
        lines = [f"{r.name:<16} pid {r.pid:<7} {res}"
                 for r, res in zip(order, results, strict=True)]
        leftovers = [r for r in order if r.alive()]
        if leftovers:
            raise StackError("still alive after stop: " + ", ".join(
                f"{r.name} (pid {r.pid})" for r in leftovers))
        return lines

    # ------------------------------------------------------------------ status

    def urls(self) -> dict[str, str]:
        e = self.endpoints
        urls = {
            **kafka_urls(self.config.brokers, e),
            "mongo (direct)": e.direct_mongo_uri,
            "mongo (spark-mongo link)": e.spark_mongo_uri,
            "mongo (dashboard-mongo link)": e.dashboard_mongo_uri,
            "spark master": e.spark_master_url,
            "spark master UI": e.spark_master_ui,
            "toxiproxy API": e.toxiproxy_url,
        }
        if self.config.dashboard:
            urls["dashboard"] = e.dashboard_url
        return urls

    # ------------------------------------------------------------------ chaos on services

    @classmethod
    def attach(cls, home: Path | None = None, log: Log = print) -> NativeStack | None:
        """The stack already running from ``home`` (started by another command), or None."""
        home = (home or state_dir() / "stack").resolve()
        state = StackState.load(home)
        if state is None or not state.running():
            return None
        config = {**state.config, "small_disks": tuple(state.config.get("small_disks", ()))}
        stack = cls(StackConfig(**config), home=home, ports=Ports(**state.ports), log=log)
        stack.state = state
        stack._records = {r.name: r for r in state.processes}
        return stack

    def record(self, name: str) -> ProcessRecord:
        state = self.state or StackState.load(self.home)
        for r in (state.processes if state else []):
            if r.name == name:
                return r
        raise StackError(f"no process named {name!r} in the stack at {self.home}")

    def kill_service(self, name: str) -> None:
        """kill -9 of one service (and its children)."""
        process.kill(self.record(name))

    def pause_service(self, name: str, paused: bool) -> None:
        process.pause(self.record(name), paused)

    def log_dir(self, name: str) -> Path:
        """The data dir of Kafka service ``name`` (``kafka`` or ``kafka-N``)."""
        return broker_data_dir(self.home, name)

    def stop_service(self, name: str) -> str:
        return process.stop(self.record(name))

    def start_service(self, name: str) -> float:
        """Start one (stopped or killed) service again and wait until it is healthy."""
        service = next((s for s in self._services() if s.name == name), None)
        if service is None:
            raise StackError(f"no service named {name!r}")
        old = self.record(name)
        if old.alive():
            raise StackError(f"{name} is still running (pid {old.pid})")
        self._cancel.clear()
        took = self._start_one(service, time.monotonic())
        assert self.state is not None
        self.state.processes = [self._records[r.name] for r in self.state.processes]
        self.state.save(self.home)
        return took


def _port_holder(port: int) -> str:
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            listening = conn.laddr and conn.laddr.port == port and conn.status == "LISTEN"
            if listening and conn.pid:
                return f"held by pid {conn.pid} {psutil.Process(conn.pid).name()}"
    except Exception:  # noqa: BLE001 - best effort evidence only
        pass
    return "held by another process"
