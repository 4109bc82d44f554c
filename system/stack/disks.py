"""Size-limited filesystems for a broker's log dir, for the ``disk_full`` fault.

The stack mounts a tmpfs of a few hundred MB on the broker's data dir before the broker
formats it; the fault fills that filesystem with one file (the broker's next write fails
with "No space left on device"), the heal deletes the file; ``stack down`` unmounts it.
Mounting needs root: :func:`why_not` says what stops it.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

from system.stack.errors import StackError

FILL_NAME = "iotbench-disk-full.fill"
"""The file that fills a small disk (never a Kafka file name)."""


def why_not() -> str | None:
    """Why a small disk cannot be mounted here, or None when it can."""
    if os.geteuid() != 0:
        return (f"mounting a size-limited tmpfs for a broker's log dir needs root (running as "
                f"uid {os.geteuid()})")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not on PATH (Debian package util-linux / mount)"
    return None


def mount_small(path: Path, size_mb: int) -> None:
    """A tmpfs of ``size_mb`` on ``path`` (created if missing); kept if already mounted."""
    reason = why_not()
    if reason:
        raise StackError(f"cannot put {path} on a small disk: {reason}")
    path.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(path):
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755",
                           "iotbench-small-disk", str(path)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise StackError(f"mount of a {size_mb} MB tmpfs on {path} failed: "
                         f"{done.stderr.strip() or done.stdout.strip()}")


def mounted_under(root: Path) -> list[Path]:
    """Our small disks mounted below ``root``, deepest first."""
    root = root.resolve()
    found = []
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            source, target, fstype, *_ = line.split()
            path = Path(target.replace("\\040", " "))
            if source == "iotbench-small-disk" and fstype == "tmpfs" and root in path.parents:
                found.append(path)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_under(root: Path) -> list[str]:
    """Unmount every small disk below ``root`` (its data goes with it); one line each."""
    lines = []
    for path in mounted_under(root):
        done = subprocess.run(["umount", str(path)], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:  # still held open by a process that outlived the stack
            done = subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True,
                                  timeout=30)
        lines.append(f"small disk {path}: "
                     + ("unmounted" if done.returncode == 0 else done.stderr.strip()))
    return lines


def usage(path: Path) -> dict[str, int]:
    stats = os.statvfs(path)
    return {"size_bytes": stats.f_blocks * stats.f_frsize,
            "free_bytes": stats.f_bavail * stats.f_frsize}


def fill(path: Path) -> int:
    """Fill the filesystem of ``path`` until no byte is free; returns the bytes written."""
    if not os.path.ismount(path):
        raise StackError(f"{path} is not on a small disk of its own: the stack was started "
                         "without it (disk_full needs the stack to mount it at start)")
    written = 0
    fd = os.open(path / FILL_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        block = b"\0" * (1 << 20)
        while True:
            try:
                n = os.write(fd, block)  # a short write near the end, then ENOSPC
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
            written += n
    finally:
        os.close(fd)
    return written


def unfill(path: Path) -> None:
    (path / FILL_NAME).unlink(missing_ok=True)
