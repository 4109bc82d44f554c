"""Simulated devices: the seed's thermostats and motion sensors, with injected anomalies.

Every device owns a ``random.Random`` seeded from ``f"{scenario_seed}:{device_id}"``, and
draws in a fixed order per reading, so the same seed gives the same sequence of
(device, seq, event_id, values, truth) whatever the rate, the process split or the clock.
Values depend on the reading's *offset* from the run's start (simulated time), never on the
wall clock.

Signals (thermostats): a per-device baseline (18-24 °C), a daily sinusoid over 24 h of
simulated time (``time_scale`` simulated seconds per real second), Gaussian noise, and a
humidity that falls when the temperature rises above the baseline.

Anomalies (thermostats only) at ``anomaly_rate`` of readings, kinds weighted by ``kind_mix``
(each weight is the kind's share of *anomalous readings*, episodes included):

- ``spike``: one reading at 36-45 °C (above the seed's 35 °C rule, as in the seed).
- ``drift``: an episode of 6-12 consecutive readings ramping away from the signal by
  0.5-1.0 °C per reading (up if there is room, else down), always below 35 °C.
- ``stuck``: an episode of 5-10 readings repeating exactly the last reading (temperature
  and humidity), below 35 °C.
- ``garbage``: one reading whose ``temperature_celsius`` is one of (equally likely)
  ``"ERR"`` (a string: wrong type -> the processor's dead letter), ``null`` (missing value
  -> dead letter), ``-999.0`` or ``1e6`` (numbers that are physically impossible -> to be
  flagged as anomalies). The message stays valid JSON.

Motion sensors carry no anomalies: ``motion_detected`` follows the daily activity,
``camera_status`` is ``"online"`` with short ``"offline"`` episodes.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from system.producer.errors import ProducerError

ANOMALY_KINDS = ("spike", "drift", "stuck", "garbage")
DEFAULT_KIND_MIX: dict[str, float] = {"spike": 0.4, "drift": 0.3, "stuck": 0.2, "garbage": 0.1}
THRESHOLD_C = 35.0
"""The seed's rule; drift and stuck episodes stay below it."""
BELOW_THRESHOLD_CAP_C = 34.9
GARBAGE_VALUES: tuple[Any, ...] = ("ERR", None, -999.0, 1e6)
GARBAGE_NAMES = ("string", "null", "negative", "huge")
EPISODE_LENGTHS = {"spike": (1, 1), "drift": (6, 12), "stuck": (5, 10), "garbage": (1, 1)}
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Event:
    """One reading as generated; ``fields`` is the payload without ids and timestamp."""

    event_id: str
    device_id: str
    device_type: str
    seq: int
    fields: dict[str, Any]
    truth_anomaly: bool
    truth_kind: str | None
    truth_detail: str | None


def _uuid_from(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def _daily_phase(offset_s: float, time_scale: float, phase0: float) -> float:
    """Sine of the time of day: +1 at 15:00, -1 at 03:00 (simulated)."""
    return math.sin(2 * math.pi * (offset_s * time_scale / SECONDS_PER_DAY) + phase0)


@dataclass
class _Episode:
    kind: str
    remaining: int
    length: int
    step: float = 0.0
    stuck_temperature: float = 0.0
    stuck_humidity: float = 0.0


@dataclass
class Thermostat:
    device_id: str
    rng: random.Random
    time_scale: float
    episode_start_probability: float
    kind_weights: tuple[float, ...]
    """Probability of each kind per *episode start* (converted from reading shares)."""
    day_phase0: float
    baseline_c: float = field(init=False)
    amplitude_c: float = field(init=False)
    humidity_base: float = field(init=False)
    seq: int = 0
    episode: _Episode | None = None
    last_temperature: float | None = None
    last_humidity: float | None = None

    def __post_init__(self) -> None:
        self.baseline_c = self.rng.uniform(18.0, 24.0)
        self.amplitude_c = self.rng.uniform(1.5, 3.5)
        self.humidity_base = self.rng.uniform(35.0, 55.0)

    def next_event(self, offset_s: float) -> Event:
        rng = self.rng
        self.seq += 1
        event_id = _uuid_from(rng)
        # Fixed draw order: noise, humidity noise, start?, kind, length, extras.
        signal = self.baseline_c + self.amplitude_c * _daily_phase(
            offset_s, self.time_scale, self.day_phase0)
        temperature = signal + rng.gauss(0.0, 0.3)
        humidity = self.humidity_base - 1.5 * (signal - self.baseline_c) + rng.gauss(0.0, 1.0)
        humidity = min(95.0, max(10.0, humidity))
        start_roll = rng.random()
        if self.episode is None and start_roll < self.episode_start_probability:
            self.episode = self._start_episode(temperature)
        kind: str | None = None
        detail: str | None = None
        value: Any = round(temperature, 2)
        if self.episode is not None:
            ep = self.episode
            kind = ep.kind
            position = ep.length - ep.remaining + 1
            if ep.kind == "spike":
                value = round(rng.uniform(36.0, 45.0), 2)
                detail = "spike"
            elif ep.kind == "drift":
                drifted = temperature + ep.step * position
                value = round(min(BELOW_THRESHOLD_CAP_C, drifted), 2)
                detail = f"drift {ep.step:+.2f}/reading {position}/{ep.length}"
            elif ep.kind == "stuck":
                value, humidity = ep.stuck_temperature, ep.stuck_humidity
                detail = f"stuck {position}/{ep.length}"
            else:
                choice = rng.randrange(len(GARBAGE_VALUES))
                value = GARBAGE_VALUES[choice]
                detail = f"garbage {GARBAGE_NAMES[choice]}"
            ep.remaining -= 1
            if ep.remaining <= 0:
                self.episode = None
        humidity = round(humidity, 2)
        if kind in (None, "drift", "stuck"):  # a stuck sensor freezes a plausible value
            self.last_temperature, self.last_humidity = value, humidity
        return Event(event_id, self.device_id, "thermostat", self.seq,
                     {"temperature_celsius": value, "humidity_percent": humidity},
                     kind is not None, kind, detail)

    def _start_episode(self, temperature: float) -> _Episode:
        rng = self.rng
        kind = rng.choices(ANOMALY_KINDS, weights=self.kind_weights)[0]
        low, high = EPISODE_LENGTHS[kind]
        length = rng.randint(low, high)
        episode = _Episode(kind, length, length)
        if kind == "drift":
            step = rng.uniform(0.5, 1.0)
            room_up = BELOW_THRESHOLD_CAP_C - 1.0 - temperature
            episode.step = step if room_up >= step * length else -step
        elif kind == "stuck":
            stuck = self.last_temperature if self.last_temperature is not None else temperature
            episode.stuck_temperature = round(min(BELOW_THRESHOLD_CAP_C, stuck), 2)
            episode.stuck_humidity = (self.last_humidity if self.last_humidity is not None
                                      else round(self.humidity_base, 2))
        return episode


@dataclass
class MotionSensor:
    device_id: str
    rng: random.Random
    time_scale: float
    day_phase0: float
    seq: int = 0
    camera_online: bool = True

    def next_event(self, offset_s: float) -> Event:
        rng = self.rng
        self.seq += 1
        event_id = _uuid_from(rng)
        activity = max(0.0, _daily_phase(offset_s, self.time_scale, self.day_phase0))
        motion = rng.random() < 0.1 + 0.4 * activity
        flip = rng.random()
        if self.camera_online and flip < 0.005:
            self.camera_online = False
        elif not self.camera_online and flip < 0.2:
            self.camera_online = True
        return Event(event_id, self.device_id, "motion", self.seq,
                     {"motion_detected": motion,
                      "camera_status": "online" if self.camera_online else "offline"},
                     False, None, None)


def episode_start_probability(anomaly_rate: float, kind_mix: dict[str, float]
                              ) -> tuple[float, tuple[float, ...]]:
    """Per-reading start probability and per-start kind weights so that ``anomaly_rate`` of
    readings are anomalous and ``kind_mix`` gives each kind's share of anomalous readings.

    Renewal argument: a normal reading starts an episode with probability p; episodes have
    mean length m, so the anomalous fraction is m / ((1 - p) / p + m) = rate.
    """
    if not 0.0 <= anomaly_rate < 1.0:
        raise ProducerError(f"anomaly_rate must be in [0, 1), got {anomaly_rate}")
    unknown = set(kind_mix) - set(ANOMALY_KINDS)
    if unknown or not kind_mix or any(w < 0 for w in kind_mix.values()):
        raise ProducerError(f"kind_mix needs non-negative weights over {ANOMALY_KINDS}")
    total = sum(kind_mix.values())
    if total <= 0:
        raise ProducerError("kind_mix weights sum to zero")
    mean_length = {k: sum(EPISODE_LENGTHS[k]) / 2 for k in ANOMALY_KINDS}
    per_start = [kind_mix.get(k, 0.0) / total / mean_length[k] for k in ANOMALY_KINDS]
    starts = sum(per_start)
    mean_episode = 1.0 / starts
    weights = tuple(w / starts for w in per_start)
    if anomaly_rate == 0.0:
        return 0.0, weights
    probability = anomaly_rate / (mean_episode * (1 - anomaly_rate) + anomaly_rate)
    return probability, weights


def device_ids(thermostats: int, motion_sensors: int) -> list[str]:
    width = max(2, len(str(max(thermostats, motion_sensors, 1))))
    return ([f"thermostat-{i:0{width}d}" for i in range(1, thermostats + 1)]
            + [f"motion-sensor-{i:0{width}d}" for i in range(1, motion_sensors + 1)])


class Fleet:
    """All devices of a scenario; ``devices[i]`` is addressed by the schedule's index."""

    def __init__(self, thermostats: int = 5, motion_sensors: int = 5, *, seed: int = 42,
                 anomaly_rate: float = 0.10, kind_mix: dict[str, float] | None = None,
                 time_scale: float = 1.0) -> None:
        if thermostats < 0 or motion_sensors < 0 or thermostats + motion_sensors == 0:
            raise ProducerError("the fleet needs at least one device")
        if time_scale <= 0:
            raise ProducerError(f"time_scale must be > 0, got {time_scale}")
        probability, weights = episode_start_probability(
            anomaly_rate, kind_mix if kind_mix is not None else DEFAULT_KIND_MIX)
        self.seed = seed
        self.devices: list[Thermostat | MotionSensor] = []
        for device_id in device_ids(thermostats, motion_sensors):
            rng = random.Random(f"{seed}:{device_id}")
            phase0 = rng.uniform(-0.3, 0.3)  # devices are in slightly different rooms
            if device_id.startswith("thermostat-"):
                self.devices.append(Thermostat(device_id, rng, time_scale, probability,
                                               weights, phase0))
            else:
                self.devices.append(MotionSensor(device_id, rng, time_scale, phase0))

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def ids(self) -> list[str]:
        return [d.device_id for d in self.devices]

    def next_event(self, device_index: int, offset_s: float) -> Event:
        return self.devices[device_index].next_event(offset_s)
