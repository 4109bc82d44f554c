"""The run's journal: one JSON file everything downstream reads (as Chaos Toolkit's journal).

It is rewritten atomically after every change, so whatever stops the run (an error, Ctrl-C,
a kill of the harness) leaves a readable journal of what happened up to then. Several threads
write it (the runner, the fault schedule, samplers): one lock orders the writes, and each
write goes through its own temporary file.

It learns what happens by subscribing to the run's events (:meth:`Journal.follow`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.events import RunEvents


class Journal:
    """``journal.json``: phases, faults (scheduled and really applied/healed), settings,
    component versions, notable events and the exit status."""

    def __init__(self, path: Path, run_id: str, scenario: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "run_id": run_id, "scenario": scenario, "status": "running",
            "started_at": time.time(), "ended_at": None, "phases": [], "faults": [],
            "settings": {}, "versions": {}, "events": [], "error": None, "slo": [],
        }
        self._lock = threading.RLock()
        self.save()

    def follow(self, events: RunEvents) -> None:
        """Record phases, faults and notes as the run fires them."""
        events.phase_started.add_listener(self._phase_started)
        events.phase_ended.add_listener(self._phase_ended)
        events.fault_applied.add_listener(self._fault_applied)
        events.fault_healed.add_listener(lambda entry: self.save())
        events.note.add_listener(lambda what, details: self.event(what, **details))

    def save(self) -> None:
        with self._lock:
            text = json.dumps(self.data, indent=2, default=str)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".journal-", suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.path)

    def _phase_started(self, name: str) -> None:
        with self._lock:
            self.data["phases"].append({"name": name, "start": time.time(), "end": None})
        self.save()

    def _phase_ended(self, name: str) -> None:
        with self._lock:
            for entry in reversed(self.data["phases"]):
                if entry["name"] == name and entry["end"] is None:
                    entry["end"] = time.time()
                    break
        self.save()

    def _fault_applied(self, entry: dict[str, Any]) -> None:
        with self._lock:
            if not any(f is entry for f in self.data["faults"]):
                self.data["faults"].append(entry)
        self.save()

    def event(self, what: str, **details: Any) -> None:
        with self._lock:
            self.data["events"].append({"at": time.time(), "what": what, **details})
        self.save()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
        self.save()

    def finish(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self.data.update(status=status, ended_at=time.time(),
                             error=error if error else self.data.get("error"))
        self.save()
