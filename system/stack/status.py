"""``iotbench stack status``: each service, whether it is alive and healthy, its ports; then
the Kafka cluster: each live broker, the active controller and, per partition of a topic, its
leader and ISR."""

from __future__ import annotations

from pathlib import Path

from system.config import TOPIC, Endpoints, Ports, state_dir
from system.stack.kafka_cluster import broker_ports
from system.stack.links import link_specs
from system.stack.state import StackState
from system.stack.wait import port_open

SERVICE_PORTS = {
    "kafka": ("kafka_direct", "kafka_controller", "kafka_producer_backend",
              "kafka_spark_backend"),
    "mongo": ("mongo",),
    "postgres": ("postgres",),
    "toxiproxy": ("toxiproxy_api", "producer_kafka", "spark_kafka", "spark_mongo",
                  "dashboard_mongo"),
    "spark-master": ("spark_master", "spark_master_ui"),
    "dashboard": ("dashboard",),
}


def service_ports(name: str, ports: dict[str, int], brokers: int = 1) -> dict[str, int]:
    if name.startswith("spark-worker-"):
        i = int(name.rsplit("-", 1)[1]) - 1
        return {"rpc": ports["spark_worker_base"] + i, "ui": ports["spark_worker_ui_base"] + i}
    if name.startswith("kafka-"):
        bp = broker_ports(Ports(**ports), int(name.rsplit("-", 1)[1]))
        return {"direct": bp.direct, "controller": bp.controller,
                "producer": bp.producer_backend, "spark": bp.spark_backend,
                "replication": bp.replication_backend}
    if name == "toxiproxy" and brokers > 1:
        return {"toxiproxy_api": ports["toxiproxy_api"],
                **{s.name: s.listen_port for s in link_specs(Ports(**ports), brokers)}}
    return {k: ports[k] for k in SERVICE_PORTS.get(name, ())}


def rows(state: StackState) -> list[tuple[str, str, str, str]]:
    """(service, process, health, ports) for each recorded process."""
    out = []
    brokers = int(state.config.get("brokers", 1))
    for rec in state.processes:
        ports = service_ports(rec.name, state.ports, brokers)
        listening = {k: port_open(p) for k, p in ports.items()}
        alive = rec.alive()
        health = ("healthy" if alive and all(listening.values()) else
                  "degraded" if alive else "down")
        port_text = " ".join(f"{k}={p}{'' if listening[k] else '(closed)'}"
                             for k, p in ports.items())
        out.append((rec.name, f"pid {rec.pid} {'up' if alive else 'gone'}", health, port_text))
    return out


def kafka_lines(state: StackState, topic: str) -> tuple[list[str], bool]:
    """The cluster as the brokers see it, read on the direct (unproxied) listeners; and
    whether it is whole (a controller, every partition led with a full ISR)."""
    from system.stack import kafka_state

    brokers = int(state.config.get("brokers", 1))
    bootstrap = Endpoints(Ports(**state.ports), brokers=brokers).direct_bootstrap
    try:
        view = kafka_state.cluster_view(bootstrap)
        partitions = kafka_state.partition_states(bootstrap, topic)
    except Exception as exc:  # noqa: BLE001 - status reports, it does not fail
        return [f"kafka: cluster state unavailable on {bootstrap}: {type(exc).__name__}: "
                f"{exc}"], False
    lines = [f"kafka: {len(view.brokers)}/{brokers} broker(s) live; active controller "
             f"{view.controller if view.controller >= 0 else 'none'}"]
    lines += [f"  broker {node:<3} {address}" for node, address in view.brokers.items()]
    if not partitions:
        lines.append(f"  topic {topic}: does not exist")
    for p in partitions:
        note = "" if p.fully_replicated else "  (UNDER-REPLICATED)" if p.led else "  (OFFLINE)"
        lines.append(f"  topic {topic} partition {p.partition:<3} leader "
                     f"{p.leader if p.led else 'none':<4} ISR {list(p.isr)} of replicas "
                     f"{list(p.replicas)}{note}")
    whole = (view.controller >= 0 and len(view.brokers) == brokers
             and all(p.fully_replicated for p in partitions))
    return lines, whole


def print_status(home: Path | None = None, topic: str | None = None) -> int:
    """Print the table; exit code 0 when everything is healthy, 1 when something is not,
    3 when no stack is recorded."""
    home = home or state_dir() / "stack"
    state = StackState.load(home)
    if state is None:
        print(f"no stack recorded in {home} (start one with `iotbench stack up`)")
        return 3
    table = rows(state)
    for name, proc, health, ports in table:
        print(f"{name:<16} {proc:<16} {health:<9} {ports}")
    print("urls:")
    for name, url in state.urls.items():
        print(f"  {name:<30} {url}")
    print(f"cold start {state.cold_start_s:.1f} s; config {state.config}")
    kafka_alive = any(r.name.startswith("kafka") and r.alive() for r in state.processes)
    whole = True
    if kafka_alive:
        lines, whole = kafka_lines(state, topic or state.config.get("topic", TOPIC))
        print("\n".join(lines))
    return 0 if whole and all(h == "healthy" for _, _, h, _ in table) else 1
