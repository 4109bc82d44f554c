"""`iotbench stack up|status|down` as a user runs it: a second stack on shifted ports, so it
can run beside the session's stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from system.stack.state import StackState

OFFSET = "1000"


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "IOTBENCH_STATE": str(state), "IOTBENCH_PORT_OFFSET": OFFSET}


def _iotbench(state: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], env=_env(state),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _our_pids(state: Path) -> list[int]:
    saved = StackState.load(state / "stack")
    return [p.pid for p in saved.processes] if saved else []


def test_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    up = _iotbench(tmp_path, "stack", "up", "--partitions", "3", "--no-dashboard")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "cold start" in up.stdout
    saved = StackState.load(tmp_path / "stack")
    assert saved is not None
    pids = [p.pid for p in saved.processes]
    assert {p.name for p in saved.processes} == {"toxiproxy", "mongo", "kafka", "spark-master",
                                                 "spark-worker-1"}
    assert all(psutil.pid_exists(pid) for pid in pids)
    assert set(saved.healthy_after_s) == {p.name for p in saved.processes}

    status = _iotbench(tmp_path, "stack", "status")
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("healthy") == 5
    assert "spark master UI" in status.stdout and "http://127.0.0.1:9081" in status.stdout

    down = _iotbench(tmp_path, "stack", "down", "--purge")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if _alive(pid)]
    assert StackState.load(tmp_path / "stack") is None
    assert not (tmp_path / "stack" / "kafka").exists()


def test_busy_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 27017 + int(OFFSET)))
    blocker.listen()
    try:
        before = {p.pid for p in psutil.process_iter()}
        up = _iotbench(tmp_path, "stack", "up", "--no-dashboard", timeout=60)
    finally:
        blocker.close()
    assert up.returncode == 2
    assert "mongo: port 127.0.0.1:28017 is already in use" in up.stderr
    assert "Hint:" in up.stderr
    assert not _our_pids(tmp_path)
    started = {p.pid for p in psutil.process_iter()} - before
    assert not [p for p in started if _is_stack_process(p)]


def test_ctrl_c_during_up_stops_what_was_started(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", "stack", "up",
                             "--no-dashboard"], env=_env(tmp_path), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not _our_pids(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = _our_pids(tmp_path)
    assert pids, "stack up never recorded a process"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    pids = _our_pids(tmp_path) or pids
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_stack_process(pid: int) -> bool:
    try:
        cmd = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return any(s in cmd for s in ("kafka.Kafka", "toxiproxy", "ferretdb", "deploy.master"))

