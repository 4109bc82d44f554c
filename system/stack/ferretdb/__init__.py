"""Build the MongoDB-wire server of the native stack: FerretDB v1 embedded in main.go.

`build(cache)` compiles this folder's Go program into `cache/bin/iotbench-ferretdb`. Go modules
and build outputs stay under `cache`, and a stamp next to the binary records the digest of the
sources, so a second call does nothing and needs no network.

The binary takes `-listen-addr HOST:PORT`, `-handler sqlite|postgresql` (default sqlite),
`-sqlite-dir DIR` (created if absent) for SQLite, `-postgresql-url postgres://user@host:port/db`
(no password in it) and `-postgresql-password-file FILE` for PostgreSQL, and
`-log-level debug|info|warn|error`; it logs to stderr (a PostgreSQL URL only redacted), and
exits 0 on SIGTERM/SIGINT.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from system.stack.build_tools import go_env, run_streaming
from system.stack.errors import MissingPrerequisite, SetupError

__all__ = ["FerretDBBuildError", "binary_path", "build", "source_digest"]

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCES = ("main.go", "go.mod", "go.sum")
BINARY_NAME = "iotbench-ferretdb"
MIN_GO = (1, 24)  # FerretDB v1.24's go.mod asks for go 1.24
GO_MISSING = "Go is required: install it with `apt-get install golang` or from your OS packages"


class FerretDBBuildError(SetupError):
    """The FerretDB server binary could not be built."""


def binary_path(cache: Path) -> Path:
    """Where `build` puts the server binary."""
    return Path(cache) / "bin" / BINARY_NAME


def _stamp_path(cache: Path) -> Path:
    return binary_path(cache).with_name(BINARY_NAME + ".sha256")


def source_digest() -> str:
    """sha256 over main.go, go.mod and go.sum (names and contents)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0")
        digest.update((PACKAGE_DIR / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _check_go_version(go: str, env: dict[str, str]) -> None:
    cmd = [go, "env", "GOVERSION"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    found = re.match(r"go(\d+)\.(\d+)", proc.stdout.strip())
    if proc.returncode != 0 or not found:
        output = (proc.stderr or proc.stdout).strip()
        raise FerretDBBuildError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {output}")
    if (int(found[1]), int(found[2])) < MIN_GO:
        raise FerretDBBuildError(
            f"Go {MIN_GO[0]}.{MIN_GO[1]} or newer is required to build FerretDB, found "
            f"{proc.stdout.strip()} at {go}; install a newer Go from your OS packages"
        )


def build(cache: Path, log: Callable[[str], None] = print) -> Path:
    """Build the server binary into `cache/bin` unless an up-to-date one is already there."""
    cache = Path(cache).resolve()
    binary, stamp = binary_path(cache), _stamp_path(cache)
    digest = source_digest()
    if binary.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return binary

    go = shutil.which("go")
    if go is None:
        raise MissingPrerequisite(GO_MISSING)
    env = {**os.environ, **go_env(cache)}
    _check_go_version(go, env)

    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(f"{BINARY_NAME}.partial-{os.getpid()}")
    cmd = [go, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", str(partial), "."]
    log(f"building {BINARY_NAME} (FerretDB, first build downloads modules and takes minutes)")
    try:
        try:
            run_streaming(cmd, log, cwd=PACKAGE_DIR, env=env)
        except SetupError as exc:
            raise FerretDBBuildError(str(exc)) from exc
        os.replace(partial, binary)
    finally:
        partial.unlink(missing_ok=True)
    stamp.write_text(digest + "\n")
    log(f"built {binary}")
    return binary
