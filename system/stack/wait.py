"""Readiness as objects (as testcontainers' ``core/wait_strategies.py``), never a bare sleep.

A strategy is polled until it returns True, the process dies, or the timeout passes; the
failure carries the evidence (what was awaited, for how long, process state, log tail, hint).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from system.stack.errors import ServiceError


class WaitStrategy:
    """Something to poll until it holds."""

    description = "ready"

    def check(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class PortOpen(WaitStrategy):
    port: int
    host: str = "127.0.0.1"

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"TCP {self.host}:{self.port} accepting connections"

    def check(self) -> bool:
        return port_open(self.port, self.host)


@dataclass
class HttpJson(WaitStrategy):
    """GET ``url`` answers 200 with JSON that ``accept`` likes."""

    url: str
    accept: Callable[[object], bool] = lambda _: True
    what: str = ""

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.what or f"GET {self.url} → 200"

    def check(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as resp:
                body = resp.read()
                return resp.status == 200 and self.accept(json.loads(body or b"null"))
        except (OSError, ValueError):
            return False


@dataclass
class Predicate(WaitStrategy):
    """Any callable; exceptions count as "not yet"."""

    func: Callable[[], bool]
    what: str

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.what

    def check(self) -> bool:
        try:
            return bool(self.func())
        except Exception:  # noqa: BLE001 - any failure means not ready yet
            return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(
    service: str,
    strategy: WaitStrategy,
    timeout_s: float,
    *,
    alive: Callable[[], bool] = lambda: True,
    state: Callable[[], str] = lambda: "n/a",
    log_tail: Callable[[], list[str]] = lambda: [],
    hint: str = "read the service's log.",
    interval_s: float = 0.2,
) -> float:
    """Poll until ready; returns seconds waited. Raises ServiceError with the evidence."""
    started = time.monotonic()
    while True:
        if strategy.check():
            return time.monotonic() - started
        waited = time.monotonic() - started
        if not alive():
            raise ServiceError(service, f"waiting for {strategy.description}: the process died",
                               waited, state(), log_tail(), hint)
        if waited >= timeout_s:
            raise ServiceError(service, f"waiting for {strategy.description}", waited, state(),
                               log_tail(), hint)
        time.sleep(interval_s)
