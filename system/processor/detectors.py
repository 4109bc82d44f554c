"""Anomaly detectors. Pure Python, so they are tested without Spark.

- ``threshold``: the seed's rule, ``temperature_celsius > 35.0``. Stateless.
- ``zscore``: per device, an exponentially weighted mean and variance of the temperature;
  a reading more than ``z_limit`` standard deviations away is anomalous (catches drift the
  threshold misses), so is the third identical reading in a row (a stuck sensor) and a
  physically impossible value. Anomalous readings do not move the baseline.

Motion sensors carry no temperature: no detector flags them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

THRESHOLD_C = 35.0
PLAUSIBLE_C = (-40.0, 60.0)


@dataclass
class Verdict:
    is_anomaly: bool
    score: float | None
    """Threshold: the temperature; zscore: |z| (None while warming up)."""
    rule: str | None = None
    """Which rule fired (``above-threshold``, ``z-score``, ``stuck``, ``implausible``)."""


def threshold(reading: dict[str, Any], limit: float = THRESHOLD_C) -> Verdict:
    temp = reading.get("temperature_celsius")
    if temp is None:
        return Verdict(False, None)
    flagged = temp > limit
    return Verdict(flagged, float(temp), "above-threshold" if flagged else None)


@dataclass
class DeviceState:
    """What the zscore detector remembers of one device (stored between micro-batches)."""

    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    last: float | None = None
    repeats: int = 0
    """How many readings in a row equalled the one before."""
    flagged_run: int = 0
    last_seq: int = 0
    """Highest seq applied: a replayed reading (seq ≤ last_seq) never moves the state twice."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DeviceState:
        if not data:
            return cls()
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class ZScore:
    """EWMA z-score + stuck-sensor + plausibility detector."""

    def __init__(self, alpha: float = 0.1, z_limit: float = 4.0, warmup: int = 10,
                 stuck_run: int = 3, min_std: float = 0.25, relearn_after: int = 30) -> None:
        self.alpha = alpha
        self.z_limit = z_limit
        self.warmup = warmup
        self.stuck_run = stuck_run
        self.min_std = min_std
        self.relearn_after = relearn_after
        """After this many flagged readings in a row the level is taken as the new normal."""

    def observe(self, state: DeviceState, reading: dict[str, Any]) -> Verdict:
        """Judge one reading and update ``state`` in place (unless it was seen before)."""
        temp = reading.get("temperature_celsius")
        if temp is None:
            return Verdict(False, None)
        temp = float(temp)
        replay = reading.get("seq", 0) <= state.last_seq
        snapshot = DeviceState(**state.to_dict())
        verdict = self._judge(state, temp)
        if replay:  # keep the state as it was; the verdict is recomputed for reference only
            state.__dict__.update(snapshot.__dict__)
        else:
            state.last_seq = int(reading.get("seq", state.last_seq))
        return verdict

    def _judge(self, s: DeviceState, temp: float) -> Verdict:
        s.repeats = s.repeats + 1 if s.last is not None and temp == s.last else 0
        s.last = temp
        if not PLAUSIBLE_C[0] <= temp <= PLAUSIBLE_C[1]:
            s.last = None  # an impossible value says nothing about the next one
            return Verdict(True, None, "implausible")
        if s.repeats >= self.stuck_run - 1:
            return Verdict(True, None, "stuck")
        std = max(math.sqrt(s.var), self.min_std)
        z = abs(temp - s.mean) / std if s.n else 0.0
        flagged = s.n >= self.warmup and z > self.z_limit
        s.flagged_run = s.flagged_run + 1 if flagged else 0
        if not flagged or s.flagged_run >= self.relearn_after:
            self._learn(s, temp)
        return Verdict(flagged, round(z, 3) if s.n > 1 else None, "z-score" if flagged else None)

    def _learn(self, s: DeviceState, temp: float) -> None:
        if s.n == 0:
            s.mean, s.var = temp, 0.0
        else:
            # Faster learning while warming up, then the configured EWMA weight.
            a = max(self.alpha, 1.0 / (s.n + 1))
            delta = temp - s.mean
            s.mean += a * delta
            s.var = (1 - a) * (s.var + a * delta * delta)
        s.n += 1


DETECTORS = ("threshold", "zscore")
