"""``iotbench stack status``: each service, whether it is alive and healthy, its ports."""

from __future__ import annotations

from pathlib import Path

from system.config import state_dir
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


def service_ports(name: str, ports: dict[str, int]) -> dict[str, int]:
    if name.startswith("spark-worker-"):
        i = int(name.rsplit("-", 1)[1]) - 1
        return {"rpc": ports["spark_worker_base"] + i, "ui": ports["spark_worker_ui_base"] + i}
    return {k: ports[k] for k in SERVICE_PORTS.get(name, ())}


def rows(state: StackState) -> list[tuple[str, str, str, str]]:
    """(service, process, health, ports) for each recorded process."""
    out = []
    for rec in state.processes:
        ports = service_ports(rec.name, state.ports)
        listening = {k: port_open(p) for k, p in ports.items()}
        alive = rec.alive()
        health = ("healthy" if alive and all(listening.values()) else
                  "degraded" if alive else "down")
        port_text = " ".join(f"{k}={p}{'' if listening[k] else '(closed)'}"
                             for k, p in ports.items())
        out.append((rec.name, f"pid {rec.pid} {'up' if alive else 'gone'}", health, port_text))
    return out


def print_status(home: Path | None = None) -> int:
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
    return 0 if all(h == "healthy" for _, _, h, _ in table) else 1
