"""Mongo-wire servers for tests, started the way the native stack starts them: our FerretDB
build on SQLite or on a private PostgreSQL cluster, or a real mongod."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from system.config import cache_dir
from system.stack.ferretdb import build
from tests.system.stack.pg_cluster import running_cluster

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], log: Path, uri: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _pings(uri):
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"server did not start (exit {proc.poll()}):\n{log.read_text(errors='replace')}")


def _pings(uri: str) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        return bool(client.admin.command("ping").get("ok"))
    except Exception:  # noqa: BLE001 - not up yet
        return False
    finally:
        client.close()


def _command(backend: str, port: int, home: Path, pg_stack: Iterator,
             ferretdb_pool_default: bool) -> list[str]:
    if backend == "mongod":
        (home / "db").mkdir()
        return [str(shutil.which("mongod")), "--bind_ip", "127.0.0.1", "--port", str(port),
                "--dbpath", str(home / "db"), "--quiet"]
    binary = str(build(cache_dir()))
    listen = ["-listen-addr", f"127.0.0.1:{port}", "-log-level", "warn"]
    if backend == "sqlite":
        return [binary, *listen, "-handler", "sqlite", "-sqlite-dir", str(home / "data")]
    cluster = next(pg_stack)
    url = cluster.url().split("?")[0] if ferretdb_pool_default else cluster.url()
    return [binary, *listen, "-handler", "postgresql", "-postgresql-url", url,
            "-postgresql-password-file", str(cluster.password_file)]


@contextlib.contextmanager
def serve(backend: str, *, ferretdb_pool_default: bool = False) -> Iterator[str]:
    # Not pytest's tmp_path: that is mode 0700 under root, and PostgreSQL runs as `postgres`.
    home = Path(tempfile.mkdtemp(prefix=f"iotbench-test-{backend}-"))
    home.chmod(0o755)
    pg_stack = running_cluster(home, free_port())
    port = free_port()
    log = home / "server.log"
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(_command(backend, port, home, pg_stack,
                                             ferretdb_pool_default),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        try:
            _wait_listening(proc, log, uri)
            yield uri
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    pytest.fail(f"{backend} server ignored SIGTERM for {STOP_TIMEOUT_S}s")
        assert proc.returncode == 0, log.read_text(errors="replace")
        if backend != "mongod":
            assert "iotbench-ferretdb: stopped" in log.read_text(errors="replace")
    finally:
        pg_stack.close()  # stops the cluster when one was started
        shutil.rmtree(home, ignore_errors=True)

