"""A native stack of a test module's own, on shifted ports, beside the session's stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from system.config import Ports
from system.stack.native import NativeStack, StackConfig


@contextmanager
def own_stack(home: Path, port_offset: int, **config: Any) -> Iterator[NativeStack]:
    """Up on entry, down on exit (whatever happened in between)."""
    native = NativeStack(StackConfig(**config), home=home,
                         ports=Ports.from_env(offset=port_offset))
    native.up()
    try:
        yield native
    finally:
        native.down()
