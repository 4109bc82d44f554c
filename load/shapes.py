"""Load shapes for the dashboard: steps of users, and a spike on a baseline.

Each shape is configured by its class attributes (subclass it to change them), overridden by
environment variables when built without arguments (what ``locust -f load/locustfile.py`` does
when ``IOTBENCH_LOAD_SHAPE`` is ``steps`` or ``spike``), or by a scenario's ``load`` section
(``shape_from_spec``). ``tick()`` returns ``None`` after ``run_time_s``, which ends the test.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from locust import LoadTestShape

SHAPE_ENV = "IOTBENCH_LOAD_SHAPE"
"""``steps`` or ``spike``: the shape the locustfile exposes to Locust (none when unset)."""
ENV_PREFIX = "IOTBENCH_LOAD_"


def _env(name: str) -> str | None:
    raw = os.environ.get(ENV_PREFIX + name.upper())
    return raw if raw not in (None, "") else None


class _TimedShape(LoadTestShape):
    abstract: ClassVar[bool] = True

    run_time_s: float | None = 60.0
    """Seconds until the shape ends the test; ``None`` = until stopped from outside
    (env ``IOTBENCH_LOAD_RUN_TIME_S``)."""
    spawn_rate: float = 5.0
    """Users started (or stopped) per second when the target changes
    (env ``IOTBENCH_LOAD_SPAWN_RATE``)."""

    _NUMBERS: ClassVar[dict[str, type]] = {"run_time_s": float, "spawn_rate": float}

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        for key, kind in self._NUMBERS.items():
            value = settings.pop(key, None)
            if value is None and _env(key) is not None:
                value = kind(float(_env(key)))  # type: ignore[arg-type]
            if value is not None:
                setattr(self, key, kind(value))
        if settings:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(settings)}")

    def users_at(self, t_s: float) -> int:
        raise NotImplementedError

    def tick(self) -> tuple[int, float] | None:
        t_s = self.get_run_time()
        if self.run_time_s is not None and t_s >= self.run_time_s:
            return None
        return self.users_at(t_s), self.spawn_rate


class StepShape(_TimedShape):
    """Steps of users over time: from each ``(at_s, users)`` on, run that many users."""

    steps: list[tuple[float, int]] = [(0, 5), (20, 10), (40, 20)]
    """``(seconds after start, users)`` pairs, first at 0, increasing times
    (env ``IOTBENCH_LOAD_STEPS`` as JSON, e.g. ``[[0, 5], [20, 10]]``)."""

    def __init__(self, steps: list[tuple[float, int]] | None = None, **settings: Any) -> None:
        super().__init__(**settings)
        if steps is None and _env("steps"):
            steps = [(float(a), int(u)) for a, u in json.loads(_env("steps") or "[]")]
        self.steps = sorted(steps if steps is not None else type(self).steps)

    def users_at(self, t_s: float) -> int:
        return ([users for at_s, users in self.steps if at_s <= t_s] or [0])[-1]


class SpikeShape(_TimedShape):
    """A baseline of users, a spike to ``spike_users`` for ``spike_duration_s``, then back."""

    baseline_users: int = 5
    """Users before and after the spike (env ``IOTBENCH_LOAD_BASELINE_USERS``)."""
    spike_users: int = 50
    """Users during the spike (env ``IOTBENCH_LOAD_SPIKE_USERS``)."""
    spike_at_s: float = 20.0
    """Seconds after start when the spike begins (env ``IOTBENCH_LOAD_SPIKE_AT_S``)."""
    spike_duration_s: float = 10.0
    """How long the spike lasts (env ``IOTBENCH_LOAD_SPIKE_DURATION_S``)."""
    spawn_rate: float = 50.0

    _NUMBERS: ClassVar[dict[str, type]] = {
        **_TimedShape._NUMBERS, "baseline_users": int, "spike_users": int,
        "spike_at_s": float, "spike_duration_s": float}

    def users_at(self, t_s: float) -> int:
        if self.spike_at_s <= t_s < self.spike_at_s + self.spike_duration_s:
            return self.spike_users
        return self.baseline_users


SHAPES: dict[str, type[_TimedShape]] = {"steps": StepShape, "spike": SpikeShape}


def shape_from_spec(spec: dict[str, Any]) -> _TimedShape | None:
    """A shape from a scenario's ``load`` section as JSON (``Load.model_dump(mode="json")``)
    plus ``run_time_s``; ``None`` for the constant shape."""
    kind = spec.get("shape", "constant")
    shape: _TimedShape
    if kind == "steps":
        shape = StepShape([(float(s["at_s"]), int(s["users"])) for s in spec["steps"]],
                          spawn_rate=spec.get("spawn_rate"))
    elif kind == "spike":
        spike = spec["spike"]
        shape = SpikeShape(baseline_users=spec["users"], spike_users=spike["users"],
                           spike_at_s=spike["at_s"], spike_duration_s=spike["duration_s"],
                           spawn_rate=spec.get("spawn_rate"))
    else:
        return None
    shape.run_time_s = spec.get("run_time_s")  # None: until the driver stops it
    return shape
