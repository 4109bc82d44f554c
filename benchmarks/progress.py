"""The one-line progress display of a run: phase, elapsed/remaining, rate, lag, faults."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


class ProgressLine:
    """Waits for a phase to end while printing the run's state every ``every_s`` seconds
    (rewriting one line on a terminal, one line per update otherwise)."""

    def __init__(self, run: Any, t0: float, *, enabled: bool = True) -> None:
        self.run = run
        self.t0 = t0
        self.tty = sys.stderr.isatty()
        self.enabled = enabled
        self.every_s = 1.0 if self.tty else 5.0
        self._last = 0.0

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
            time.sleep(0.5)
        return done()

    def _show(self, phase: str, force: bool = False) -> None:
        now = time.time()
        if not self.enabled or (not force and now - self._last < self.every_s):
            return
        self._last = now
        s = self.run.scenario
        elapsed = now - self.t0
        produced = self.run.producer.progress() if self.run.producer else {}
        lag = self.run.lag.latest_total if self.run.lag else None
        faults = self.run.injector.active_labels() if self.run.injector else []
        line = (f"[{phase:<6}] {elapsed:5.0f}/{s.duration_s:.0f} s"
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
