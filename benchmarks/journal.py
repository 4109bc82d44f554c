"""The run's journal: one JSON file everything downstream reads (as Chaos Toolkit's journal).

It is rewritten atomically after every change, so whatever stops the run (an error, Ctrl-C,
a kill of the harness) leaves a readable journal of what happened up to then.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        os.replace(tmp, self.path)

    @contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        entry = {"name": name, "start": time.time(), "end": None}
        self.data["phases"].append(entry)
        self.save()
        try:
            yield entry
        finally:
            entry["end"] = time.time()
            self.save()

    def current_phase(self) -> str | None:
        open_phases = [p["name"] for p in self.data["phases"] if p["end"] is None]
        return open_phases[-1] if open_phases else None

    def event(self, what: str, **details: Any) -> None:
        self.data["events"].append({"at": time.time(), "what": what, **details})
        self.save()

    def add_fault(self, entry: dict[str, Any]) -> dict[str, Any]:
        self.data["faults"].append(entry)
        self.save()
        return entry

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        self.save()

    def finish(self, status: str, error: str | None = None) -> None:
        self.data.update(status=status, ended_at=time.time(),
                         error=error if error else self.data.get("error"))
        self.save()
