"""The state file of a running stack: what runs where, so another command can find it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from system.stack.process import ProcessRecord

FILE = "state.json"


@dataclass
class StackState:
    provider: str
    home: str
    config: dict
    ports: dict
    urls: dict[str, str]
    processes: list[ProcessRecord]
    healthy_after_s: dict[str, float] = field(default_factory=dict)
    """Seconds from ``stack up`` until each service passed its readiness check."""
    cold_start_s: float = 0.0
    started_at: float = 0.0

    def running(self) -> list[str]:
        return [p.name for p in self.processes if p.alive()]

    def save(self, home: Path) -> None:
        data = asdict(self)
        tmp = home / (FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(home / FILE)

    @classmethod
    def load(cls, home: Path) -> StackState | None:
        try:
            data = json.loads((home / FILE).read_text())
        except FileNotFoundError:
            return None
        data["processes"] = [ProcessRecord(**p) for p in data["processes"]]
        return cls(**data)

    @staticmethod
    def remove(home: Path) -> None:
        (home / FILE).unlink(missing_ok=True)
