"""Helpers for the docker-stack tests: the compose file as data, a real InfluxDB 1.x server
(Debian's ``influxdb`` package) on free 127.0.0.1 ports, and the dashboard tests' FerretDB
and event generator (loaded by path, so the contract lives in one place)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
"""A Compose variable reference; ``$${...}`` is an escaped literal for the container shell."""


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def strings(node: Any) -> list[str]:
    """Every string value (and key) of a parsed YAML document, comments excluded."""
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [t for item in node for t in strings(item)]
    return [node] if isinstance(node, str) else []


def variables(pattern: re.Pattern[str] = VAR) -> set[str]:
    """Compose variables the file really uses (not its comments, not $$-escaped ones)."""
    return {name for text in strings(compose()) for name in pattern.findall(text)}


def env_map(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each short-syntax port entry."""
    out = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) == 3, f"port {entry!r} must name its host IP"
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def dashboard_fixtures() -> ModuleType:
    """tests/system/dashboard/conftest.py as a plain module (FerretServer, make_events)."""
    path = ROOT / "tests" / "system" / "dashboard" / "conftest.py"
    spec = importlib.util.spec_from_file_location("stack_docker_dashboard_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered first, as importlib's recipe does: its dataclasses look their module up.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class InfluxServer:
    """``influxd`` 1.x with data, meta and WAL in ``home``, HTTP auth on, no reporting."""

    ADMIN = ("iotbench-admin", "admin-pass-for-tests")

    def __init__(self, binary: str, home: Path) -> None:
        self.binary, self.home = binary, home
        self.port, self.rpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "influxd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        h = self.home
        # Debian's 1.6 build reads `reporting-enabled`, upstream `reporting-disabled`.
        return f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{h / 'meta'}"
  logging-enabled = false
[data]
  dir = "{h / 'data'}"
  wal-dir = "{h / 'wal'}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = true
  log-enabled = false
[ifql]
  enabled = false
"""

    def start(self, timeout: float = 30.0) -> None:
        conf = self.home / "influxdb.conf"
        conf.write_text(self.config())
        log = self.log.open("ab")
        self.process = subprocess.Popen([self.binary, "-config", str(conf)], stdout=log,
                                        stderr=subprocess.STDOUT, cwd=self.home)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:
                    if resp.status == 204:
                        self.query(f"CREATE USER \"{self.ADMIN[0]}\" WITH PASSWORD "
                                   f"'{self.ADMIN[1]}' WITH ALL PRIVILEGES", auth=None)
                        return
            except OSError:
                time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping on {self.url}:\n{tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def query(self, q: str, db: str | None = None,
              auth: tuple[str, str] | None = ADMIN) -> list[dict[str, Any]]:
        params = {"q": q, **({"db": db} if db else {})}
        request = urllib.request.Request(f"{self.url}/query",
                                         data=urllib.parse.urlencode(params).encode(),
                                         method="POST")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as resp:
            result = json.loads(resp.read())["results"][0]
        assert "error" not in result, result["error"]
        return result.get("series", [])

    def database_with_writer(self, name: str) -> tuple[str, str]:
        """A fresh database and a user with ALL on it (not admin), as the compose file's
        INFLUXDB_WRITE_USER; returns (user, password)."""
        user, password = f"writer_{name}", f"pw-{name}"
        self.query(f'CREATE DATABASE "{name}"')
        self.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
        self.query(f'GRANT ALL ON "{name}" TO "{user}"')
        return user, password


def influxd_binary() -> str | None:
    return shutil.which("influxd")
