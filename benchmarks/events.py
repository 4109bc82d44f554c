"""What happens during a run, as typed event hooks (after Locust's ``event.py``).

The runner fires events; the journal, the progress line and anything else that wants to know
subscribe to them, instead of reaching into the runner::

    events = RunEvents()
    events.fault_applied.add_listener(lambda entry: print(entry["label"]))
    events.fault_applied.fire(entry=entry)

Listeners run on the thread that fires (the fault thread, a sampler thread, the runner), so
they must be quick and thread-safe; an exception in one listener is reported to the hook's
``on_error`` and never stops the others or the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Listener = Callable[..., Any]


class EventHook:
    """A list of listeners fired with keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def add_listener(self, listener: Listener) -> Listener:
        with self._lock:
            self._listeners.append(listener)
        return listener

    def fire(self, **kwargs: Any) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(**kwargs)
            except Exception as exc:  # noqa: BLE001 - one listener never breaks the run
                self.errors.append(f"{self.name}: {getattr(listener, '__name__', listener)}: "
                                   f"{type(exc).__name__}: {exc}")


class RunEvents:
    """The events of one run."""

    def __init__(self) -> None:
        self.phase_started = EventHook("phase_started")
        """``name``: a phase (stack, processor, warmup, steady, flush, drain, export) began."""
        self.phase_ended = EventHook("phase_ended")
        """``name``: that phase ended."""
        self.fault_applied = EventHook("fault_applied")
        """``entry``: the fault's journal entry, with ``applied_at`` (or ``error``)."""
        self.fault_healed = EventHook("fault_healed")
        """``entry``: the same entry, with ``heal_started_at`` and ``healed_at``."""
        self.sample_taken = EventHook("sample_taken")
        """``kind`` ("lag", "producer", …) and ``value``: the sampler's newest reading."""
        self.note = EventHook("note")
        """``what`` and ``details``: anything else worth a line in the journal."""
