"""`iotbench stack up --mongo ferretdb-postgres` as a user runs it: the stack starts its own
PostgreSQL cluster, FerretDB stores into it, the password stays secret, and `stack down
--purge` leaves no process and no data."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from pymongo import MongoClient

from system.config import Ports
from system.stack import postgres
from system.stack.setup import find_postgres
from system.stack.state import StackState

pytestmark = pytest.mark.skipif(postgres.bindir() is None, reason=postgres.INSTALL_HINT)

# Beside the session's stack (and the lifecycle test's +1000): no port of one offset is a
# port of the other.
OFFSET = str(int(os.environ.get("IOTBENCH_PORT_OFFSET", "0")) + 500)


@pytest.fixture()
def state() -> Iterator[Path]:
    """A state folder PostgreSQL's own user can reach (pytest's tmp_path is 0700 under root)."""
    folder = Path(tempfile.mkdtemp(prefix="iotbench-pgstack-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _iotbench(state: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 240) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "IOTBENCH_STATE": str(state), "IOTBENCH_PORT_OFFSET": OFFSET,
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_ferretdb_postgres_stack_up_and_down(state: Path) -> None:
    home = state / "stack"
    up = _iotbench(state, "stack", "up", "--mongo", "ferretdb-postgres", "--no-dashboard")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        saved = StackState.load(home)
        assert saved is not None and saved.config["mongo"] == "ferretdb-postgres"
        names = {p.name for p in saved.processes}
        assert {"postgres", "mongo"} <= names
        postmaster = next(p for p in saved.processes if p.name == "postgres")
        ours = _process_tree(saved)
        password_file = home / "secrets" / "postgres-password"
        password = password_file.read_text().strip()
        assert len(password) >= 24
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

        if os.geteuid() == 0:  # PostgreSQL refuses root: it runs as its own user
            assert psutil.Process(postmaster.pid).username() == postgres.SERVICE_USER
            assert (home / "postgres").stat().st_uid == psutil.Process(postmaster.pid).uids().real

        port = Ports.from_env(int(OFFSET))
        client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{port.mongo}/"
                                          "?directConnection=true")
        try:
            client.pgcheck.readings.insert_one({"_id": "r1", "value": 21.5})
            assert client.pgcheck.readings.find_one({"_id": "r1"}) == {"_id": "r1",
                                                                       "value": 21.5}
        finally:
            client.close()
        # FerretDB keeps each Mongo database as a schema: the write landed in our cluster.
        schemas = _psql(port.postgres, password, "SELECT schema_name FROM "
                        "information_schema.schemata")
        assert "pgcheck" in schemas.split()
        # Every table FerretDB creates gets a GIN index its `_id` equality pushdown can use
        # (postgres_setup.sql); without it each lookup by `_id` scans the whole table.
        indexes = _psql(port.postgres, password, "SELECT indexdef FROM pg_indexes WHERE "
                        "schemaname = 'pgcheck' AND tablename LIKE 'readings%'")
        assert any("USING gin" in line and "'_id'" in line for line in indexes.splitlines()), \
            indexes

        status = _iotbench(state, "stack", "status")
        assert status.returncode == 0, status.stdout
        assert f"postgres={port.postgres}" in status.stdout

        # The password is on no command line, in no output, log or state file.
        for proc in psutil.process_iter(["cmdline"]):
            assert password not in " ".join(proc.info["cmdline"] or []), proc
        assert password not in up.stdout + up.stderr + status.stdout
        assert password not in (home / "state.json").read_text()
        for log in (home / "logs").glob("*.log"):
            assert password not in log.read_text(errors="replace"), log
    finally:
        down = _iotbench(state, "stack", "down", "--purge")
    assert down.returncode == 0, down.stdout + down.stderr
    pg_line = next(line for line in down.stdout.splitlines() if line.startswith("postgres "))
    assert pg_line.endswith(" stopped"), down.stdout  # fast shutdown, not a kill
    assert not [p for p in ours if _alive(p)]
    assert not _processes_mentioning(state)
    assert not (home / "postgres").exists() and not (home / "secrets").exists()


def test_busy_postgres_port_is_named_and_nothing_starts(state: Path) -> None:
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = Ports.from_env(int(OFFSET)).postgres
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        up = _iotbench(state, "stack", "up", "--mongo", "ferretdb-postgres", "--no-dashboard",
                       timeout=60)
    finally:
        blocker.close()
    assert up.returncode == 2, up.stdout + up.stderr
    assert f"postgres: port 127.0.0.1:{port} is already in use" in up.stderr
    assert StackState.load(state / "stack") is None
    assert not _processes_mentioning(state)


def test_missing_postgresql_is_a_clear_error(state: Path) -> None:
    empty = state / "no-postgres-here"
    empty.mkdir()
    env = {"IOTBENCH_POSTGRES_BINDIR": str(empty)}
    before = {p.pid for p in psutil.process_iter()}
    up = _iotbench(state, "stack", "up", "--mongo", "ferretdb-postgres", "--no-dashboard",
                   env=env, timeout=60)
    assert up.returncode == 2, up.stdout + up.stderr
    assert "stack.mongo: ferretdb-postgres needs" in up.stderr
    assert "apt-get install postgresql" in up.stderr
    assert StackState.load(state / "stack") is None
    started = {p.pid for p in psutil.process_iter()} - before
    assert not [pid for pid in started if _alive(pid) and _mentions(pid, state)]

    lines: list[str] = []
    os.environ["IOTBENCH_POSTGRES_BINDIR"] = str(empty)
    try:
        assert find_postgres(state, lines.append) is None  # `iotbench setup` goes on
    finally:
        del os.environ["IOTBENCH_POSTGRES_BINDIR"]
    assert any("apt-get install postgresql" in line for line in lines)


def _process_tree(saved: StackState) -> list[int]:
    """Every pid of the stack now, the postmaster's backends and helpers included."""
    pids = []
    for record in saved.processes:
        proc = record.process()
        assert proc is not None, f"{record.name} is not running"
        pids += [proc.pid, *(c.pid for c in proc.children(recursive=True))]
    return pids


def _psql(port: int, password: str, query: str) -> str:
    psql = postgres.require_bindir() / "psql"
    out = subprocess.run([str(psql), "-h", "127.0.0.1", "-p", str(port), "-U",
                          postgres.SUPERUSER, "-d", postgres.DATABASE, "-Atc", query],
                         env={**os.environ, "PGPASSWORD": password}, capture_output=True,
                         text=True, timeout=30, check=True)
    return out.stdout


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _mentions(pid: int, folder: Path) -> bool:
    try:
        return str(folder) in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def _processes_mentioning(folder: Path) -> list[int]:
    return [p.pid for p in psutil.process_iter() if _alive(p.pid) and _mentions(p.pid, folder)]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another user")
def test_state_the_postgres_user_cannot_reach_is_refused_before_anything_starts(
        state: Path) -> None:
    private = state / "private"
    private.mkdir(mode=0o700)
    up = _iotbench(private, "stack", "up", "--mongo", "ferretdb-postgres", "--no-dashboard",
                   timeout=60)
    assert up.returncode == 2, up.stdout + up.stderr
    assert f"cannot reach {private}/stack/postgres: {private} is mode drwx------" in up.stderr
    assert "Hint:" in up.stderr
    assert not (private / "stack").exists()
    assert not _processes_mentioning(state)
