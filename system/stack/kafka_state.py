"""What a Kafka cluster looks like right now: live brokers, the active controller, and per
partition of a topic its leader and ISR. Read through the unproxied admin listener, so the
answers stay available while faults cut the proxied paths."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from system.stack.errors import StackError

T = TypeVar("T")


@dataclass(frozen=True)
class PartitionState:
    partition: int
    leader: int
    """-1 = no leader (offline partition)."""
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def led(self) -> bool:
        return self.leader >= 0

    @property
    def fully_replicated(self) -> bool:
        return self.led and set(self.isr) == set(self.replicas)


@dataclass(frozen=True)
class ClusterView:
    brokers: dict[int, str]
    """Live (registered, unfenced) broker id → the address it advertises on this listener."""
    controller: int
    """The active KRaft controller (the metadata quorum's leader); -1 = none elected."""


def admin(bootstrap: str):
    """A kafka-python admin client (10 s request timeout); the caller closes it."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="iotbench-admin",
                            request_timeout_ms=10_000)


READ_ATTEMPTS = 3


def _read(read: Callable[[], T]) -> T:
    """``read()``, again on a connection error: while a broker is down, a fresh admin client
    may still pick it for its metadata request and be refused; the next one asks another."""
    from kafka.errors import KafkaError

    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except KafkaError:
            if attempt == READ_ATTEMPTS - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def cluster_view(bootstrap: str) -> ClusterView:
    return _read(lambda: _cluster_view(bootstrap))


def _cluster_view(bootstrap: str) -> ClusterView:
    client = admin(bootstrap)
    try:
        return _view_with(client)
    finally:
        client.close()


def _view_with(client: Any) -> ClusterView:
    described = client.describe_cluster()
    brokers = {b["broker_id"]: f"{b['host']}:{b['port']}"
               for b in described.get("brokers", []) if not b.get("is_fenced")}
    # DescribeCluster's controller_id is a random broker under KRaft (clients cannot
    # talk to controllers); the quorum's leader is the active controller.
    quorum = client.describe_metadata_quorum()
    leader = quorum["topics"][0]["partitions"][0]["leader_id"]
    return ClusterView(dict(sorted(brokers.items())), int(leader))


def cluster_snapshot(bootstrap: str, topic: str) -> tuple[ClusterView, list[PartitionState]]:
    """The cluster view and ``topic``'s partition states, read through one admin client."""
    def read() -> tuple[ClusterView, list[PartitionState]]:
        client = admin(bootstrap)
        try:
            return _view_with(client), _states_with(client, topic)
        finally:
            client.close()

    return _read(read)


def cluster_ready(bootstrap: str, brokers: int, node: int | None = None) -> bool:
    """``brokers`` live brokers (``node`` among them) and an elected controller."""
    from system.stack.wait import port_open

    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    if not port_open(int(port), host):  # an admin client would wait out its own timeouts
        return False
    view = cluster_view(bootstrap)
    return (len(view.brokers) >= brokers and view.controller >= 0
            and (node is None or node in view.brokers))


def partition_states(bootstrap: str, topic: str) -> list[PartitionState]:
    """Leader, replicas and ISR of each partition; [] when the topic does not exist."""
    return _read(lambda: _partition_states(bootstrap, topic))


def _partition_states(bootstrap: str, topic: str) -> list[PartitionState]:
    client = admin(bootstrap)
    try:
        return _states_with(client, topic)
    finally:
        client.close()


def _states_with(client: Any, topic: str) -> list[PartitionState]:
    topics = client.describe_topics([topic])
    states = []
    for t in topics:
        if t.get("error_code", 0) != 0 or t.get("name") != topic:
            continue
        for p in t["partitions"]:
            states.append(PartitionState(
                p["partition_index"], p["leader_id"], tuple(p["replica_nodes"]),
                tuple(p["isr_nodes"])))
    return sorted(states, key=lambda s: s.partition)


def wait_topic_ready(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[PartitionState]:
    """Block until every partition of ``topic`` has a leader and a full ISR; returns the
    states. On timeout, StackError names each partition that is not there yet."""
    deadline = time.monotonic() + timeout_s
    states: list[PartitionState] = []
    error = ""
    while True:
        try:
            states = partition_states(bootstrap, topic)
            error = ""
        except Exception as exc:  # noqa: BLE001 - a broker in between states: try again
            error = f"{type(exc).__name__}: {exc}"
        if states and all(s.fully_replicated for s in states):
            return states
        if time.monotonic() > deadline:
            lagging = [f"partition {s.partition}: leader {s.leader}, replicas "
                       f"{list(s.replicas)}, ISR {list(s.isr)}"
                       for s in states if not s.fully_replicated]
            detail = "; ".join(lagging) or error or "the topic does not exist"
            raise StackError(f"Kafka: topic {topic!r} not fully replicated within "
                             f"{timeout_s:.0f} s ({detail})")
        time.sleep(0.3)
