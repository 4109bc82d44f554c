"""Apache Kafka in KRaft mode from Maven jars: configuration, storage format, topics.

Listener layout of the single broker (see DESIGN.md "Links and faults"): one direct listener
for the broker itself and admin tools, the controller listener, and one listener per proxied
link whose advertised address is that link's Toxiproxy port — so after bootstrap a client of
a link still talks through the proxy and a fault on the link cannot be bypassed. Three
brokers: :mod:`system.stack.kafka_cluster`; cluster and partition state:
:mod:`system.stack.kafka_state` (``wait_topic_ready`` is re-exported here).
"""

from __future__ import annotations

from pathlib import Path

from system.config import HOST, Ports
from system.stack.errors import SetupError
from system.stack.kafka_cluster import Replication
from system.stack.kafka_node import cluster_id, node_command
from system.stack.kafka_state import admin, partition_states, wait_topic_ready


def server_properties(ports: Ports, log_dir: Path) -> str:
    listeners = {
        "DIRECT": (ports.kafka_direct, ports.kafka_direct),
        "PRODUCER": (ports.kafka_producer_backend, ports.producer_kafka),
        "SPARK": (ports.kafka_spark_backend, ports.spark_kafka),
    }
    bind = ",".join(f"{n}://{HOST}:{real}" for n, (real, _) in listeners.items())
    advertised = ",".join(f"{n}://{HOST}:{adv}" for n, (_, adv) in listeners.items())
    protocols = ",".join(f"{n}:PLAINTEXT" for n in [*listeners, "CONTROLLER"])
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{HOST}:{ports.kafka_controller}
controller.listener.names=CONTROLLER
listeners={bind},CONTROLLER://{HOST}:{ports.kafka_controller}
advertised.listeners={advertised}
listener.security.protocol.map={protocols}
inter.broker.listener.name=DIRECT
log.dirs={log_dir}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
# room for the 1 MB "oversized" record the dead-letter tests send
message.max.bytes=2097152
"""


def prepare(home: Path, jars: Path, ports: Ports) -> list[str]:
    """Write the config, format storage on first start; return the broker command."""
    return node_command(home, jars, server_properties(ports, home / "data"), cluster_id)


# ---------------------------------------------------------------- topics (kafka-python admin)

def broker_ready(bootstrap: str) -> bool:
    client = admin(bootstrap)
    try:
        return bool(client.describe_cluster().get("brokers"))
    finally:
        client.close()


def topic_partitions(bootstrap: str, topic: str) -> int | None:
    """Number of partitions of ``topic``, None when it does not exist."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="iotbench-admin")
    try:
        parts = consumer.partitions_for_topic(topic)
        return len(parts) if parts else None
    finally:
        consumer.close()


def cluster_replication(bootstrap: str) -> Replication:
    """The replication the cluster's brokers were configured with (``default.replication.
    factor`` etc.), so a caller that does not know the stack's settings still gets them."""
    from kafka.admin import ConfigResource

    keys = ["default.replication.factor", "min.insync.replicas",
            "unclean.leader.election.enable"]
    client = admin(bootstrap)
    try:
        broker = str(client.describe_cluster()["brokers"][0]["broker_id"])
        found = client.describe_configs([ConfigResource("BROKER", broker, keys)],
                                        config_filter="all")["broker"][broker]
    finally:
        client.close()
    value = {k: str(found[k]["value"]) for k in keys}
    return Replication(int(value[keys[0]]), int(value[keys[1]]), value[keys[2]] == "true")


def _topic_matches(bootstrap: str, topic: str, partitions: int,
                   replication: Replication) -> bool:
    from kafka.admin import ConfigResource

    states = partition_states(bootstrap, topic)
    if len(states) != partitions or any(len(s.replicas) != replication.replication_factor
                                        for s in states):
        return False
    client = admin(bootstrap)
    try:
        wanted = replication.topic_configs()
        found = client.describe_configs([ConfigResource("TOPIC", topic, list(wanted))],
                                        config_filter="all")["topic"][topic]
    finally:
        client.close()
    return all(str(found[k]["value"]) == v for k, v in wanted.items())


def ensure_topic(bootstrap: str, topic: str, partitions: int, *, recreate: bool = False,
                 replication: Replication | None = None, ready_timeout_s: float = 60.0) -> None:
    """Create ``topic`` with LogAppendTime timestamps, the stack's replication factor,
    ``min.insync.replicas`` and ``unclean.leader.election.enable`` (``replication``, else what
    the brokers were configured with); an existing one that differs (or ``recreate``) is
    deleted first, so its data never leaks into a run. Returns once every partition has a
    leader and a full ISR."""
    import time

    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

    replication = replication or cluster_replication(bootstrap)
    client = admin(bootstrap)
    try:
        existing = topic_partitions(bootstrap, topic)
        if existing is not None and (
                recreate or not _topic_matches(bootstrap, topic, partitions, replication)):
            client.delete_topics([topic], timeout_ms=30_000)
            deadline = time.monotonic() + 30
            while topic_partitions(bootstrap, topic) is not None:
                if time.monotonic() > deadline:
                    raise SetupError(f"Kafka: topic {topic!r} was not deleted within 30 s")
                time.sleep(0.2)
            existing = None
        if existing is None:
            deadline = time.monotonic() + 30
            while True:  # the broker may still be finishing the deletion
                try:
                    client.create_topics([NewTopic(
                        topic, partitions, replication.replication_factor,
                        topic_configs={"message.timestamp.type": "LogAppendTime",
                                       **replication.topic_configs()},
                    )], timeout_ms=30_000)
                    break
                except (TopicAlreadyExistsError, UnknownTopicOrPartitionError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
    finally:
        client.close()
    wait_topic_ready(bootstrap, topic, ready_timeout_s)
