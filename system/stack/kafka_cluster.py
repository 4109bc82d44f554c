"""A replicated Kafka: three combined broker+controller KRaft nodes, every path through a link.

Broker *n* uses broker 1's ports plus ``BROKER_PORT_STRIDE × (n − 1)``. Each path into a
broker is its own listener, advertised at its own Toxiproxy proxy, so after bootstrap no
client and no other broker can reach it except through that proxy:

=============  ===============================  ==========================  ====================
listener       binds (Ports field)              others connect to           proxy
=============  ===============================  ==========================  ====================
DIRECT         ``kafka_direct``                 the same port (unproxied)   — (admin, export, lag)
PRODUCER       ``kafka_producer_backend``       ``producer_kafka``          ``producer-kafka-n``
SPARK          ``kafka_spark_backend``          ``spark_kafka``             ``spark-kafka-n``
REPLICATION    ``kafka_replication_backend``    ``kafka_replication``       ``kafka-n-replication``
CONTROLLER     ``kafka_controller``             ``kafka_controller_link``   ``kafka-n-controller``
=============  ===============================  ==========================  ====================

REPLICATION is the inter-broker listener (followers fetch through it); the quorum voters name
the controller proxies, so Raft traffic and broker heartbeats to the active controller pass a
proxy too. A listener advertises one address to everybody, so a proxy cuts or slows every
peer of a broker at once; a partition between just two brokers is not possible this way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from system.config import BROKER_PORT_STRIDE, HOST, Ports
from system.stack.errors import StackError
from system.stack.kafka_node import cluster_id, node_command
from system.stack.names import broker_link_names

SUPPORTED_BROKERS = (1, 3)
HEAP = "384m"
"""Three JVMs share a 2-core machine: a small heap each is plenty for a test cluster."""


@dataclass(frozen=True)
class BrokerPorts:
    node: int
    direct: int
    controller: int
    producer_backend: int
    spark_backend: int
    replication_backend: int
    producer_link: int
    spark_link: int
    replication_link: int
    controller_link: int

    def bound(self) -> list[int]:
        """The ports the broker's JVM listens on."""
        return [self.direct, self.controller, self.producer_backend, self.spark_backend,
                self.replication_backend]

    def links(self) -> dict[str, tuple[int, int]]:
        """Proxy name → (listen port, upstream port) of every path into this broker."""
        ports = [(self.producer_link, self.producer_backend),
                 (self.spark_link, self.spark_backend),
                 (self.replication_link, self.replication_backend),
                 (self.controller_link, self.controller)]
        return dict(zip(broker_link_names(self.node), ports, strict=True))


def broker_ports(ports: Ports, node: int) -> BrokerPorts:
    shift = BROKER_PORT_STRIDE * (node - 1)
    return BrokerPorts(
        node=node,
        direct=ports.kafka_direct + shift,
        controller=ports.kafka_controller + shift,
        producer_backend=ports.kafka_producer_backend + shift,
        spark_backend=ports.kafka_spark_backend + shift,
        replication_backend=ports.kafka_replication_backend + shift,
        producer_link=ports.producer_kafka + shift,
        spark_link=ports.spark_kafka + shift,
        replication_link=ports.kafka_replication + shift,
        controller_link=ports.kafka_controller_link + shift,
    )


@dataclass(frozen=True)
class Replication:
    """How the run's topic (and Kafka's internal topics) are replicated."""

    replication_factor: int = 1
    min_insync_replicas: int = 1
    unclean_leader_election: bool = False

    @classmethod
    def for_cluster(cls, brokers: int, replication_factor: int | None = None,
                    min_insync_replicas: int | None = None,
                    unclean_leader_election: bool = False) -> Replication:
        """Defaults: 1 broker → RF 1, min ISR 1; 3 brokers → RF 3, min ISR 2 (at most RF).
        Refuses what Kafka would refuse later, naming the setting."""
        check_brokers(brokers)
        rf = replication_factor if replication_factor is not None else brokers
        if not 1 <= rf <= brokers:
            raise StackError(f"replication_factor {rf} must be between 1 and the number of "
                             f"brokers ({brokers})")
        min_isr = min_insync_replicas if min_insync_replicas is not None else min(2, rf)
        if not 1 <= min_isr <= rf:
            raise StackError(f"min_insync_replicas {min_isr} must be between 1 and "
                             f"replication_factor ({rf})")
        return cls(rf, min_isr, unclean_leader_election)

    def topic_configs(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync_replicas),
                "unclean.leader.election.enable": str(self.unclean_leader_election).lower()}


def check_brokers(brokers: int) -> None:
    if brokers not in SUPPORTED_BROKERS:
        raise StackError(f"brokers must be 1 or 3, not {brokers}: a KRaft quorum of 2 "
                         f"controllers stops when either one fails (no better than 1)")


def node_properties(ports: Ports, node: int, brokers: int, log_dir: Path,
                    replication: Replication) -> str:
    """server.properties of node ``node`` (1-based) of a ``brokers``-node cluster."""
    me = broker_ports(ports, node)
    listeners = {
        "DIRECT": (me.direct, me.direct),
        "PRODUCER": (me.producer_backend, me.producer_link),
        "SPARK": (me.spark_backend, me.spark_link),
        "REPLICATION": (me.replication_backend, me.replication_link),
        "CONTROLLER": (me.controller, me.controller_link),
    }
    bind = ",".join(f"{n}://{HOST}:{real}" for n, (real, _) in listeners.items())
    advertised = ",".join(f"{n}://{HOST}:{adv}" for n, (_, adv) in listeners.items())
    protocols = ",".join(f"{n}:PLAINTEXT" for n in listeners)
    voters = ",".join(f"{n}@{HOST}:{broker_ports(ports, n).controller_link}"
                      for n in range(1, brokers + 1))
    internal_rf = min(3, brokers)
    internal_isr = min(2, internal_rf)
    return f"""\
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
controller.listener.names=CONTROLLER
listeners={bind}
advertised.listeners={advertised}
listener.security.protocol.map={protocols}
inter.broker.listener.name=REPLICATION
log.dirs={log_dir}
num.partitions=1
default.replication.factor={replication.replication_factor}
min.insync.replicas={replication.min_insync_replicas}
unclean.leader.election.enable={str(replication.unclean_leader_election).lower()}
offsets.topic.replication.factor={internal_rf}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={internal_rf}
transaction.state.log.min.isr={internal_isr}
share.coordinator.state.topic.replication.factor={internal_rf}
share.coordinator.state.topic.min.isr={internal_isr}
# a follower cut off for 10 s leaves the ISR (default 30 s: longer than many fault windows)
replica.lag.time.max.ms=10000
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
# room for the 1 MB "oversized" record the dead-letter tests send
message.max.bytes=2097152
replica.fetch.max.bytes=2097152
# fewer threads: three brokers share two cores
num.network.threads=2
num.io.threads=4
background.threads=4
"""


_CLUSTER_ID_LOCK = threading.Lock()


def shared_cluster_id(kafka_home: Path) -> str:
    """One cluster id for every node, written once next to the nodes' folders."""
    path = kafka_home / "cluster-id"
    with _CLUSTER_ID_LOCK:
        if not path.exists():
            kafka_home.mkdir(parents=True, exist_ok=True)
            path.write_text(cluster_id())
        return path.read_text().strip()


def prepare_node(kafka_home: Path, jars: Path, ports: Ports, node: int, brokers: int,
                 replication: Replication) -> list[str]:
    """Write node ``node``'s config, format its storage once (with the shared cluster id)
    and return its command. Each node has its own folder: config, data and log."""
    home = kafka_home / f"node-{node}"
    properties = node_properties(ports, node, brokers, home / "data", replication)
    return node_command(home, jars, properties, lambda: shared_cluster_id(kafka_home),
                        heap=HEAP, what=f"Kafka node {node}")
