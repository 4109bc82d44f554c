"""A bounded-staleness cache: an answer is reused for at most ``ttl`` seconds.

Under load, many dashboards ask for the same statistics at once; one request recomputes and the
others wait for it (one lock per key), so Mongo sees at most one such query per key and period.
Errors are never cached: the next request tries Mongo again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class StalenessCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry[0]:
            return True, entry[1]
        return False, None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl <= 0:
            return compute()
        hit, value = self._fresh(key)
        if hit:
            return value
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit, value = self._fresh(key)  # another thread may have just computed it
            if hit:
                return value
            value = compute()
            self._entries[key] = (self._clock() + self.ttl, value)
            return value

    def clear(self) -> None:
        self._entries.clear()
