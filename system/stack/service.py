"""One service of the native stack: the process to start and the evidence-carrying wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from system.stack.wait import WaitStrategy


@dataclass
class Service:
    name: str
    command: Callable[[], list[str]]
    """Called on the service's own start-up thread (it may prepare data first)."""
    ready: WaitStrategy
    hint: str
    env: dict[str, str] = field(default_factory=dict)
    after_ready: Callable[[], None] | None = None
    after: str | None = None
    """A service that must be healthy before this one starts (FerretDB after PostgreSQL)."""
    user: str | None = None
    """Run as this user (we are root and the server refuses root)."""
    stop_signal: int | None = None
    """See ``ProcessRecord.stop_signal``."""
