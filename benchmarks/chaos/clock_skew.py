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
import os
import subprocess
import sys
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

    def check_sleep(self) -> None:
        """Refuse, saying why, when this libfaketime breaks monotonic sleeps.

        libfaketime 0.9.10 (Debian bookworm's) turns ``clock_nanosleep(CLOCK_MONOTONIC,
        TIMER_ABSTIME)`` into EINVAL when it fakes the wall clock only
        (wolfcw/libfaketime#426). Our producer loop avoids that call, but its Kafka clients
        do not: measured here, kafka-python's sender thread fails with "[Errno 22] Invalid
        argument" and never fetches metadata, and confluent-kafka delivered nothing in 10 s.
        So the run is refused before it starts rather than measuring a broken producer.
        """
        probe = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.01)"],
                               env={**os.environ, **self.env()}, capture_output=True,
                               text=True, timeout=30)
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(
                f"clock_skew refused: under {self.library} a monotonic sleep fails ({last}); "
                "this libfaketime breaks clock_nanosleep when only the wall clock is faked "
                "(wolfcw/libfaketime#426, Debian bookworm's 0.9.10), so the producer's Kafka "
                "client cannot run under it. Install a libfaketime with that fix.")

    def step(self, offset_s: float) -> None:
        self._write(f"{offset_s:+g}")

    def reset(self) -> None:
        self._write("+0")

    def _write(self, spec: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(spec + "\n")
        tmp.replace(self.path)  # libfaketime never reads a half-written offset
