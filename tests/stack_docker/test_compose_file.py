"""docker-compose.yml and its companions, checked without a Docker engine (our CI).

The compose file must mirror the native stack: the same links and proxy ports as
``system.config`` / ``system.stack.links``, the same Kafka listener layout as
``system.stack.kafka``, the topic with LogAppendTime, every port on 127.0.0.1 and no secret.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import stack_docker_support as sds
import yaml

from system.bridge import lines
from system.config import LINKS, TOPIC, Ports
from system.stack import kafka
from system.stack.links import link_specs

ROOT = sds.ROOT
SERVICES = sds.compose()["services"]
DEFAULT_SERVICES = ("kafka", "kafka-init", "mongo", "mongo-express", "toxiproxy",
                    "spark-master", "spark-worker", "dashboard")
CREDENTIAL_KEY = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|_USER|USERNAME)$")
PORTS = Ports()


def listeners(value: str) -> dict[str, tuple[str, int]]:
    out = {}
    for item in value.split(","):
        name, address = item.split("://")
        host, port = address.rsplit(":", 1)
        out[name] = (host, int(port))
    return out


def kafka_env() -> dict[str, str]:
    return sds.env_map(SERVICES["kafka"])


# ---------------------------------------------------------------- services


def test_every_service_the_runner_needs_exists_in_the_default_profile() -> None:
    for name in DEFAULT_SERVICES:
        assert name in SERVICES, f"service {name} missing"
        assert not SERVICES[name].get("profiles"), f"{name} must start without a profile"


def test_optional_profiles_match_the_seed() -> None:
    assert set(SERVICES["influxdb"]["profiles"]) == {"influx", "grafana"}
    assert set(SERVICES["bridge"]["profiles"]) == {"influx", "grafana"}
    assert SERVICES["grafana"]["profiles"] == ["grafana"]
    command = SERVICES["bridge"]["command"]
    assert command[:3] == ["python", "-m", "system.bridge"]
    assert command[command.index("--database") + 1] == "iot"
    assert sds.env_map(SERVICES["influxdb"])["INFLUXDB_DB"] == "iot"


def test_every_service_has_a_healthcheck() -> None:
    for name, spec in SERVICES.items():
        check = spec.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_one_shot_kafka_init_is_adopted_so_up_wait_exits_zero() -> None:
    # `docker compose up --wait` treats an exited one-shot as a failure unless a running
    # service depends on it with service_completed_successfully (docker/compose#10596).
    assert SERVICES["kafka-init"]["restart"] == "no"
    adopters = [n for n, s in SERVICES.items() if isinstance(s.get("depends_on"), dict)
                and s["depends_on"].get("kafka-init", {}).get("condition")
                == "service_completed_successfully"]
    assert adopters, "nothing adopts kafka-init"


def test_dependencies_exist_and_wait_for_health() -> None:
    for name, spec in SERVICES.items():
        deps = spec.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: use the long depends_on form with conditions"
        for dep, cond in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
            if not spec.get("profiles"):
                assert not SERVICES[dep].get("profiles"), f"{name} needs profiled {dep}"


def test_spark_workers_scale_and_share_the_links_namespace() -> None:
    worker = SERVICES["spark-worker"]
    assert "container_name" not in worker, "--scale needs compose-generated names"
    assert "ports" not in worker
    assert worker["deploy"]["replicas"] == "${IOTBENCH_SPARK_WORKERS:-1}"
    for name in ("spark-master", "spark-worker"):
        assert SERVICES[name]["network_mode"] == "service:toxiproxy", name
        assert SERVICES[name]["image"].startswith("apache/spark:")
        assert SERVICES[name]["command"][0] == "/opt/spark/bin/spark-class"
    master = SERVICES["spark-master"]["command"]
    assert master[master.index("--webui-port") + 1] == str(PORTS.spark_master_ui)
    assert master[master.index("--port") + 1] == str(PORTS.spark_master)
    assert worker["command"][-1] == f"spark://127.0.0.1:{PORTS.spark_master}"


# ---------------------------------------------------------------- ports


def test_every_published_port_is_unique_and_bound_to_loopback() -> None:
    seen: dict[int, str] = {}
    for name, spec in SERVICES.items():
        for ip, host, _ in sds.published(spec):
            assert ip == "127.0.0.1", f"{name} publishes {host} on {ip}"
            assert host not in seen, f"host port {host}: {seen.get(host)} and {name}"
            seen[host] = name
    assert seen[5000] == "dashboard" and seen[8082] == "mongo-express"
    assert seen[PORTS.spark_master_ui] == "toxiproxy"  # spark-master lives in its namespace
    assert all(host < 32768 or host > 61000 for host in seen), "ephemeral-range port"


def test_services_sharing_a_namespace_publish_nothing_themselves() -> None:
    for name, spec in SERVICES.items():
        if str(spec.get("network_mode", "")).startswith("service:"):
            assert not spec.get("ports"), f"{name}: publish on the namespace owner"


# ---------------------------------------------------------------- links and Kafka listeners


def toxiproxy_json() -> list[dict]:
    volume = next(v for v in SERVICES["toxiproxy"]["volumes"] if "toxiproxy.json" in v)
    path = ROOT / volume.split(":")[0]
    assert f"-config={volume.split(':')[1]}" in SERVICES["toxiproxy"]["command"]
    return json.loads(path.read_text())


def test_toxiproxy_config_defines_exactly_the_four_native_links() -> None:
    proxies = {p["name"]: p for p in toxiproxy_json()}
    assert sorted(proxies) == sorted(LINKS)
    published = {host: container for _, host, container in
                 sds.published(SERVICES["toxiproxy"])}
    upstream_host = {"producer-kafka": "kafka", "spark-kafka": "kafka",
                     "spark-mongo": "mongo", "dashboard-mongo": "mongo"}
    for spec in link_specs(PORTS):
        proxy = proxies[spec.name]
        host, port = proxy["listen"].rsplit(":", 1)
        assert (host, int(port)) == ("0.0.0.0", spec.listen_port), spec.name
        up_host, up_port = proxy["upstream"].rsplit(":", 1)
        assert (up_host, int(up_port)) == (upstream_host[spec.name], spec.upstream_port)
        assert proxy["enabled"] is True
        # host port = proxy listen port, so the address Kafka advertises is reachable
        assert published.get(spec.listen_port) == spec.listen_port, spec.name


def test_kafka_listener_layout_matches_the_native_broker(tmp_path: Path) -> None:
    env = kafka_env()
    native = dict(line.split("=", 1) for line in
                  kafka.server_properties(PORTS, tmp_path).splitlines()
                  if "=" in line and not line.startswith("#"))
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    native_bound = listeners(native["listeners"])
    native_advertised = listeners(native["advertised.listeners"])
    assert set(bound) == set(native_bound) == {"DIRECT", "PRODUCER", "SPARK", "CONTROLLER"}
    for name, (_, port) in native_bound.items():
        assert bound[name][1] == port, name
    assert advertised == native_advertised, "advertised addresses differ from the native stack"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == native["inter.broker.listener.name"]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert sorted(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")) == sorted(
        native["listener.security.protocol.map"].split(","))
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == native["auto.create.topics.enable"]
    assert str(env["KAFKA_MESSAGE_MAX_BYTES"]) == native["message.max.bytes"]


def test_proxied_kafka_listeners_advertise_their_proxy() -> None:
    env = kafka_env()
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    proxies = {p["name"]: p for p in toxiproxy_json()}
    for link, listener in (("producer-kafka", "PRODUCER"), ("spark-kafka", "SPARK")):
        listen_port = int(proxies[link]["listen"].rsplit(":", 1)[1])
        upstream_port = int(proxies[link]["upstream"].rsplit(":", 1)[1])
        assert bound[listener][1] == upstream_port, f"{link} forwards to {listener}"
        assert advertised[listener] == ("127.0.0.1", listen_port), f"{listener} advertisement"
    # DIRECT (admin, lag) is published on the host at the port it advertises
    direct = advertised["DIRECT"]
    assert ("127.0.0.1", direct[1], bound["DIRECT"][1]) in sds.published(SERVICES["kafka"])
    assert "CONTROLLER" not in advertised


def test_topic_is_created_with_log_append_time() -> None:
    init = SERVICES["kafka-init"]
    command = init["command"]
    assert init["network_mode"] == "service:kafka"  # so 127.0.0.1:19092 (DIRECT) is Kafka
    assert command[command.index("--topic") + 1] == TOPIC
    assert command[command.index("--config") + 1] == "message.timestamp.type=LogAppendTime"
    assert command[command.index("--bootstrap-server") + 1] == f"127.0.0.1:{PORTS.kafka_direct}"
    assert "--if-not-exists" in command


def test_dashboard_reads_mongo_through_its_link() -> None:
    dash = SERVICES["dashboard"]
    uri = sds.env_map(dash)["IOTBENCH_DASHBOARD_MONGO_URI"]
    assert f"@toxiproxy:{PORTS.dashboard_mongo}/" in uri and "directConnection=true" in uri
    assert dash["build"]["dockerfile"] == "Dockerfile"
    assert dash["command"][:3] == ["python", "-m", "system.dashboard.wsgi"]


# ---------------------------------------------------------------- volumes and secrets


def test_state_lives_in_named_volumes() -> None:
    declared = set(sds.compose()["volumes"])
    used = set()
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
                assert volume.endswith(":ro"), f"{name}: repo files are mounted read-only"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared
    for name, path in (("kafka", "/var/lib/kafka/data"), ("mongo", "/data/db"),
                       ("influxdb", "/var/lib/influxdb"), ("grafana", "/var/lib/grafana")):
        assert any(v.split(":")[1] == path for v in SERVICES[name]["volumes"]), name


def test_no_literal_credential_in_the_compose_file() -> None:
    for name, spec in SERVICES.items():
        for key, value in sds.env_map(spec).items():
            if CREDENTIAL_KEY.search(key):
                assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*|:-)\}", value), (
                    f"{name}.{key} must be ${{VAR:?...}} or ${{VAR:-}} (no default), "
                    f"not {value!r}")
            for userinfo in re.findall(r"://([^/@]*)@", value):
                assert re.fullmatch(r"\$\{[^}]+\}:\$\{[^}]+\}", userinfo), (
                    f"{name}.{key}: URI credentials must be variables")
    text = " ".join(sds.strings(sds.compose())).lower()
    for literal in ("admin/admin", "adminpass", "password123", "changeme"):
        assert literal not in text


def test_env_example_lists_every_variable_and_holds_no_secret() -> None:
    used = sds.variables()
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.M))
    assert used, "no variable found"
    assert used <= listed, f"missing from .env.example: {sorted(used - listed)}"
    for line in example.splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match and CREDENTIAL_KEY.search(match.group(1)):
            assert match.group(2) == "", f"{match.group(1)} must be left for the user to set"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_required_credentials_match_the_provider() -> None:
    from system.stack.docker import REQUIRED_ENV

    required = sds.variables(re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*):\?"))
    assert required == set(REQUIRED_ENV)


# ---------------------------------------------------------------- image build


def test_dockerignore_keeps_runs_caches_and_environments_out() -> None:
    patterns = {line.strip().rstrip("/") for line in
                (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for needed in ("runs", "sweeps", ".iotbench", ".venv", "venv", "**/__pycache__",
                   "test-artifacts", ".pytest_cache", ".git", ".env", "*.egg-info"):
        assert needed in patterns, f".dockerignore misses {needed}"
    # but the image needs the sources and the package metadata
    for kept in ("system", "benchmarks", "load", "reports", "pyproject.toml", "README.md"):
        assert kept not in patterns


def test_dockerfile_copies_what_it_installs_and_serves_the_dashboard() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert "assets.install_assets" in text, "front-end assets at build time, with npm"
    assert 'CMD ["python", "-m", "system.dashboard.wsgi"' in text
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for source in copied.split():
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dockerfile_runtime_requirements_come_from_pyproject(tmp_path: Path) -> None:
    """Run the Dockerfile's own requirement-extraction snippet against our pyproject."""
    text = (ROOT / "Dockerfile").read_text()
    snippet = re.search(r'RUN python -c "(import tomllib.+?)" > /tmp/runtime-requirements',
                        text).group(1)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    # inside the shell's double quotes nothing here is special: python gets the text as is
    done = subprocess.run(["python3", "-c", snippet],
                          capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert done.returncode == 0, done.stderr
    names = sorted(re.split(r"[<>=!~\[ ]", line)[0].lower() for line in done.stdout.split())
    assert names == ["flask", "pymongo", "waitress"]


# ---------------------------------------------------------------- grafana


def test_grafana_provisioning_matches_the_bridge_output() -> None:
    base = ROOT / "system" / "stack" / "docker" / "grafana"
    source = yaml.safe_load((base / "provisioning/datasources/influxdb.yaml").read_text())
    ds = source["datasources"][0]
    assert ds["type"] == "influxdb" and ds["url"] == "http://influxdb:8086"
    assert ds["jsonData"]["dbName"] == "iot"
    assert ds["user"] == "${INFLUXDB_READ_USER}"
    assert ds["secureJsonData"]["password"] == "${INFLUXDB_READ_USER_PASSWORD}"
    grafana_env = sds.env_map(SERVICES["grafana"])
    assert {"INFLUXDB_READ_USER", "INFLUXDB_READ_USER_PASSWORD"} <= set(grafana_env)
    provider = yaml.safe_load((base / "provisioning/dashboards/iotbench.yaml").read_text())
    mounted = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
    path = provider["providers"][0]["options"]["path"]
    assert mounted[path] == "./system/stack/docker/grafana/dashboards"
    dashboard = json.loads((base / "dashboards/iotbench.json").read_text())
    queries = [t["query"] for p in dashboard["panels"] for t in p["targets"]]
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    assert "latency" in titles and "throughput" in titles and "anomal" in titles
    produced = {"latency_ms", "seq", "anomaly", "temperature_celsius", "device_id",
                "device_type"}
    for query in queries:
        assert f'"{lines.MEASUREMENT}"' in query
        for name in re.findall(r'"([a-z_]+)"', query):
            assert name in produced | {lines.MEASUREMENT}, f"unknown field {name} in {query}"
        assert all(p["datasource"]["uid"] == ds["uid"] for p in dashboard["panels"])


# ---------------------------------------------------------------- docker compose config


def compose_command() -> list[str]:
    """`docker compose` (the plugin), else a standalone Compose v2 binary
    ($IOTBENCH_DOCKER_COMPOSE or `docker-compose` on PATH); skip when there is none."""
    import os

    reasons = []
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    standalone = os.environ.get("IOTBENCH_DOCKER_COMPOSE") or shutil.which("docker-compose")
    if standalone:
        candidates.append([standalone])
    for command in candidates:
        done = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=20)
        if done.returncode == 0 and "v2." in done.stdout:
            return command
        reasons.append(f"`{' '.join(command)} version`: "
                       f"{(done.stderr or done.stdout).strip().splitlines()[0][:100]}")
    pytest.skip("no Docker Compose v2 to run `config` with ("
                + ("; ".join(reasons) or "no docker client, no docker-compose") + ")")


def test_docker_compose_config_validates_the_file(tmp_path: Path) -> None:
    """`docker compose config` parses, interpolates and validates the file without an engine;
    the optional profiles' credentials must not be needed for a plain `up`."""
    command = compose_command()
    variables = sorted(n for n in sds.variables() if not n.startswith("IOTBENCH_"))
    full, core, broken = (tmp_path / "full.env", tmp_path / "core.env", tmp_path / "bad.env")
    full.write_text("".join(f"{name}=test-value-{i}\n" for i, name in enumerate(variables)))
    core.write_text("".join(f"{name}=v\n" for name in variables
                            if name.startswith(("MONGO_", "ME_"))))
    broken.write_text("MONGO_INITDB_ROOT_USERNAME=u\n")

    def config(env: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, "-f", str(sds.COMPOSE), "--env-file", str(env),
                               *extra, "config", "--quiet"],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)

    for profile in ([], ["--profile", "influx"], ["--profile", "grafana"]):
        done = config(full, *profile)
        assert done.returncode == 0, done.stderr
    assert config(core).returncode == 0, "a plain `up` must not need the profiles' secrets"
    done = config(broken)
    assert done.returncode != 0 and "MONGO_INITDB_ROOT_PASSWORD" in done.stderr
