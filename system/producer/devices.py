"""Simulated devices: the seed's thermostats and motion sensors, with realistic regimes and
injected anomalies that no detector is told about.

Determinism: every device owns a ``random.Random`` seeded from ``f"{seed}:{device_id}"`` and
draws from it in a fixed order per reading, so a device's n-th reading and its truth are a
function of the scenario seed (and of the reading's *offset* from the run's start, in
simulated time — never the wall clock) whatever the process split. Event ids come from a
second generator per device, seeded from the seed *and* the run id, so two runs of one
scenario send the same readings under disjoint event ids.

Regimes (thermostats), none of them labelled anomalous:

- **rooms**: a per-device baseline of 18-24 °C with a daily sinusoid over 24 h of simulated
  time (``time_scale`` simulated seconds per real second) of 1.5-3.5 °C amplitude;
- **hot rooms**: ``hot_room_share`` of the thermostats (at least one when there are three or
  more; which ones is seeded) sit in a hot room (boiler room, greenhouse): baseline
  37-40 °C, amplitude 1-2 °C, so their *normal* readings are above the seed's 35 °C rule;
- **sensor noise**: Gaussian, with a per-device standard deviation of 0.15-0.6 °C;
- humidity falls when the temperature rises above the baseline, clamped to 10-95 %.

Anomalies (thermostats only) at ``anomaly_rate`` of readings, kinds weighted by ``kind_mix``
(each weight is the kind's share of *anomalous readings*, episodes included):

- ``spike``: one reading 3-18 °C away from the device's own signal (up four times in five),
  so a spike in a cool room may stay below 35 °C and a downward spike in a hot room too;
- ``drift``: an episode of 12-30 consecutive readings ramping away from the signal by
  0.3-1.0 °C per reading (up four times in five); about half of the upward drifts of a
  normal room cross 35 °C, and only late in the episode;
- ``stuck``: an episode of 5-10 readings repeating exactly the last plausible reading
  (temperature and humidity);
- ``garbage``: one reading whose ``temperature_celsius`` is one of (equally likely)
  ``"ERR"`` (wrong type), ``null`` (missing), ``-999.0`` or ``1e6`` (out of the physical
  range): every one is dead-lettered by the processor, none reaches a detector. The message
  stays valid JSON.

Every non-garbage reading stays inside ``VALID_C`` (well within the processor's physical
range of -50…100 °C).

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
"""The seed's rule. Nothing here is shaped around it: hot rooms sit above it, many
anomalies below it."""
GARBAGE_VALUES: tuple[Any, ...] = ("ERR", None, -999.0, 1e6)
GARBAGE_NAMES = ("string", "null", "negative", "huge")
EPISODE_LENGTHS = {"spike": (1, 1), "drift": (12, 30), "stuck": (5, 10), "garbage": (1, 1)}
SECONDS_PER_DAY = 86_400.0

ROOM_BASELINE_C = (18.0, 24.0)
ROOM_AMPLITUDE_C = (1.5, 3.5)
HOT_ROOM_BASELINE_C = (37.0, 40.0)
HOT_ROOM_AMPLITUDE_C = (1.0, 2.0)
HOT_ROOM_SHARE = 0.15
"""Share of thermostats in a hot room (rounded; at least one among three or more)."""
NOISE_SIGMA_C = (0.15, 0.6)
SPIKE_MAGNITUDE_C = (3.0, 18.0)
DRIFT_STEP_C = (0.3, 1.0)
UPWARD_SHARE = 0.8
"""Spikes and drifts go up this often (a heater stuck on, a failing sensor), else down."""
VALID_C = (-40.0, 90.0)
"""Every non-garbage reading is clamped here, inside the physical range -50…100 °C."""


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


def _clamp_valid(value: float) -> float:
    return min(VALID_C[1], max(VALID_C[0], value))


@dataclass
class _Episode:
    kind: str
    remaining: int
    length: int
    step: float = 0.0
    """drift: °C per reading (signed); spike: the offset from the signal (signed)."""
    stuck_temperature: float = 0.0
    stuck_humidity: float = 0.0


@dataclass
class Thermostat:
    device_id: str
    rng: random.Random
    ids: random.Random
    """Event ids only (seeded by seed and run id), so ids never shift the readings."""
    time_scale: float
    episode_start_probability: float
    kind_weights: tuple[float, ...]
    """Probability of each kind per *episode start* (converted from reading shares)."""
    day_phase0: float
    hot_room: bool = False
    baseline_c: float = field(init=False)
    amplitude_c: float = field(init=False)
    noise_c: float = field(init=False)
    humidity_base: float = field(init=False)
    seq: int = 0
    episode: _Episode | None = None
    last_temperature: float | None = None
    last_humidity: float | None = None

    def __post_init__(self) -> None:
        baseline, amplitude = ((HOT_ROOM_BASELINE_C, HOT_ROOM_AMPLITUDE_C) if self.hot_room
                               else (ROOM_BASELINE_C, ROOM_AMPLITUDE_C))
        self.baseline_c = self.rng.uniform(*baseline)
        self.amplitude_c = self.rng.uniform(*amplitude)
        self.noise_c = self.rng.uniform(*NOISE_SIGMA_C)
        self.humidity_base = self.rng.uniform(*((20.0, 35.0) if self.hot_room
                                                else (35.0, 55.0)))

    def next_event(self, offset_s: float) -> Event:
        rng = self.rng
        self.seq += 1
        event_id = _uuid_from(self.ids)
        # Fixed draw order: noise, humidity noise, start?, (kind, length, extras), garbage.
        signal = self.baseline_c + self.amplitude_c * _daily_phase(
            offset_s, self.time_scale, self.day_phase0)
        temperature = signal + rng.gauss(0.0, self.noise_c)
        humidity = self.humidity_base - 1.5 * (signal - self.baseline_c) + rng.gauss(0.0, 1.0)
        humidity = min(95.0, max(10.0, humidity))
        start_roll = rng.random()
        if self.episode is None and start_roll < self.episode_start_probability:
            self.episode = self._start_episode(temperature)
        kind: str | None = None
        detail: str | None = None
        value: Any = round(_clamp_valid(temperature), 2)
        if self.episode is not None:
            ep = self.episode
            kind = ep.kind
            position = ep.length - ep.remaining + 1
            if ep.kind == "spike":
                value = round(_clamp_valid(temperature + ep.step), 2)
                detail = f"spike {ep.step:+.1f} °C"
            elif ep.kind == "drift":
                value = round(_clamp_valid(temperature + ep.step * position), 2)
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
        if kind in ("spike", "drift"):
            size = rng.uniform(*(SPIKE_MAGNITUDE_C if kind == "spike" else DRIFT_STEP_C))
            episode.step = size if rng.random() < UPWARD_SHARE else -size
        elif kind == "stuck":
            stuck = self.last_temperature if self.last_temperature is not None else temperature
            episode.stuck_temperature = round(_clamp_valid(stuck), 2)
            episode.stuck_humidity = (self.last_humidity if self.last_humidity is not None
                                      else round(self.humidity_base, 2))
        return episode


@dataclass
class MotionSensor:
    device_id: str
    rng: random.Random
    ids: random.Random
    time_scale: float
    day_phase0: float
    seq: int = 0
    camera_online: bool = True

    def next_event(self, offset_s: float) -> Event:
        rng = self.rng
        self.seq += 1
        event_id = _uuid_from(self.ids)
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


def hot_rooms(thermostat_ids: list[str], seed: int, share: float = HOT_ROOM_SHARE
              ) -> set[str]:
    """The thermostats in a hot room: ``round(share * n)`` of them, at least one when there
    are three or more (so the seed's 5-thermostat fleet has one), chosen by the seed."""
    if not 0.0 <= share <= 1.0:
        raise ProducerError(f"hot_room_share must be in [0, 1], got {share}")
    count = round(share * len(thermostat_ids))
    if share > 0 and len(thermostat_ids) >= 3:
        count = max(1, count)
    return set(random.Random(f"{seed}:hot-rooms").sample(thermostat_ids, count))


class Fleet:
    """All devices of a scenario; ``devices[i]`` is addressed by the schedule's index.

    ``run_id`` seeds the event ids only: the readings and their truth are a function of
    ``seed`` (and the schedule's offsets)."""

    def __init__(self, thermostats: int = 5, motion_sensors: int = 5, *, seed: int = 42,
                 anomaly_rate: float = 0.10, kind_mix: dict[str, float] | None = None,
                 time_scale: float = 1.0, run_id: str = "",
                 hot_room_share: float = HOT_ROOM_SHARE) -> None:
        if thermostats < 0 or motion_sensors < 0 or thermostats + motion_sensors == 0:
            raise ProducerError("the fleet needs at least one device")
        if time_scale <= 0:
            raise ProducerError(f"time_scale must be > 0, got {time_scale}")
        probability, weights = episode_start_probability(
            anomaly_rate, kind_mix if kind_mix is not None else DEFAULT_KIND_MIX)
        self.seed = seed
        self.run_id = run_id
        ids = device_ids(thermostats, motion_sensors)
        self.hot_rooms = hot_rooms([i for i in ids if i.startswith("thermostat-")], seed,
                                   hot_room_share)
        self.devices: list[Thermostat | MotionSensor] = []
        for device_id in ids:
            rng = random.Random(f"{seed}:{device_id}")
            id_rng = random.Random(f"{seed}:{run_id}:{device_id}:event-ids")
            phase0 = rng.uniform(-0.3, 0.3)  # devices are in slightly different rooms
            if device_id.startswith("thermostat-"):
                self.devices.append(Thermostat(device_id, rng, id_rng, time_scale, probability,
                                               weights, phase0, device_id in self.hot_rooms))
            else:
                self.devices.append(MotionSensor(device_id, rng, id_rng, time_scale, phase0))

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def ids(self) -> list[str]:
        return [d.device_id for d in self.devices]

    def next_event(self, device_index: int, offset_s: float) -> Event:
        return self.devices[device_index].next_event(offset_s)
