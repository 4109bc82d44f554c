"""How setup steps run their tools: a command whose output streams to the log (its tail in
the error when it fails), and Go with its caches kept in our cache folder."""

from __future__ import annotations

import os
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path

from system.stack.errors import SetupError

Log = Callable[[str], None]


def run_streaming(cmd: list[str], log: Log, *, cwd: Path | None = None,
                  env: dict[str, str] | None = None, show: Callable[[str], bool] = lambda _: True,
                  ) -> None:
    """Run ``cmd``, passing the lines ``show`` accepts to ``log``; raise with the output's tail."""
    tail: deque[str] = deque(maxlen=25)
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail.append(line)
        if show(line):
            log(f"    {line}")
    if proc.wait() != 0:
        lines = "\n".join(f"    {t}" for t in tail)
        raise SetupError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n{lines}")


def go_env(cache: Path) -> dict[str, str]:
    """Keep Go's module and build caches in our cache folder too."""
    return {
        "GOPATH": str(cache / "go"),
        "GOMODCACHE": str(cache / "go" / "pkg" / "mod"),
        "GOCACHE": str(cache / "go-build"),
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",  # never fetch another toolchain; a too-old Go is a clear error
    }
