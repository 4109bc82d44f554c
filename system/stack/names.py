"""The names of what a fault can hit: links, toxics and processes — defined once, here.

The stack builds its proxies from these names, the scenario model validates fault
declarations against them (:mod:`benchmarks.chaos.faults`), and a test checks that the
README lists each of them.
"""

from __future__ import annotations

MAX_BROKERS = 3

SHARED_LINKS = ("producer-kafka", "spark-kafka", "spark-mongo", "dashboard-mongo")
"""Links every stack has. With 3 brokers the two Kafka ones act on all brokers at once."""

BROKERS = tuple(f"kafka-{node}" for node in range(1, MAX_BROKERS + 1))
"""The brokers of a 3-broker stack; as a link name, ``kafka-N`` is every proxy into it."""


def broker_link_names(node: int) -> list[str]:
    """Every proxy into broker ``node`` (all of them down = the broker is isolated from its
    clients and peers; its own outgoing connections use the *other* brokers' proxies)."""
    return [f"producer-kafka-{node}", f"spark-kafka-{node}", f"kafka-{node}-replication",
            f"kafka-{node}-controller"]


BROKER_LINKS = tuple(
    per_broker[kind] for kind in range(len(broker_link_names(1)))
    for per_broker in (broker_link_names(node) for node in range(1, MAX_BROKERS + 1)))
"""Each broker's own proxies (3 brokers only)."""

LINKS = SHARED_LINKS + BROKER_LINKS + BROKERS
"""Every link name a fault may give."""

TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}
"""Toxic type → the attributes it takes (Toxiproxy v2 ``toxics/*.go``)."""

TOXICS = (*TOXIC_ATTRIBUTES, "down")
"""What a link fault may do: one Toxiproxy toxic, or ``down`` (the proxy disabled)."""

SERVICES = ("kafka", "spark-driver", "spark-worker", "mongo", "producer")
"""Processes of every stack (``kafka``: every broker at once on 3 brokers)."""

BROKER_ROLES = ("kafka-leader", "kafka-controller")
"""Brokers named by their role, resolved to one broker when the fault fires."""

PROCESSES = SERVICES + BROKERS + BROKER_ROLES
"""Every process name a fault may give."""
