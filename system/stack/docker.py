"""The docker provider: ``docker-compose.yml`` through testcontainers' compose support.

    DockerStack(StackConfig(workers=2)).up()      # `iotbench stack up --provider docker`
    stack, started_here = DockerStack.start_or_reuse(config, log)  # a run's stack

Addresses are the native ones (see the comment at the top of docker-compose.yml): the
compose file publishes every port on 127.0.0.1 at the default ``system.config.Ports`` value,
and the Kafka listeners advertise the proxies' 127.0.0.1 ports.

Where the Spark driver runs (read before trusting a docker run's Spark numbers): the
runner starts the processor driver on this machine (``benchmarks/processes.py``), and the
processor pins ``spark.driver.host`` to 127.0.0.1 and its executors' Python to this
machine's virtual environment (``system/processor/session.py``). Executors in the Spark
containers could neither reach that driver nor find that interpreter. So a docker target
runs the driver in Spark local mode, ``local[workers × worker_cores]``, on this machine: its
executors are threads of the driver, reading Kafka through the ``spark-kafka`` link
(127.0.0.1:9093) and writing Mongo through ``spark-mongo`` (127.0.0.1:27018) like the native
stack's. The compose file's Spark master and workers serve the Spark UI and jobs submitted
inside the containers (``docker compose exec spark-master ...``); a ``spark-worker`` process
fault is refused on this provider because it would not touch the run's executors.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testcontainers.compose import DockerCompose
from testcontainers.core.waiting_utils import WaitStrategy

from system.config import HOST, LINKS, Endpoints, Ports
from system.stack.errors import PortBusy, ServiceError, SetupError, StackError
from system.stack.links import Links
from system.stack.native import StackConfig

Log = Callable[[str], None]

COMPOSE_FILE = "docker-compose.yml"
ENV_FILE = ".env"
REQUIRED_ENV = ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD",
                "ME_CONFIG_BASICAUTH_USERNAME", "ME_CONFIG_BASICAUTH_PASSWORD")
"""Credentials the default services need (``${VAR:?}`` in the compose file)."""
SERVICES = ("kafka", "mongo", "mongo-express", "toxiproxy", "spark-master", "spark-worker",
            "dashboard")
"""Long-running services of the default profile (kafka-init is a one-shot)."""
FAULTABLE = {"kafka": "kafka", "mongo": "mongo"}
"""Process-fault names the runner uses → compose services."""
ENGINE_TIMEOUT_S = 15.0


# ---------------------------------------------------------------- engine and files


def engine_check(timeout_s: float = ENGINE_TIMEOUT_S) -> str:
    """The engine's version, or StackError at once when no Docker engine answers."""
    version = ""
    for args, what in ((["docker", "info", "--format", "{{.ServerVersion}}"], "docker info"),
                       (["docker", "compose", "version", "--short"], "docker compose version")):
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
        except FileNotFoundError as exc:
            raise StackError("Docker provider needs a running Docker engine: `docker` is not "
                             "on PATH.\nHint: install Docker, or use provider: native.") from exc
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"Docker provider needs a running Docker engine: `{what}` did not "
                             f"answer within {timeout_s:.0f} s.") from exc
        detail = (done.stderr or done.stdout).strip().splitlines()
        if done.returncode != 0 or (what == "docker info" and not done.stdout.strip()):
            need = "a running Docker engine" if what == "docker info" else "Docker Compose v2"
            raise StackError(f"Docker provider needs {need}: `{what}` failed: "
                             f"{' '.join(detail[-3:]) or f'exit code {done.returncode}'}\n"
                             "Hint: start Docker (or install the compose plugin), or use "
                             "provider: native.")
        if what == "docker info":
            version = done.stdout.strip()
    return version


def default_project_dir() -> Path:
    """``$IOTBENCH_COMPOSE_DIR``, else this checkout's top level, else the current folder."""
    if os.environ.get("IOTBENCH_COMPOSE_DIR"):
        return Path(os.environ["IOTBENCH_COMPOSE_DIR"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / COMPOSE_FILE).is_file() else Path.cwd()


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them (comments, blank lines, optional quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        text = raw.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, value = text.split("=", 1)
        key, value = key.strip().removeprefix("export ").strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def published_ports(compose_file: Path, profiles: Iterable[str] = ()) -> dict[int, str]:
    """Host port → service, for the services the given profiles enable."""
    import yaml

    wanted = set(profiles)
    ports: dict[int, str] = {}
    for name, spec in yaml.safe_load(compose_file.read_text())["services"].items():
        if spec.get("profiles") and not wanted & set(spec["profiles"]):
            continue
        for entry in spec.get("ports", []):
            parts = str(entry).split(":")
            ports[int(parts[-2])] = name
    return ports


# ---------------------------------------------------------------- testcontainers pieces


@dataclass
class _Compose(DockerCompose):
    """testcontainers' DockerCompose with an environment for the compose commands (sizing
    variables) and a timeout on each, so nothing can hang for good."""

    extra_env: dict[str, str] = field(default_factory=dict)
    command_timeout_s: float = 1800.0

    def _run_command(self, cmd: Any, context: str | None = None
                     ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(cmd, capture_output=True, check=True, cwd=context or self.context,
                              env={**os.environ, **self.extra_env},
                              timeout=self.command_timeout_s)


class HostUrl(WaitStrategy):
    """A URL on this machine answers 200 with a body ``accept`` likes (the published port is
    what the harness uses, so that is what is awaited)."""

    def __init__(self, url: str, accept: Callable[[bytes], bool] = lambda _: True,
                 what: str = "") -> None:
        super().__init__()
        self.url, self.accept, self.what = url, accept, what or f"GET {url} → 200"

    def check(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=3) as resp:
                return resp.status == 200 and self.accept(resp.read())
        except (OSError, ValueError):
            return False

    def wait_until_ready(self, container: Any) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while not self.check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.what}: not within {self._startup_timeout:.0f} s")
            time.sleep(self._poll_interval)


def _alive_workers(body: bytes) -> int:
    state = json.loads(body or b"{}")
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


# ---------------------------------------------------------------- the stack


class DockerStack:
    """Bring the compose stack up and down; the same surface the runner uses of NativeStack
    (``endpoints``, ``links``, ``state``, ``down``, the process-fault methods)."""

    def __init__(self, config: StackConfig | None = None, *, project_dir: Path | None = None,
                 env_file: Path | None = None, profiles: Iterable[str] = (), log: Log = print,
                 build: bool = True, timeout_s: float = 300.0,
                 project_name: str | None = None) -> None:
        self.config = config or StackConfig()
        self.project_dir = (project_dir or default_project_dir()).resolve()
        self.compose_file = self.project_dir / COMPOSE_FILE
        self.env_file = (env_file or self.project_dir / ENV_FILE).resolve()
        self.profiles = list(profiles)
        self.project_name = project_name or os.environ.get("IOTBENCH_COMPOSE_PROJECT")
        """Overrides the file's ``name: iotbench`` (tests use their own project)."""
        self.log = log
        self.build = build
        self.timeout_s = timeout_s
        self.ports = Ports()  # the compose file pins the defaults
        self.endpoints = Endpoints(self.ports)
        self.links = Links(self.endpoints.toxiproxy_url)
        self.state = None  # no host processes to sample (the runner checks for None)
        self._compose: _Compose | None = None

    # -- configuration

    def env(self) -> dict[str, str]:
        """Compose's variables: the shell's, else the env file's (Compose's precedence)."""
        values = read_env_file(self.env_file)
        values.update({k: v for k, v in os.environ.items() if k in values or k in REQUIRED_ENV})
        return values

    def check_files(self) -> None:
        if not self.compose_file.is_file():
            raise SetupError(f"Docker provider: {self.compose_file} not found.\nHint: run from "
                             "the iotbench checkout or set IOTBENCH_COMPOSE_DIR.")
        if not self.env_file.is_file():
            raise SetupError(f"Docker provider: {self.env_file} not found.\nHint: `cp "
                             f"{self.project_dir / '.env.example'} {self.env_file}` and set "
                             "every credential in it.")
        env = self.env()
        missing = [k for k in REQUIRED_ENV if not env.get(k)]
        if missing:
            raise SetupError(f"Docker provider: {', '.join(missing)} empty or unset in "
                             f"{self.env_file}.\nHint: set them (see .env.example).")

    def sizing_env(self) -> dict[str, str]:
        c = self.config
        project = {"COMPOSE_PROJECT_NAME": self.project_name} if self.project_name else {}
        return {**project, "IOTBENCH_PARTITIONS": str(c.partitions),
                "IOTBENCH_SPARK_WORKERS": str(c.workers),
                "IOTBENCH_SPARK_WORKER_CORES": str(c.worker_cores),
                "IOTBENCH_SPARK_WORKER_MEMORY": c.worker_memory}

    def compose(self) -> _Compose:
        if self._compose is None:
            services = None if self.config.dashboard else [
                s for s in SERVICES if s != "dashboard"]
            self._compose = _Compose(
                context=str(self.project_dir), compose_file_name=COMPOSE_FILE,
                env_file=str(self.env_file), profiles=self.profiles or None, build=self.build,
                wait=True, services=services, extra_env=self.sizing_env())
        return self._compose

    def mongo_uri(self, port: int, host: str = HOST) -> str:
        env = self.env()
        user = urllib.parse.quote_plus(env.get("MONGO_INITDB_ROOT_USERNAME", ""))
        password = urllib.parse.quote_plus(env.get("MONGO_INITDB_ROOT_PASSWORD", ""))
        return (f"mongodb://{user}:{password}@{host}:{port}/"
                "?directConnection=true&authSource=admin")

    @property
    def spark_master(self) -> str:
        """What the runner's driver uses: local mode on this machine (see the module doc)."""
        return f"local[{max(1, self.config.workers * self.config.worker_cores)}]"

    def urls(self) -> dict[str, str]:
        e, p = self.endpoints, self.ports
        urls = {
            "kafka (producer-kafka link)": e.producer_bootstrap,
            "kafka (spark-kafka link)": e.spark_bootstrap,
            "kafka (direct)": e.direct_bootstrap,
            "mongo (direct)": f"mongodb://{HOST}:{p.mongo}/ (credentials from .env)",
            "mongo-express": "http://127.0.0.1:8082",
            "spark master UI": e.spark_master_ui,
            "toxiproxy API": e.toxiproxy_url,
        }
        if self.config.dashboard:
            urls["dashboard"] = e.dashboard_url
        if {"influx", "grafana"} & set(self.profiles):
            urls["influxdb"] = "http://127.0.0.1:8086"
        if "grafana" in self.profiles:
            urls["grafana"] = "http://127.0.0.1:3000"
        return urls

    # -- up / down

    def wait_strategies(self) -> dict[str, WaitStrategy]:
        e, workers = self.endpoints, self.config.workers
        strategies: dict[str, WaitStrategy] = {
            "toxiproxy": HostUrl(f"{e.toxiproxy_url}/proxies",
                                 lambda b: set(LINKS) <= set(json.loads(b)),
                                 "Toxiproxy API listing the four links"),
            "spark-master": HostUrl(f"{e.spark_master_ui}/json/",
                                    lambda b: _alive_workers(b) >= workers,
                                    f"Spark master UI listing {workers} ALIVE worker(s)"),
        }
        if self.config.dashboard:
            strategies["dashboard"] = HostUrl(f"{e.dashboard_url}/healthz",
                                              what="dashboard /healthz 200")
        for strategy in strategies.values():
            strategy.with_startup_timeout(self.timeout_s).with_poll_interval(0.5)
        return strategies

    def running(self) -> bool:
        """Are the default services of this project up and healthy?"""
        try:
            containers = self.compose().get_containers()
        except (subprocess.SubprocessError, OSError, ValueError):
            return False
        healthy = {c.Service for c in containers
                   if c.State == "running" and (c.Health or "healthy") == "healthy"}
        wanted = set(SERVICES) - (set() if self.config.dashboard else {"dashboard"})
        return wanted <= healthy

    def up(self) -> None:
        """Build, start and wait (compose healthchecks, then host-side wait strategies).
        On failure: the evidence in a ServiceError, and the containers stopped again."""
        engine_check()
        self.check_files()
        if not self.running():
            for port, service in sorted(published_ports(self.compose_file,
                                                        self.profiles).items()):
                if _port_open(port):
                    raise PortBusy(service, port, "held by a process outside this compose "
                                   "project (a native stack? `iotbench stack down`)")
        compose = self.compose().waiting_for(self.wait_strategies())
        started = time.monotonic()
        self.log(f"docker compose up ({self.compose_file}, profiles: "
                 f"{', '.join(self.profiles) or 'default'}); first start builds and pulls")
        try:
            compose.start()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TimeoutError,
                RuntimeError) as exc:
            error = self._failure(exc, time.monotonic() - started)
            try:
                compose._run_command([*compose.compose_command_property, "down"])
            except (subprocess.SubprocessError, OSError) as cleanup:
                self.log(f"docker compose down after the failure failed too: {cleanup}")
            raise error from exc
        self.log(f"compose stack healthy after {time.monotonic() - started:.1f} s")
        for name, url in self.urls().items():
            self.log(f"  {name:<30} {url}")

    def _failure(self, exc: BaseException, waited: float) -> ServiceError:
        output = ""
        if isinstance(exc, subprocess.CalledProcessError):
            output = (exc.stderr or b"").decode(errors="replace") + (
                exc.stdout or b"").decode(errors="replace")
        else:
            output = str(exc)
        try:
            ps = self.compose()._run_command([*self.compose().compose_command_property, "ps",
                                              "-a"]).stdout.decode(errors="replace")
        except (subprocess.SubprocessError, OSError):
            ps = "(docker compose ps failed)"
        tail = [line for line in output.strip().splitlines() if line.strip()][-20:]
        return ServiceError("compose stack", "docker compose up --wait and the wait strategies",
                            waited, ps.strip() or "no containers", tail,
                            "`docker compose logs <service>` in "
                            f"{self.project_dir} shows why a service is unhealthy.")

    def down(self, purge: bool = False) -> list[str]:
        """Stop and remove the containers; ``purge`` also removes the named volumes."""
        compose = self.compose()
        command = [*compose.compose_command_property, "down", *(["--volumes"] if purge else [])]
        try:
            done = compose._run_command(command)
        except subprocess.CalledProcessError as exc:
            raise StackError(f"docker compose down failed: "
                             f"{(exc.stderr or b'').decode(errors='replace').strip()}") from exc
        lines = [line for line in (done.stderr + done.stdout).decode(errors="replace")
                 .splitlines() if line.strip()]
        return lines + (["removed the named volumes"] if purge else [])

    # -- process faults (the runner's stack handles)

    def _service(self, name: str) -> str:
        if name in FAULTABLE:
            return FAULTABLE[name]
        if name.startswith("spark-worker"):
            raise StackError("provider docker runs the run's Spark executors inside the driver "
                             "(local mode on this machine), so a spark-worker fault would not "
                             "touch them; use provider: native for Spark worker faults.")
        raise StackError(f"no faultable service {name!r} on provider docker "
                         f"(known: {', '.join(FAULTABLE)})")

    def _compose_cmd(self, *args: str) -> str:
        compose = self.compose()
        try:
            done = compose._run_command([*compose.compose_command_property, *args])
        except subprocess.CalledProcessError as exc:
            raise StackError(f"docker compose {' '.join(args)} failed: "
                             f"{(exc.stderr or b'').decode(errors='replace').strip()}") from exc
        return (done.stderr + done.stdout).decode(errors="replace").strip()

    def kill_service(self, name: str) -> None:
        self._compose_cmd("kill", "-s", "SIGKILL", self._service(name))

    def pause_service(self, name: str, paused: bool) -> None:
        self._compose_cmd("pause" if paused else "unpause", self._service(name))

    def stop_service(self, name: str) -> str:
        self._compose_cmd("stop", self._service(name))
        return "stopped"

    def start_service(self, name: str) -> float:
        """Start a stopped or killed service again; returns seconds until it is healthy."""
        service = self._service(name)
        started = time.monotonic()
        self._compose_cmd("start", service)
        while time.monotonic() - started < self.timeout_s:
            try:
                container = self.compose().get_container(service, include_all=True)
            except Exception:  # noqa: BLE001 - not listed yet
                container = None
            if container and container.State == "running" and container.Health == "healthy":
                return round(time.monotonic() - started, 2)
            time.sleep(0.5)
        raise StackError(f"{service} was started but not healthy within {self.timeout_s:.0f} s"
                         f"\nHint: `docker compose logs {service}`.")

    # -- a run's stack

    @classmethod
    def start_or_reuse(cls, config: StackConfig, log: Log) -> tuple[DockerStack, bool]:
        """The compose stack, reused when it is already running, else started here (then
        the second value is True: whoever asked stops it at the end)."""
        stack = cls(config, log=log)
        engine_check()
        stack.check_files()
        _driver_preflight()
        if stack.running():
            log(f"reusing the running docker compose stack ({stack.project_dir})")
            return stack, False
        stack.up()
        return stack, True


def _driver_preflight() -> None:
    """The driver runs on this machine: it needs the Kafka connector jars of `iotbench setup`."""
    from system.config import cache_dir
    from system.stack.setup import spark_kafka_jars

    marker = spark_kafka_jars(cache_dir()) / ".complete"
    if not marker.exists():
        raise SetupError("provider docker runs the Spark driver on this machine and needs the "
                         f"Spark Kafka connector jars ({marker.parent}).\nHint: run "
                         "`iotbench setup`.")


def _port_open(port: int) -> bool:
    from system.stack.wait import port_open

    return port_open(port)
