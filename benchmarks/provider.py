"""Where a run's system under test lives: a native stack (reused or started), the docker
compose stack, or an external cluster that is only checked, never started."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from system.config import HOST, state_dir
from system.stack import mongo_backend
from system.stack.errors import StackError
from system.stack.links import Links
from system.stack.native import NativeStack, StackConfig

Log = Callable[[str], None]


@dataclass
class Target:
    """The addresses a run talks to, and who owns the processes behind them."""

    provider: str
    producer_bootstrap: str
    spark_bootstrap: str
    admin_bootstrap: str
    """Bypasses the proxies: topic admin and lag sampling must not suffer the faults."""
    spark_master: str
    spark_mongo_uri: str
    admin_mongo_uri: str
    dashboard_url: str | None
    links: Links | None
    stack: Any = None
    """The NativeStack or DockerStack behind the addresses, when a provider started one."""
    started_here: bool = False
    """True when this run started the stack, so it also stops it."""
    driver_host: str = HOST
    """What the Spark driver (run here) advertises to the executors."""

    def describe(self) -> dict[str, Any]:
        """The addresses, for the journal — with any password in a URI masked."""
        return {k: _mask(v) if isinstance(v, str) else v for k, v in self.__dict__.items()
                if isinstance(v, (str, bool, type(None)))}


def _mask(url: str) -> str:
    return re.sub(r"(//[^:/@]+:)[^@/]+@", r"\1***@", url)


def native_target(stack: NativeStack, started_here: bool) -> Target:
    e = stack.endpoints
    return Target("native", e.producer_bootstrap, e.spark_bootstrap, e.direct_bootstrap,
                  e.spark_master_url, e.spark_mongo_uri, e.direct_mongo_uri,
                  e.dashboard_url if stack.config.dashboard else None, stack.links, stack,
                  started_here)


def _docker(stack_settings: Any, log: Log) -> Target:
    from system.stack.docker import DockerStack

    config = StackConfig(partitions=stack_settings.partitions, workers=stack_settings.workers,
                         worker_cores=stack_settings.worker_cores,
                         worker_memory=stack_settings.worker_memory)
    stack, started_here = DockerStack.start_or_reuse(config, log)
    e, p = stack.endpoints, stack.ports
    log(f"docker provider: the Spark driver runs here in {stack.spark_master} "
        "(see system/stack/docker.py)")
    return Target("docker", e.producer_bootstrap, e.spark_bootstrap, e.direct_bootstrap,
                  stack.spark_master, stack.mongo_uri(p.spark_mongo), stack.mongo_uri(p.mongo),
                  e.dashboard_url, stack.links, stack, started_here)


def acquire(stack_settings: Any, log: Log, small_disks: tuple[str, ...] = (),
            small_disk_mb: int = 256) -> Target:
    """Bring up (or reuse, or check) the stack a scenario's ``stack`` section asks for;
    ``small_disks``: brokers whose log dir must be a small disk (``disk_full`` faults)."""
    provider = stack_settings.provider
    if provider == "external":
        return _external(stack_settings)
    if provider == "docker":
        return _docker(stack_settings, log)
    ks = stack_settings.kafka
    wanted = StackConfig(partitions=stack_settings.partitions, workers=stack_settings.workers,
                         worker_cores=stack_settings.worker_cores,
                         worker_memory=stack_settings.worker_memory,
                         mongo=mongo_backend.resolve(stack_settings.mongo,
                                                     state_dir() / "stack"),
                         brokers=ks.brokers, replication_factor=ks.replication_factor,
                         min_insync_replicas=ks.min_insync_replicas,
                         unclean_leader_election=ks.unclean_leader_election,
                         small_disks=small_disks, small_disk_mb=small_disk_mb)
    running = NativeStack.attach(log=log)
    if running is not None:
        have = running.config
        if (have.workers, have.worker_cores, have.worker_memory, have.mongo,
                have.replication()) == (wanted.workers, wanted.worker_cores,
                                        wanted.worker_memory, wanted.mongo,
                                        wanted.replication()) and have.brokers == wanted.brokers \
                and set(small_disks) <= set(have.small_disks):
            log(f"reusing the running native stack at {running.home}")
            return native_target(running, started_here=False)
        if not set(small_disks) <= set(have.small_disks):
            raise StackError(
                f"a native stack is running, but without {', '.join(small_disks)}'s log dir "
                "on a small disk, which this scenario's disk_full fills.\n"
                "Hint: `iotbench stack down` first; the run then starts the stack it needs.")
        raise StackError(
            f"a native stack is running with {have.workers} worker(s) × {have.worker_cores} "
            f"core(s), {have.worker_memory}, mongo {have.mongo}, {have.brokers} broker(s) "
            f"{have.replication()}; this scenario needs {wanted.workers} × "
            f"{wanted.worker_cores}, {wanted.worker_memory}, mongo {wanted.mongo}, "
            f"{wanted.brokers} broker(s) {wanted.replication()}.\n"
            "Hint: `iotbench stack down` first, or let the scenario match it.")
    # As asked (``auto`` unresolved), so that the stack says what ``auto`` chose and why.
    stack = NativeStack(replace(wanted, mongo=stack_settings.mongo), log=log)
    stack.up()
    return native_target(stack, started_here=True)


def _external(settings: Any) -> Target:
    from benchmarks.scenario.sections import ExternalEndpoints

    ext = (settings.external or ExternalEndpoints()).resolved()
    kafka = {role: getattr(ext, f"{role}_bootstrap") or ext.bootstrap_servers
             for role in ("producer", "spark", "admin")}
    given = {"bootstrap_servers (or producer/spark/admin_bootstrap)": all(kafka.values()),
             "spark_master": ext.spark_master, "mongo_uri": ext.mongo_uri}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise StackError(f"external stack: {', '.join(missing)} not given.\nHint: set them in "
                         "stack.external or as IOTBENCH_BOOTSTRAP_SERVERS, "
                         "IOTBENCH_SPARK_MASTER, IOTBENCH_MONGO_URI.")
    links = Links(ext.toxiproxy_url) if ext.toxiproxy_url else None
    if links is not None:
        links.version()  # fail now, not at the first fault
    assert ext.spark_master and ext.mongo_uri
    return Target("external", kafka["producer"], kafka["spark"], kafka["admin"],
                  ext.spark_master, ext.sink_mongo_uri or ext.mongo_uri, ext.mongo_uri,
                  ext.dashboard_url, links, driver_host=ext.driver_host or HOST)


def release(target: Target, log: Log) -> None:
    if target.started_here and target.stack is not None:
        for line in target.stack.down():
            log(f"  {line}")
