"""Bad input at the door: ``iotbench run``, ``sweep`` and ``capacity`` on a missing or invalid
scenario print what ``validate`` prints, exit 2 and start nothing (run as a user would: the
real CLI in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_scenario import FIVE_MISTAKES

ROOT = Path(__file__).resolve().parents[2]


def iotbench(args: list[str], cwd: Path) -> tuple[int, str, str, set[int]]:
    """Exit code, stdout, stderr, and the pid of every child process seen while it ran."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IOTBENCH_STATE": str(cwd / "state"),
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", *args], cwd=cwd,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    watched = psutil.Process(process.pid)
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            children.update(child.pid for child in watched.children(recursive=True))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err, children


@pytest.fixture
def five_mistakes(tmp_path: Path) -> Path:
    path = tmp_path / "five-mistakes.yaml"
    path.write_text(FIVE_MISTAKES, encoding="utf-8")
    return path


def assert_refused_like_validate(tmp_path: Path, command: list[str], scenario: Path,
                                 problems: int) -> None:
    code, out, err, children = iotbench([*command, str(scenario)], tmp_path)
    _, validate_out, _, _ = iotbench(["validate", str(scenario)], tmp_path)

    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert err == validate_out
    noun = "problem" if problems == 1 else "problems"
    assert err.splitlines()[0] == f"INVALID {scenario}: {problems} {noun}"
    assert sum(line.startswith("  ") for line in err.splitlines()) == problems
    assert children == set(), "a process was started for a scenario that was refused"
    assert not (tmp_path / "state").exists(), "a stack state directory was created"
    assert not any((tmp_path / folder).exists() for folder in ("runs", "sweeps"))


def test_run_on_a_file_with_five_mistakes_prints_them_and_starts_nothing(
        tmp_path: Path, five_mistakes: Path) -> None:
    assert_refused_like_validate(tmp_path, ["run"], five_mistakes, 5)


def test_run_on_a_missing_file_says_it_cannot_read_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-scenario.yaml"
    assert_refused_like_validate(tmp_path, ["run"], missing, 1)

    _, _, err, _ = iotbench(["run", str(missing)], tmp_path)
    assert "cannot read the file" in err and "No such file or directory" in err


@pytest.mark.parametrize("command", [["sweep"], ["capacity"], ["capacity", "--start", "100"]])
def test_sweep_and_capacity_refuse_bad_files_the_same_way(
        tmp_path: Path, five_mistakes: Path, command: list[str]) -> None:
    assert_refused_like_validate(tmp_path, command, five_mistakes, 5)
    assert_refused_like_validate(tmp_path, command, tmp_path / "gone.yaml", 1)
