"""A replicated Kafka for real: three KRaft broker+controller nodes, every path into each
broker behind its own Toxiproxy proxy, on its own shifted ports (offset 5000; the Mongo ports
are moved below 32768 too, so no proxy listens in the ephemeral range)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psutil
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError, NotEnoughReplicasError
from kafka.structs import TopicPartition

from benchmarks.chaos.injector import FaultInjector, stack_handles
from benchmarks.cli import build_parser
from benchmarks.collectors import ClusterSampler
from benchmarks.events import RunEvents
from benchmarks.provider import native_target
from benchmarks.scenario.model import ScenarioError, scenario_from_yaml
from reports.cluster import broker_fault_table
from system.config import Ports
from system.stack import kafka as kafka_admin
from system.stack.errors import StackError
from system.stack.kafka_cluster import Replication, broker_link_names, broker_ports
from system.stack.kafka_state import cluster_view, partition_states
from system.stack.links import link_specs
from system.stack.native import NativeStack, StackConfig
from system.stack.state import StackState

OFFSET = 5000
MONGO_PORTS = {"mongo": 22017, "spark_mongo": 22018, "dashboard_mongo": 22019}
PORTS = replace(Ports.from_env(offset=OFFSET), **MONGO_PORTS)
BASE = "name: replicated\nduration_s: 30\n"


def _env(state: Path) -> dict[str, str]:
    env = {**os.environ, "IOTBENCH_STATE": str(state), "IOTBENCH_PORT_OFFSET": str(OFFSET)}
    env.update({f"IOTBENCH_PORT_{k.upper()}": str(v) for k, v in MONGO_PORTS.items()})
    return env


def _iotbench(state: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], env=_env(state),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _proxy_ports() -> set[int]:
    return {s.listen_port for s in link_specs(PORTS, 3)}


def _advertised(bootstrap: str) -> set[int]:
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        return {b["port"] for b in client.describe_cluster()["brokers"]}
    finally:
        client.close()


# ------------------------------------------------------------------ short: the CLI, up to down

def test_three_brokers_up_status_down(tmp_path: Path) -> None:
    up = _iotbench(tmp_path, "stack", "up", "--brokers", "3", "--partitions", "3",
                   "--no-dashboard")
    assert up.returncode == 0, up.stdout + up.stderr
    saved = StackState.load(tmp_path / "stack")
    assert saved is not None
    pids = [p.pid for p in saved.processes]
    try:
        assert {"kafka-1", "kafka-2", "kafka-3"} <= {p.name for p in saved.processes}
        assert "kafka" not in {p.name for p in saved.processes}
        # one data dir and one log per node, one cluster id for all
        kafka_home = tmp_path / "stack" / "kafka"
        ids = {(kafka_home / f"node-{n}" / "data" / "meta.properties").read_text()
               .split("cluster.id=")[1].split()[0] for n in (1, 2, 3)}
        assert ids == {(kafka_home / "cluster-id").read_text().strip()}
        assert all((tmp_path / "stack" / "logs" / f"kafka-{n}.log").stat().st_size > 0
                   for n in (1, 2, 3))

        direct = ",".join(f"127.0.0.1:{broker_ports(PORTS, n).direct}" for n in (1, 2, 3))
        states = partition_states(direct, "iot-data")
        assert len(states) == 3
        assert all(s.led and len(s.replicas) == 3 and len(s.isr) == 3 for s in states)

        # after bootstrap, clients of either link only ever learn proxy addresses
        for n in (1, 2, 3):
            bp = broker_ports(PORTS, n)
            producer_links = {broker_ports(PORTS, m).producer_link for m in (1, 2, 3)}
            spark_links = {broker_ports(PORTS, m).spark_link for m in (1, 2, 3)}
            assert _advertised(f"127.0.0.1:{bp.producer_link}") == producer_links
            assert _advertised(f"127.0.0.1:{bp.spark_link}") == spark_links

        status = _iotbench(tmp_path, "stack", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "kafka: 3/3 broker(s) live; active controller" in status.stdout
        controller = status.stdout.split("active controller ")[1].split()[0]
        assert controller in {"1", "2", "3"}
        for p in range(3):
            assert f"topic iot-data partition {p}" in status.stdout
        assert "UNDER-REPLICATED" not in status.stdout and "OFFLINE" not in status.stdout
    finally:
        down = _iotbench(tmp_path, "stack", "down", "--purge")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not (tmp_path / "stack" / "kafka").exists()


# ------------------------------------------------------------------ validation (no stack)

def test_two_brokers_are_refused_naming_the_key() -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + "stack: {kafka: {brokers: 2}}\n")
    assert "stack.kafka.brokers" in str(failed.value) and "must be 1 or 3" in str(failed.value)
    with pytest.raises(StackError, match="brokers must be 1 or 3"):
        NativeStack(StackConfig(brokers=2))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stack", "up", "--brokers", "2"])


def test_more_replicas_than_brokers_are_refused() -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + "stack: {kafka: {brokers: 1, replication_factor: 3}}\n")
    assert "stack.kafka" in str(failed.value)
    assert "replication_factor 3 is more than brokers (1)" in str(failed.value)
    with pytest.raises(StackError, match="replication_factor 3"):
        NativeStack(StackConfig(brokers=1, replication_factor=3))


def test_min_isr_above_replication_factor_is_refused() -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + "stack: {kafka: {brokers: 3, replication_factor: 2, "
                           "min_insync_replicas: 3}}\n")
    assert "min_insync_replicas 3 is more than replication_factor (2)" in str(failed.value)


@pytest.mark.parametrize(("stack", "fault", "problem"), [
    ("{kafka: {brokers: 3}}", "{at_s: 1, process: kafka, action: kill}",
     "on 3 brokers name the broker: kafka-1..kafka-3"),
    ("{partitions: 2}", "{at_s: 1, process: kafka-2, action: kill}",
     "process: kafka-2 needs stack.kafka.brokers: 3"),
    ("{kafka: {brokers: 3}}", "{at_s: 1, process: kafka-leader, action: kill}",
     "partition is for process: kafka-leader, which needs it"),
    ("{partitions: 3, kafka: {brokers: 3}}",
     "{at_s: 1, process: kafka-leader, partition: 3, action: kill}",
     "partition 3 does not exist: the run's topic has 3 (0..2)"),
    ("{partitions: 2}", "{at_s: 1, isolate: kafka-2, duration_s: 5}",
     "isolate: kafka-2 needs stack.kafka.brokers: 3"),
    ("{partitions: 2}", "{at_s: 1, link: kafka-3-replication, toxic: latency, duration_s: 5, "
     "attributes: {latency: 100}}", "link: kafka-3-replication needs stack.kafka.brokers: 3"),
])
def test_a_broker_fault_must_name_a_broker_the_stack_has(stack: str, fault: str,
                                                         problem: str) -> None:
    with pytest.raises(ScenarioError) as failed:
        scenario_from_yaml(BASE + f"stack: {stack}\nfaults:\n  - {fault}\n")
    assert problem in str(failed.value)


def test_defaults_follow_the_broker_count() -> None:
    one = scenario_from_yaml(BASE).stack.kafka
    three = scenario_from_yaml(BASE + "stack: {kafka: {brokers: 3}}\n").stack.kafka
    assert (one.brokers, one.replication_factor, one.min_insync_replicas) == (1, 1, 1)
    assert (three.replication_factor, three.min_insync_replicas,
            three.unclean_leader_election) == (3, 2, False)
    args = build_parser().parse_args(["stack", "up", "--brokers", "3"])
    assert args.brokers == 3
    # one broker keeps today's proxies, names and ports
    assert [s.name for s in link_specs(PORTS)] == ["producer-kafka", "spark-kafka",
                                                   "spark-mongo", "dashboard-mongo"]
    assert max(_proxy_ports()) < 32768


# ------------------------------------------------------------------ slow: faults per broker

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    stack = NativeStack(StackConfig(partitions=3, brokers=3, dashboard=False),
                        home=tmp_path_factory.mktemp("replicated") / "stack", ports=PORTS)
    stack.up()
    try:
        yield stack
    finally:
        stack.links.reset()
        pids = [r.pid for r in stack.state.processes] if stack.state else []
        stack.down(purge=True)
        assert not [pid for pid in pids if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def _new_topic(cluster: NativeStack, partitions: int = 6) -> str:
    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    kafka_admin.ensure_topic(cluster.endpoints.direct_bootstrap, topic, partitions)
    return topic


@pytest.mark.slow
def test_new_topic_is_replicated_three_times(cluster: NativeStack) -> None:
    topic = _new_topic(cluster)
    states = partition_states(cluster.endpoints.direct_bootstrap, topic)
    assert len(states) == 6
    assert all(s.led and sorted(s.isr) == [1, 2, 3] == sorted(s.replicas) for s in states)
    assert {s.leader for s in states} == {1, 2, 3}  # leadership spread over the brokers
    direct = cluster.endpoints.direct_bootstrap
    assert kafka_admin.cluster_replication(direct) == cluster.config.replication()

    # the runner's call (no replication given) keeps a matching topic and its data …
    _produce(cluster.endpoints.producer_bootstrap, topic, 0, 20)
    kafka_admin.ensure_topic(direct, topic, 6)
    assert _end_offset(direct, topic, 0) == 1
    # … and replaces one replicated differently
    kafka_admin.ensure_topic(direct, topic, 6, replication=Replication(2, 1, True))
    assert {len(s.replicas) for s in kafka_admin.wait_topic_ready(direct, topic, 60)} == {2}
    assert _end_offset(direct, topic, 0) == 0


@pytest.mark.slow
def test_no_broker_connection_bypasses_the_proxies(cluster: NativeStack) -> None:
    proxies = _proxy_ports()
    backends = {p for n in (1, 2, 3) for p in broker_ports(PORTS, n).bound()}
    _new_topic(cluster)  # replication traffic on every broker
    seen_proxies: set[int] = set()
    for record in cluster.state.processes:  # type: ignore[union-attr]
        if not record.name.startswith("kafka-"):
            continue
        conns = psutil.Process(record.pid).net_connections("tcp")
        listening = {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}
        outgoing = {c.raddr.port for c in conns if c.raddr and c.laddr.port not in listening}
        assert not outgoing & backends, f"{record.name} talks to a broker port directly"
        seen_proxies |= outgoing & proxies
    replication = {broker_ports(PORTS, n).replication_link for n in (1, 2, 3)}
    controller = {broker_ports(PORTS, n).controller_link for n in (1, 2, 3)}
    assert seen_proxies & replication and seen_proxies & controller


@pytest.mark.slow
def test_a_link_name_acts_on_every_brokers_proxy(cluster: NativeStack) -> None:
    links = cluster.links
    assert links.members("kafka-2") == ["producer-kafka-2", "spark-kafka-2",
                                        "kafka-2-replication", "kafka-2-controller"]
    assert links.members("spark-mongo") == ["spark-mongo"]
    try:
        links.set_enabled("producer-kafka", False)
        proxies = links.proxies()
        assert [n for n in ("producer-kafka-1", "producer-kafka-2", "producer-kafka-3")
                if proxies[n]["enabled"]] == []
        assert all(proxies[f"spark-kafka-{n}"]["enabled"] for n in (1, 2, 3))
        name = links.add_toxic("spark-kafka", "latency", {"latency": 50})
        assert all(name in {t["name"] for t in links.proxies()[f"spark-kafka-{n}"]["toxics"]}
                   for n in (1, 2, 3))
        links.remove_toxic("spark-kafka", name)
        assert not any(links.proxies()[f"spark-kafka-{n}"]["toxics"] for n in (1, 2, 3))
    finally:
        links.reset()


def _produce(bootstrap: str, topic: str, partition: int, timeout_s: float,
             acks: int | str = "all") -> None:
    """One send that either is acknowledged or raises: no retries, so a broker's refusal
    (NotEnoughReplicas) comes back as itself, not as a timeout."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=acks, linger_ms=0, retries=0,
                             enable_idempotence=False, max_block_ms=int(timeout_s * 1000),
                             request_timeout_ms=int(timeout_s * 1000),
                             delivery_timeout_ms=int(timeout_s * 1000) + 1000)
    try:
        producer.send(topic, b"ping", partition=partition).get(timeout=timeout_s + 2)
    finally:
        producer.close(timeout=5)


def _end_offset(bootstrap: str, topic: str, partition: int) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tp = TopicPartition(topic, partition)
        return consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


def _isr(bootstrap: str, topic: str, partition: int) -> tuple[int, ...]:
    return next(s.isr for s in partition_states(bootstrap, topic) if s.partition == partition)


@pytest.mark.slow
def test_cutting_a_brokers_proxies_stops_its_traffic_and_it_rejoins(
        cluster: NativeStack) -> None:
    """Cut the leader of one partition in two steps: its replication proxy first (followers
    fall behind the writes it still takes, so it shrinks the ISR and acks=all is refused with
    NotEnoughReplicas), then every other proxy into it (nothing reaches it: a produce times
    out). Healed, the followers catch up and the ISR is full again."""
    e = cluster.endpoints
    topic = _new_topic(cluster, partitions=3)
    controller = cluster_view(e.direct_bootstrap).controller
    states = partition_states(e.direct_bootstrap, topic)
    victim = next((s for s in states if s.leader != controller), states[0])
    part, broker = victim.partition, victim.leader
    _produce(e.producer_bootstrap, topic, part, 20)  # works before the cut

    try:
        cluster.links.set_enabled(f"kafka-{broker}-replication", False)
        deadline = time.monotonic() + 45
        while _isr(e.direct_bootstrap, topic, part) != (broker,):  # followers leave one by one
            # acks=1 writes still land on the leader; its followers cannot fetch them
            _produce(e.producer_bootstrap, topic, part, 5, acks=1)
            assert time.monotonic() < deadline, "the cut followers never left the ISR"
            time.sleep(0.5)
        assert _isr(e.direct_bootstrap, topic, part) == (broker,)
        with pytest.raises(NotEnoughReplicasError):
            _produce(e.producer_bootstrap, topic, part, 5)

        for link in broker_link_names(broker):
            cluster.links.set_enabled(link, False)
        with pytest.raises(KafkaTimeoutError):
            _produce(e.producer_bootstrap, topic, part, 5, acks=1)
    finally:
        cluster.links.reset()
    healed = kafka_admin.wait_topic_ready(e.direct_bootstrap, topic, 60)
    assert all(sorted(s.isr) == [1, 2, 3] for s in healed)
    _produce(e.producer_bootstrap, topic, part, 20)


def _leader_or_none(bootstrap: str, topic: str, partition: int) -> int | None:
    """The partition's leader; None while the metadata cannot be read (a broker is down)."""
    try:
        return next(s.leader for s in partition_states(bootstrap, topic)
                    if s.partition == partition)
    except Exception:  # noqa: BLE001 - asked again on the next poll
        return None


@pytest.mark.slow
def test_role_targeted_faults_hit_the_broker_holding_the_role_when_they_fire(
        cluster: NativeStack, tmp_path: Path) -> None:
    """``kafka-leader`` (partition 0) and ``kafka-controller`` are resolved from the cluster's
    metadata when they fire; the heal starts that same broker and the ISR fills again."""
    e = cluster.endpoints
    topic = _new_topic(cluster, partitions=3)
    scenario = scenario_from_yaml(
        BASE + "stack: {partitions: 3, kafka: {brokers: 3}}\nfaults:\n"
        "  - {at_s: 1, process: kafka-leader, partition: 0, action: kill, restart_after_s: 5}\n"
        "  - {at_s: 10, process: kafka-controller, action: kill, restart_after_s: 5}\n")
    target = native_target(cluster, started_here=False)
    entries: list[dict] = []
    events = RunEvents()
    events.fault_healed.add_listener(lambda entry: entries.append(dict(entry)))
    injector = FaultInjector(scenario.fault_schedule(), target, stack_handles(target), events,
                             log=lambda _: None, topic=topic)
    leader_before = next(s.leader for s in partition_states(e.direct_bootstrap, topic)
                         if s.partition == 0)
    controller_before = cluster_view(e.direct_bootstrap).controller
    leader_fault, controller_fault = scenario.fault_schedule()
    sampler = ClusterSampler(tmp_path / "cluster.csv", e.direct_bootstrap, topic)
    sampler.start()
    try:
        injector.apply(leader_fault)
        entry = injector.active[leader_fault.index]
        assert entry["resolved"] == f"kafka-{leader_before}"
        assert entry["role"]["leader"] == leader_before and entry["role"]["partition"] == 0
        deadline = time.monotonic() + 30
        while _leader_or_none(e.direct_bootstrap, topic, 0) in (leader_before, -1, None):
            assert time.monotonic() < deadline, "no new leader for partition 0"
            time.sleep(0.5)
        injector.heal(leader_fault.index)
        kafka_admin.wait_topic_ready(e.direct_bootstrap, topic, 90)

        controller_before = cluster_view(e.direct_bootstrap).controller
        injector.apply(controller_fault)
        entry = injector.active[controller_fault.index]
        assert entry["resolved"] == f"kafka-{controller_before}"
        deadline = time.monotonic() + 30
        while True:
            try:
                now = cluster_view(e.direct_bootstrap).controller
            except Exception:  # noqa: BLE001 - the quorum is electing
                now = -1
            if now not in (controller_before, -1):
                break
            assert time.monotonic() < deadline, "no new active controller"
            time.sleep(0.5)
        injector.heal(controller_fault.index)
        healed = kafka_admin.wait_topic_ready(e.direct_bootstrap, topic, 90)
        time.sleep(2)  # a sample of the healed cluster
    finally:
        injector.heal_all()
        sampler.stop()
    assert [x["resolved"] for x in entries] == [f"kafka-{leader_before}",
                                                f"kafka-{controller_before}"]
    assert all(x["healed_at"] and not x["error"] for x in entries)
    assert all(sorted(s.isr) == [1, 2, 3] for s in healed)
    # The run's cluster timeline sees the same story from its own samples.
    cluster = pd.read_csv(tmp_path / "cluster.csv")
    no_sends = pd.DataFrame({"send_ts": [], "ack_ts": [], "error": []})
    leader_row, controller_row = broker_fault_table(entries, cluster, no_sends,
                                                    end=time.time())
    assert leader_row["broker"] == leader_before and leader_row["leader_back_s"] is not None
    assert leader_row["max_under_replicated"] >= 1 and leader_row["isr_full_s"] is not None
    assert controller_row["controller_moved_s"] is not None


@pytest.mark.slow
def test_isolate_cuts_every_proxy_into_one_broker_and_heals(cluster: NativeStack) -> None:
    """``isolate: kafka-N`` closes every proxy *into* broker N: no client and no follower
    reaches it, so a send to its partition times out. Its own connections out to its peers'
    proxies still work — it keeps heartbeating to the controller, is not fenced and keeps
    its leadership. Its ISR is not pinned: no write reaches it, yet one run here saw
    (1, 2, 3) stay whole and another (1, 2). Healed, the ISR is full and sends succeed."""
    e = cluster.endpoints
    topic = _new_topic(cluster, partitions=3)
    controller = cluster_view(e.direct_bootstrap).controller
    states = partition_states(e.direct_bootstrap, topic)
    victim = next(s for s in states if s.leader != controller)
    scenario = scenario_from_yaml(
        BASE + "stack: {partitions: 3, kafka: {brokers: 3}}\nfaults:\n"
        f"  - {{at_s: 1, isolate: kafka-{victim.leader}, duration_s: 20}}\n")
    (isolate,) = scenario.fault_schedule()
    target = native_target(cluster, started_here=False)
    injector = FaultInjector([isolate], target, {}, RunEvents(), log=lambda _: None)
    try:
        injector.apply(isolate)
        proxies = cluster.links.proxies()
        assert [n for n in broker_link_names(victim.leader) if proxies[n]["enabled"]] == []
        with pytest.raises(KafkaTimeoutError):
            _produce(e.producer_bootstrap, topic, victim.partition, 5, acks=1)
        time.sleep(12)  # past replica.lag.time.max.ms (10 s): a fenced broker would be gone
        after = next(s for s in partition_states(e.direct_bootstrap, topic)
                     if s.partition == victim.partition)
        assert after.leader == victim.leader, after
        injector.heal(isolate.index)
    finally:
        injector.heal_all()
    healed = kafka_admin.wait_topic_ready(e.direct_bootstrap, topic, 90)
    assert all(sorted(s.isr) == [1, 2, 3] for s in healed)
    _produce(e.producer_bootstrap, topic, victim.partition, 20)
