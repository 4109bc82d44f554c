"""Anomaly detectors. Pure Python, so they are tested without Spark.

``DETECTORS`` is the one list of their names; every other list (the processor's
``--detector`` choices, the stored ``is_anomaly_<name>`` columns, the scenario model, the
SLO figure names, the reports) derives from it. ``Detectors.judge(state, event)`` runs every
detector on one event — the sink's only entry point.

- ``threshold``: the seed's rule, ``temperature_celsius > 35.0``. Stateless: it flags every
  reading of a hot room and misses every anomaly below 35 °C.
- ``zscore``: per device, an exponentially weighted mean and variance of the temperature;
  a reading more than ``z_limit`` standard deviations away is anomalous (catches drift the
  threshold misses), so is the third identical reading in a row (a stuck sensor) and a
  physically implausible value. Anomalous readings do not move the baseline until a long
  flagged run is taken as the new normal.
- ``mad``: per device, the median and the median absolute deviation (MAD) of the last
  ``window`` readings; a reading more than ``k`` robust standard deviations
  (1.4826 · MAD) from the median is anomalous. Robust to single outliers in its own window
  and quick on spikes, but blind to a stuck sensor and, as every reading enters the window,
  a drift becomes "normal" once it fills half the window.

The two stateful detectors keep their per-device memory in one ``DeviceState`` (the sink
stores it as the device's ``detector_state`` document); a replayed reading (``seq`` at or
below ``last_seq``) is judged but never moves that state.

Motion sensors carry no temperature: no detector flags them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

DETECTORS = ("threshold", "zscore", "mad")
"""Every detector's name, in the order reports list them."""

THRESHOLD_C = 35.0
PLAUSIBLE_C = (-40.0, 60.0)


@dataclass(frozen=True)
class Verdict:
    is_anomaly: bool
    score: float | None
    """Threshold: the temperature; zscore: |z|; mad: robust |z| (None while warming up)."""
    rule: str | None = None
    """Which rule fired (``above-threshold``, ``z-score``, ``stuck``, ``implausible``,
    ``median-mad``)."""


NOT_JUDGED = Verdict(False, None)


def threshold(reading: dict[str, Any], limit: float = THRESHOLD_C) -> Verdict:
    temp = reading.get("temperature_celsius")
    if temp is None:
        return Verdict(False, None)
    flagged = temp > limit
    return Verdict(flagged, float(temp), "above-threshold" if flagged else None)


@dataclass
class DeviceState:
    """What the stateful detectors remember of one device (stored between micro-batches)."""

    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    last: float | None = None
    repeats: int = 0
    """How many readings in a row equalled the one before."""
    flagged_run: int = 0
    last_seq: int = 0
    """Highest seq applied: a replayed reading (seq ≤ last_seq) never moves the state twice."""
    window: list[float] = field(default_factory=list)
    """The mad detector's last readings, oldest first."""

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
        return _observe_once(state, reading, {"zscore": self.judge})["zscore"]

    def judge(self, s: DeviceState, temp: float) -> Verdict:
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


class MedianMad:
    """Rolling-window median / MAD detector (Hampel filter)."""

    def __init__(self, window: int = 31, k: float = 4.5, warmup: int = 10,
                 min_scale: float = 0.3) -> None:
        self.window = window
        self.k = k
        self.warmup = warmup
        self.min_scale = min_scale
        """Floor of the robust standard deviation: a window of identical readings (a stuck
        sensor) has MAD 0 and would flag every later reading."""

    def observe(self, state: DeviceState, reading: dict[str, Any]) -> Verdict:
        """Judge one reading and update ``state`` in place (unless it was seen before)."""
        return _observe_once(state, reading, {"mad": self.judge})["mad"]

    def judge(self, s: DeviceState, temp: float) -> Verdict:
        verdict = Verdict(False, None)
        if len(s.window) >= self.warmup:
            median = statistics.median(s.window)
            mad = statistics.median([abs(t - median) for t in s.window])
            robust_z = abs(temp - median) / max(1.4826 * mad, self.min_scale)
            flagged = robust_z > self.k
            verdict = Verdict(flagged, round(robust_z, 3), "median-mad" if flagged else None)
        s.window = [*s.window, temp][-self.window:]
        return verdict


Judge = Callable[[DeviceState, float], Verdict]


def _observe_once(state: DeviceState, reading: dict[str, Any], judges: dict[str, Judge]
                  ) -> dict[str, Verdict]:
    """Every judge's verdict on one reading; ``state`` moves only if the reading is new."""
    temp = reading.get("temperature_celsius")
    if temp is None:
        return dict.fromkeys(judges, NOT_JUDGED)
    replay = reading.get("seq", 0) <= state.last_seq
    # Copied only for a replay: asdict's deep copy of every reading's state was half of
    # the detectors' time.
    snapshot = DeviceState.from_dict(state.to_dict()) if replay else None
    verdicts = {name: judge(state, float(temp)) for name, judge in judges.items()}
    if snapshot is not None:  # keep the state as it was; the verdicts are for reference only
        state.__dict__.update(snapshot.__dict__)
    else:
        state.last_seq = int(reading.get("seq", state.last_seq))
    return verdicts


class Detectors:
    """Every detector of ``DETECTORS``, run on one event at a time."""

    def __init__(self, threshold_c: float = THRESHOLD_C, zscore: ZScore | None = None,
                 mad: MedianMad | None = None) -> None:
        self.threshold_c = threshold_c
        self.zscore = zscore or ZScore()
        self.mad = mad or MedianMad()

    def judge(self, state: DeviceState | None, event: dict[str, Any]) -> dict[str, Verdict]:
        """One verdict per name of ``DETECTORS``. ``state`` is the device's memory (updated
        in place); ``None`` for a device without one (a motion sensor): only the stateless
        threshold looks at it."""
        verdicts = {"threshold": threshold(event, self.threshold_c)}
        stateful: dict[str, Judge] = {"zscore": self.zscore.judge, "mad": self.mad.judge}
        if state is None:
            verdicts.update(dict.fromkeys(stateful, NOT_JUDGED))
        else:
            verdicts.update(_observe_once(state, event, stateful))
        return {name: verdicts[name] for name in DETECTORS}
