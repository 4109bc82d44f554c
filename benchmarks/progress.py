"""The one-line progress display of a run: phase, elapsed/remaining, rate, lag, faults.

It knows only what the run's events tell it (samples of the producer and of lag, faults
applied and healed), so it never reaches into the runner.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.events import RunEvents


class ProgressLine:
    """Waits for a phase to end while printing the run's state every ``every_s`` seconds
    (rewriting one line on a terminal, one line per update otherwise)."""

    def __init__(self, events: RunEvents, duration_s: float, *, enabled: bool = True) -> None:
        self.duration_s = duration_s
        self.t0: float | None = None
        self.tty = sys.stderr.isatty()
        self.enabled = enabled
        self.every_s = 1.0 if self.tty else 5.0
        self._last = 0.0
        self._produced: dict[str, Any] = {}
        self._lag: int | None = None
        self._faults: dict[Any, str] = {}
        self._lock = threading.Lock()
        events.sample_taken.add_listener(self._sample)
        events.fault_applied.add_listener(self._applied)
        events.fault_healed.add_listener(self._healed)

    def _sample(self, kind: str, value: Any) -> None:
        if kind == "producer":
            self._produced = dict(value or {})
        elif kind == "lag":
            self._lag = value

    def _applied(self, entry: dict[str, Any]) -> None:
        if entry.get("applied_at"):
            with self._lock:
                self._faults[entry["id"]] = entry["label"]

    def _healed(self, entry: dict[str, Any]) -> None:
        if entry.get("healed_at"):
            with self._lock:
                self._faults.pop(entry["id"], None)

    def until(self, deadline: float, phase: str) -> None:
        while (left := deadline - time.time()) > 0:
            self._show(phase)
            time.sleep(min(0.5, left))
        self._show(phase, force=True)

    def until_done(self, done: Callable[[], bool], phase: str, timeout_s: float) -> bool:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if done():
                self._show(phase, force=True)
                return True
            self._show(phase)
            time.sleep(0.25)
        return done()

    def _show(self, phase: str, force: bool = False) -> None:
        now = time.time()
        if not self.enabled or (not force and now - self._last < self.every_s):
            return
        self._last = now
        elapsed = now - self.t0 if self.t0 else 0.0
        produced, lag = self._produced, self._lag
        with self._lock:
            faults = list(self._faults.values())
        line = (f"[{phase:<6}] {elapsed:5.0f}/{self.duration_s:.0f} s"
                f"  sent {produced.get('sent', 0):>8,}  acked {produced.get('acked', 0):>8,}"
                f"  rate {produced.get('rate_eps', 0):>7,.0f}/s"
                f"  lag {'-' if lag is None else f'{lag:,}':>7}"
                f"  faults: {', '.join(faults) or 'none'}")
        if self.tty:
            print(f"\r{line[:150]:<150}", end="", file=sys.stderr, flush=True)
            if force:
                print(file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)
