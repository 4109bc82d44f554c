"""The docker provider (system/stack/docker.py).

Without an engine: it fails fast and clearly, never hangs, and maps the compose stack's
published ports onto the same Target fields the native provider fills.
With an engine (users' machines, ``-m docker``): the compose stack comes up through
testcontainers, its links work, and the quickstart scenario runs on it unchanged.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import stack_docker_support as sds
import yaml

from benchmarks.provider import acquire
from system.config import LINKS, Ports
from system.stack import docker as provider
from system.stack.docker import DockerStack
from system.stack.errors import SetupError, StackError
from system.stack.native import StackConfig

TEST_PROJECT = "iotbench-test"


def fake_docker(tmp_path: Path, body: str) -> Path:
    """A `docker` on PATH that behaves as told (no engine, or an engine that hangs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def env_file(tmp_path: Path, password: str = "p@ss:w/rd") -> Path:
    path = tmp_path / ".env"
    path.write_text("# test\nMONGO_INITDB_ROOT_USERNAME=root\n"
                    f"MONGO_INITDB_ROOT_PASSWORD='{password}'\n"
                    "ME_CONFIG_BASICAUTH_USERNAME=me\nME_CONFIG_BASICAUTH_PASSWORD=me-pw\n")
    return path


# ---------------------------------------------------------------- without an engine


def test_no_engine_is_a_clear_error_at_once(tmp_path, monkeypatch) -> None:
    bin_dir = fake_docker(tmp_path, 'echo "Cannot connect to the Docker daemon at '
                                    'unix:///var/run/docker.sock." >&2; exit 1')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    started = time.monotonic()
    with pytest.raises(StackError) as err:
        DockerStack(env_file=env_file(tmp_path), log=lambda _: None).up()
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert message.startswith("Docker provider needs a running Docker engine: "
                              "`docker info` failed: Cannot connect to the Docker daemon")
    assert "provider: native" in message


def test_an_engine_that_does_not_answer_times_out(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_docker(tmp_path, 'exec sleep 30')}:/usr/bin:/bin")
    started = time.monotonic()
    with pytest.raises(StackError, match=r"`docker info` did not answer within 1 s"):
        provider.engine_check(timeout_s=1)
    assert time.monotonic() - started < 10


def test_no_docker_client_at_all(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackError, match="`docker` is not on PATH"):
        provider.engine_check()


def test_the_runner_gets_the_same_error_through_acquire(tmp_path, monkeypatch) -> None:
    from benchmarks.provider import acquire

    monkeypatch.setenv("PATH", f"{fake_docker(tmp_path, 'exit 1')}:/usr/bin:/bin")
    settings = SimpleNamespace(provider="docker", partitions=2, workers=1, worker_cores=1,
                               worker_memory="1g")
    with pytest.raises(StackError, match="needs a running Docker engine"):
        acquire(settings, lambda _: None)


def test_missing_or_incomplete_env_file_says_what_to_do(tmp_path) -> None:
    with pytest.raises(SetupError, match=r"cp .*\.env\.example"):
        DockerStack(env_file=tmp_path / ".env").check_files()
    partial = tmp_path / "partial.env"
    partial.write_text("MONGO_INITDB_ROOT_USERNAME=root\nMONGO_INITDB_ROOT_PASSWORD=\n")
    with pytest.raises(SetupError, match="MONGO_INITDB_ROOT_PASSWORD"):
        DockerStack(env_file=partial).check_files()
    DockerStack(env_file=env_file(tmp_path)).check_files()


def test_target_maps_the_published_ports_like_the_native_provider(tmp_path,
                                                                  monkeypatch) -> None:
    """The Target the runner gets, built without starting anything (engine and stack
    checks stubbed): same fields and 127.0.0.1 addresses as native, credentials quoted."""
    env = env_file(tmp_path)
    monkeypatch.setattr(provider, "engine_check", lambda *a, **k: "test")
    monkeypatch.setattr(provider, "_driver_preflight", lambda: None)
    monkeypatch.setattr(DockerStack, "running", lambda self: True)
    monkeypatch.setattr(provider, "default_project_dir", lambda: sds.ROOT)
    real_init = DockerStack.__init__
    monkeypatch.setattr(DockerStack, "__init__",
                        lambda self, config=None, **kw: real_init(self, config, env_file=env, **kw))
    settings = SimpleNamespace(provider="docker", partitions=4, workers=2, worker_cores=2,
                               worker_memory="1g")
    target = acquire(settings, lambda _: None)
    p = Ports()
    assert target.provider == "docker" and target.started_here is False
    assert target.producer_bootstrap == f"127.0.0.1:{p.producer_kafka}" == "127.0.0.1:9092"
    assert target.spark_bootstrap == f"127.0.0.1:{p.spark_kafka}"
    assert target.admin_bootstrap == f"127.0.0.1:{p.kafka_direct}"
    assert target.spark_master == "local[4]"  # workers × cores, driver on this machine
    assert target.spark_mongo_uri == (f"mongodb://root:p%40ss%3Aw%2Frd@127.0.0.1:"
                                      f"{p.spark_mongo}/?directConnection=true&authSource=admin")
    assert f"@127.0.0.1:{p.mongo}/" in target.admin_mongo_uri
    assert target.dashboard_url == "http://127.0.0.1:5000"
    assert target.links.api_url == "http://127.0.0.1:8474"
    assert target.stack.endpoints.spark_master_ui == "http://127.0.0.1:8081"
    assert target.stack.state is None  # the runner samples no host pids for containers
    # every address the target hands out is one the compose file publishes on 127.0.0.1
    published = {host for spec in sds.compose()["services"].values()
                 for _, host, _ in sds.published(spec)}
    for address in (target.producer_bootstrap, target.spark_bootstrap, target.admin_bootstrap):
        assert int(address.rsplit(":", 1)[1]) in published
    assert {p.spark_mongo, p.mongo, p.dashboard, p.toxiproxy_api} <= published


def test_compose_commands_carry_env_file_profiles_and_sizing(tmp_path) -> None:
    stack = DockerStack(StackConfig(partitions=3, workers=2, worker_cores=2,
                                    worker_memory="2g", dashboard=False),
                        env_file=env_file(tmp_path), profiles=["influx"],
                        project_dir=sds.ROOT, project_name=TEST_PROJECT)
    compose = stack.compose()
    command = compose.compose_command_property
    assert command[-6:] == ["-f", "docker-compose.yml", "--profile", "influx", "--env-file",
                            str(tmp_path / ".env")]
    assert compose.extra_env == {"COMPOSE_PROJECT_NAME": TEST_PROJECT,
                                 "IOTBENCH_PARTITIONS": "3", "IOTBENCH_SPARK_WORKERS": "2",
                                 "IOTBENCH_SPARK_WORKER_CORES": "2",
                                 "IOTBENCH_SPARK_WORKER_MEMORY": "2g"}
    assert "dashboard" not in compose.services and "kafka" in compose.services
    assert set(stack.wait_strategies()) == {"toxiproxy", "spark-master"}
    assert set(provider.published_ports(sds.COMPOSE, ["influx"]).values()) >= {
        "influxdb", "toxiproxy", "kafka", "mongo"}
    assert "grafana" not in provider.published_ports(sds.COMPOSE, ["influx"]).values()


def test_spark_worker_faults_are_refused_with_the_reason() -> None:
    stack = DockerStack(project_dir=sds.ROOT)
    with pytest.raises(StackError, match="local mode"):
        stack.kill_service("spark-worker-1")
    with pytest.raises(StackError, match="no faultable service"):
        stack.pause_service("zookeeper", True)


# ---------------------------------------------------------------- with an engine


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerStack]:
    try:
        provider.engine_check(timeout_s=10)
    except StackError as exc:
        pytest.skip(f"no Docker engine answers: {exc}".splitlines()[0])
    if not (sds.ROOT / ".env").is_file():
        pytest.skip("docker tests need the credentials file: cp .env.example .env and fill it")
    stack = DockerStack(StackConfig(partitions=2, workers=1), project_name=TEST_PROJECT,
                        project_dir=sds.ROOT)
    busy = [port for port in provider.published_ports(stack.compose_file)
            if provider._port_open(port)]
    if busy:
        pytest.skip(f"ports {busy} are taken (a running iotbench stack?); not touching it")
    stack.up()
    try:
        yield stack
    finally:
        stack.down(purge=True)


@pytest.mark.docker
def test_compose_stack_is_healthy_and_its_links_work(compose_stack: DockerStack) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from pymongo import MongoClient

    from system.stack import kafka as kafka_admin

    links = compose_stack.links
    assert set(LINKS) <= set(links.proxies())
    e = compose_stack.endpoints
    topic = "docker-provider-smoke"
    kafka_admin.ensure_topic(e.direct_bootstrap, topic, 1, recreate=True)
    producer = KafkaProducer(bootstrap_servers=e.producer_bootstrap)
    producer.send(topic, b"hello").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=e.spark_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=20_000)
    records = [r for _, r in zip(range(1), consumer, strict=False)]
    consumer.close()
    assert records and records[0].value == b"hello"
    assert records[0].timestamp_type == 1  # LogAppendTime
    with MongoClient(compose_stack.mongo_uri(Ports().spark_mongo),
                     serverSelectionTimeoutMS=10_000) as client:
        assert client.admin.command("ping")["ok"] == 1
    links.set_enabled("spark-mongo", False)
    try:
        with pytest.raises(Exception), MongoClient(  # noqa: B017 - any failure to connect
                compose_stack.mongo_uri(Ports().spark_mongo),
                serverSelectionTimeoutMS=2000) as client:
            client.admin.command("ping")
    finally:
        links.reset()


@pytest.mark.docker
def test_quickstart_runs_unchanged_on_the_docker_provider(compose_stack: DockerStack,
                                                          tmp_path: Path,
                                                          monkeypatch) -> None:
    from benchmarks.runner import run_file

    scenario = yaml.safe_load((sds.ROOT / "scenarios" / "quickstart.yaml").read_text())
    scenario["stack"]["provider"] = "docker"
    path = tmp_path / "quickstart-docker.yaml"
    path.write_text(yaml.safe_dump(scenario))
    monkeypatch.setenv("IOTBENCH_COMPOSE_PROJECT", TEST_PROJECT)  # reuse the fixture's stack
    code = run_file(path, tmp_path / "runs")
    run_dir = next((tmp_path / "runs").iterdir())
    journal = json.loads((run_dir / "journal.json").read_text())
    assert code == 0, journal.get("error")
    assert journal["settings"]["target"]["provider"] == "docker"
    assert compose_stack.running(), "a reused stack is not stopped by the run"


@pytest.mark.docker
def test_a_killed_kafka_container_comes_back(compose_stack: DockerStack) -> None:
    compose_stack.kill_service("kafka")
    out = subprocess.run([*compose_stack.compose().compose_command_property, "ps", "-a",
                          "--format", "json", "kafka"], capture_output=True, text=True,
                         cwd=sds.ROOT, env={**os.environ, **compose_stack.compose().extra_env},
                         timeout=60)
    assert "exited" in out.stdout.lower()
    assert compose_stack.start_service("kafka") < compose_stack.timeout_s
