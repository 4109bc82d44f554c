"""A service as a real OS process: started in its own process group, logged to a file,
stopped gracefully then forcibly, and recognisable again from a state file."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass
class ProcessRecord:
    """What the state file keeps of one process, enough to find and stop it later."""

    name: str
    pid: int
    create_time: float
    """psutil's create time: guards against a recycled pid belonging to someone else."""
    log: str
    cmd: list[str]
    stop_signal: int | None = None
    """None: SIGTERM the whole group. A signal number: send it to the leader only, which
    stops its own children (PostgreSQL's postmaster: SIGINT = fast shutdown)."""

    def to_dict(self) -> dict:
        return asdict(self)

    def process(self) -> psutil.Process | None:
        """The live process if it is still the one we started, else None."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.NoSuchProcess:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def start(name: str, cmd: list[str], log: Path, *, env: dict[str, str] | None = None,
          cwd: Path | None = None, user: str | None = None, stop_signal: int | None = None,
          ) -> tuple[subprocess.Popen, ProcessRecord]:
    """Start ``cmd`` in a new session (its own process group) with output appended to ``log``;
    as ``user`` (and that user's group only) when given: we must be root then."""
    as_user = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []} if user \
        else {}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        out.write(f"\n=== {stamp} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        popen = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True, **as_user,
        )
    create_time = psutil.Process(popen.pid).create_time()
    return popen, ProcessRecord(name, popen.pid, create_time, str(log), cmd, stop_signal)


def stop(record: ProcessRecord, timeout_s: float = 15.0) -> str:
    """SIGTERM the process group, wait, then SIGKILL what is left. Returns how it ended."""
    proc = record.process()
    if proc is None:
        return "not running"
    group = _group_members(proc)
    if record.stop_signal is None:
        _signal_group(record.pid, signal.SIGTERM)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, record.stop_signal)
    _, alive = psutil.wait_procs(group, timeout=timeout_s)
    if not alive:
        return "stopped"
    _signal_group(record.pid, signal.SIGKILL)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    return f"killed after {timeout_s:.0f} s"


def kill(record: ProcessRecord) -> None:
    """kill -9 of the process and its children (a chaos fault, not a shutdown)."""
    proc = record.process()
    if proc is None:
        return
    group = _group_members(proc)
    _signal_group(record.pid, signal.SIGKILL)
    psutil.wait_procs(group, timeout=5)


def pause(record: ProcessRecord, paused: bool) -> None:
    """SIGSTOP / SIGCONT the whole process group."""
    _signal_group(record.pid, signal.SIGSTOP if paused else signal.SIGCONT)


def _group_members(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [proc]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # we started it with start_new_session, so pgid == pid
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def log_tail(log: Path | str, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a log file (empty when there is none yet)."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def describe(popen: subprocess.Popen | None, record: ProcessRecord) -> str:
    """One line on the process state, for error messages."""
    if popen is not None and popen.poll() is not None:
        return f"pid {record.pid} exited with code {popen.returncode}"
    if record.alive():
        return f"pid {record.pid} running"
    return f"pid {record.pid} gone"
