"""The ``clock_skew`` fault's mechanism: the producer runs under libfaketime, whose offset the
fault steps and heals by rewriting one file.

libfaketime (Debian package ``faketime``) is preloaded into the producer only when the
scenario has a ``clock_skew`` fault. ``FAKETIME_TIMESTAMP_FILE`` names the file holding the
offset (``+0`` outside the fault's window), re-read at most once a second
(``FAKETIME_CACHE_DURATION``); ``FAKETIME_DONT_FAKE_MONOTONIC`` leaves the monotonic clock
alone, so the producer's pace does not jump (see ``system.producer.schedule.AnchoredClock``).
"""

from __future__ import annotations

import glob
from pathlib import Path

INSTALL_HINT = "clock_skew needs libfaketime: `apt-get install faketime` (Debian/Ubuntu)"
LIBRARY_GLOBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")


def library() -> Path | None:
    for pattern in LIBRARY_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


class ProducerClock:
    """The offset file of one run's producer (``<run>/producer.faketime``)."""

    def __init__(self, run_dir: Path) -> None:
        lib = library()
        if lib is None:
            raise RuntimeError(INSTALL_HINT)
        self.library = lib
        self.path = run_dir / "producer.faketime"
        self.reset()

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(self.library), "FAKETIME_TIMESTAMP_FILE": str(self.path),
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_CACHE_DURATION": "1"}

    def step(self, offset_s: float) -> None:
        self._write(f"{offset_s:+g}")

    def reset(self) -> None:
        self._write("+0")

    def _write(self, spec: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(spec + "\n")
        tmp.replace(self.path)  # libfaketime never reads a half-written offset
