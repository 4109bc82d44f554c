"""The native stack's Kafka services: one broker (service ``kafka``, as always) or three
combined broker+controller nodes (``kafka-1``, ``kafka-2``, ``kafka-3``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from system.config import HOST, Endpoints, Ports
from system.stack import disks, kafka, kafka_cluster, kafka_state
from system.stack.kafka_cluster import Replication, broker_ports
from system.stack.links import link_specs
from system.stack.service import Service
from system.stack.setup import kafka_jars
from system.stack.wait import Predicate

HINT = "a corrupt log dir is fixed by `iotbench stack down --purge`."


def broker_data_dir(home: Path, service: str) -> Path:
    """Where Kafka service ``service`` keeps its log (``log.dirs``)."""
    if service == "kafka":
        return home / "kafka" / "data"
    return home / "kafka" / f"node-{service.removeprefix('kafka-')}" / "data"


def kafka_services(brokers: int, replication: Replication, topic: str, partitions: int,
                   home: Path, cache: Path, ports: Ports, endpoints: Endpoints, *,
                   small_disks: tuple[str, ...] = (), small_disk_mb: int = 256
                   ) -> list[Service]:
    """``small_disks``: services whose log dir is first mounted as a tmpfs of
    ``small_disk_mb`` (see :mod:`system.stack.disks`)."""
    direct = endpoints.direct_bootstrap

    def on_disk(service: str, command: Callable[[], list[str]]) -> Callable[[], list[str]]:
        if service not in small_disks:
            return command

        def mounted_first() -> list[str]:
            disks.mount_small(broker_data_dir(home, service), small_disk_mb)
            return command()
        return mounted_first

    def ensure_topic() -> None:
        kafka.ensure_topic(direct, topic, partitions, replication=replication)

    if brokers == 1:
        return [Service(
            "kafka", on_disk("kafka", lambda: kafka.prepare(home / "kafka", kafka_jars(cache),
                                                            ports)),
            Predicate(lambda: kafka.broker_ready(direct), f"Kafka broker metadata on {direct}"),
            HINT, after_ready=ensure_topic)]
    services = []
    for node in range(1, brokers + 1):
        own = f"{HOST}:{broker_ports(ports, node).direct}"
        services.append(Service(
            f"kafka-{node}",
            on_disk(f"kafka-{node}", lambda node=node: kafka_cluster.prepare_node(
                home / "kafka", kafka_jars(cache), ports, node, brokers, replication)),
            Predicate(lambda node=node, own=own: kafka_state.cluster_ready(own, brokers, node),
                      f"{brokers} live brokers (node {node} among them) and an elected "
                      f"controller, read on {own}"),
            HINT + " Brokers and controllers reach each other through Toxiproxy: is it up?",
            # its peers are only reachable through the proxies, so those must exist first
            after="toxiproxy",
            # the run's topic needs every broker; node 1 waits for all of them anyway
            after_ready=ensure_topic if node == 1 else None))
    return services


def kafka_bound_ports(brokers: int, ports: Ports) -> dict[int, str]:
    """Port → who binds it, for the busy-port check before anything starts."""
    if brokers == 1:
        out = {port: "kafka" for port in (ports.kafka_direct, ports.kafka_controller,
                                          ports.kafka_producer_backend,
                                          ports.kafka_spark_backend)}
    else:
        out = {port: f"kafka-{node}" for node in range(1, brokers + 1)
               for port in broker_ports(ports, node).bound()}
    for spec in link_specs(ports, brokers):
        out[spec.listen_port] = f"toxiproxy (link {spec.name})"
    return out


def kafka_urls(brokers: int, endpoints: Endpoints) -> dict[str, str]:
    e = endpoints
    urls = {
        "kafka (producer-kafka link)": e.producer_bootstrap,
        "kafka (spark-kafka link)": e.spark_bootstrap,
        "kafka (direct)": e.direct_bootstrap,
    }
    if brokers > 1:
        for node in range(1, brokers + 1):
            bp = broker_ports(e.ports, node)
            urls[f"kafka-{node} replication / controller links"] = (
                f"{HOST}:{bp.replication_link} / {HOST}:{bp.controller_link}")
    return urls
