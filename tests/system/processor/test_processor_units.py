"""Unit tests of the processor's pure parts (no Spark, no stack): schema and detectors."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from system.processor import detectors, schema


def _thermo(**changes: Any) -> dict[str, Any]:
    base = {"event_id": "a" * 32, "device_id": "thermostat-01", "seq": 1,
            "timestamp": "2026-01-01T00:00:01.000Z", "temperature_celsius": 21.5,
            "humidity_percent": 44.0}
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


def _raw(message: Any) -> bytes:
    return json.dumps(message).encode()


# ------------------------------------------------------------------ schema

def test_a_valid_thermostat_reading_parses() -> None:
    record = schema.parse(_raw(_thermo(extra="ignored")))
    assert record["device_type"] == "thermostat"
    assert record["event_time"].isoformat() == "2026-01-01T00:00:01+00:00"
    assert "extra" not in record
    assert record["temperature_celsius"] == 21.5


def test_a_valid_motion_reading_parses() -> None:
    message = {"event_id": "b" * 32, "device_id": "motion-sensor-07", "seq": 3,
               "timestamp": "2026-01-01T00:00:01Z", "motion_detected": False,
               "camera_status": "online"}
    record = schema.parse(_raw(message))
    assert record["device_type"] == "motion" and record["motion_detected"] is False


def test_integer_temperatures_and_unusual_but_possible_values_are_valid_readings() -> None:
    assert schema.parse(_raw(_thermo(temperature_celsius=22)))["temperature_celsius"] == 22
    for temp, humidity in ((-50.0, 0.0), (100, 100), (72.5, 3.0)):
        record = schema.parse(_raw(_thermo(temperature_celsius=temp, humidity_percent=humidity)))
        assert (record["temperature_celsius"], record["humidity_percent"]) == (temp, humidity)


@pytest.mark.parametrize(("field", "value"), [
    ("temperature_celsius", 1e6), ("temperature_celsius", -999.0),
    ("temperature_celsius", 100.01), ("temperature_celsius", -50.5),
    ("humidity_percent", -0.1), ("humidity_percent", 101), ("humidity_percent", 1e6),
])
def test_physically_impossible_readings_are_out_of_range(field: str, value: float) -> None:
    with pytest.raises(schema.Invalid) as info:
        schema.parse(_raw(_thermo(**{field: value})))
    reason = str(info.value)
    assert schema.reason_kind(reason) == "out of range"
    assert field in reason and repr(value) in reason, reason


def test_every_garbage_reading_of_the_producer_is_dead_lettered() -> None:
    from system.producer.devices import GARBAGE_VALUES

    kinds = set()
    for value in GARBAGE_VALUES:
        with pytest.raises(schema.Invalid) as info:
            schema.parse(_raw(_thermo(temperature_celsius=value)))
        kinds.add(schema.reason_kind(str(info.value)))
    assert kinds == {"wrong type", "missing field", "out of range"}


@pytest.mark.parametrize(("raw", "kind"), [
    (None, "empty"),
    (b'{"device_id": ', "invalid JSON"),
    (b"\xff\xfe", "invalid JSON"),
    (b"[1, 2]", "not an object"),
    (b'"thermostat-01"', "not an object"),
    (_raw(_thermo(device_id="toaster-01")), "unknown device"),
    (_raw(_thermo(device_id=12)), "unknown device"),
    (_raw(_thermo(timestamp=...)), "missing field"),
    (_raw(_thermo(humidity_percent=None)), "missing field"),
    (_raw(_thermo(temperature_celsius="hot")), "wrong type"),
    (_raw(_thermo(temperature_celsius=True)), "wrong type"),
    (_raw(_thermo(seq="1")), "wrong type"),
    (_raw(_thermo(seq=1.0)), "wrong type"),
    (_raw(_thermo(timestamp="yesterday")), "wrong type"),
    (b'{"event_id": "x", "device_id": "thermostat-01", "seq": 1, "timestamp": '
     b'"2026-01-01T00:00:00Z", "temperature_celsius": NaN, "humidity_percent": 1}',
     "wrong type"),
    (_raw(_thermo(pad="x" * (schema.MAX_BYTES + 1))), "oversized"),
])
def test_invalid_records_are_rejected_with_a_stable_reason(raw: bytes | None, kind: str
                                                           ) -> None:
    with pytest.raises(schema.Invalid) as info:
        schema.parse(raw)
    assert schema.reason_kind(str(info.value)) == kind, str(info.value)


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(schema.Invalid, match="missing field: seq, humidity_percent"):
        schema.parse(_raw(_thermo(seq=..., humidity_percent=...)))


def test_a_naive_timestamp_is_taken_as_utc() -> None:
    record = schema.parse(_raw(_thermo(timestamp="2026-01-01T00:00:01")))
    assert record["event_time"].utcoffset().total_seconds() == 0


# ------------------------------------------------------------------ threshold

@pytest.mark.parametrize(("temp", "flagged"), [(35.0, False), (35.01, True), (-999.0, False),
                                               (20.0, False), (41.0, True)])
def test_threshold_is_the_seed_rule(temp: float, flagged: bool) -> None:
    verdict = detectors.threshold({"temperature_celsius": temp})
    assert verdict.is_anomaly is flagged
    assert verdict.score == temp
    assert verdict.rule == ("above-threshold" if flagged else None)


def test_threshold_ignores_motion_sensors() -> None:
    assert detectors.threshold({"motion_detected": True}) == detectors.Verdict(False, None)


# ------------------------------------------------------------------ zscore

def _series(temps: list[float], start_seq: int = 1) -> list[dict[str, Any]]:
    return [{"seq": start_seq + i, "temperature_celsius": t} for i, t in enumerate(temps)]


def _noise(n: int, base: float = 21.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [round(base + rng.gauss(0, 0.3), 2) for _ in range(n)]


def _run(temps: list[float], state: detectors.DeviceState | None = None,
         start_seq: int = 1) -> tuple[list[detectors.Verdict], detectors.DeviceState]:
    state = state or detectors.DeviceState()
    z = detectors.ZScore()
    return [z.observe(state, r) for r in _series(temps, start_seq)], state


def test_zscore_is_quiet_on_noise_and_during_warm_up() -> None:
    verdicts, state = _run(_noise(300))
    assert sum(v.is_anomaly for v in verdicts) <= 2
    assert not any(v.is_anomaly for v in verdicts[:10])
    assert state.n == 300 and state.last_seq == 300
    assert state.mean == pytest.approx(21.0, abs=0.3)


def test_zscore_flags_a_drift_the_threshold_misses() -> None:
    warm = _noise(100)
    drift = [21.0 + 0.8 * k for k in range(1, 11)]  # 21.8 … 29.0, all below 35
    verdicts, _ = _run(warm + drift)
    flags = [v.is_anomaly for v in verdicts[100:]]
    assert not any(detectors.threshold({"temperature_celsius": t}).is_anomaly for t in drift)
    assert all(flags[2:]), flags
    assert {v.rule for v in verdicts[100:] if v.is_anomaly} == {"z-score"}


def test_anomalous_readings_do_not_move_the_baseline() -> None:
    _, state = _run(_noise(100))
    mean = state.mean
    _run([30.0] * 5 + [31.0, 29.5], state, start_seq=101)  # flagged (some as stuck)
    assert state.mean == pytest.approx(mean)


def test_zscore_flags_a_stuck_sensor_from_its_third_identical_reading() -> None:
    verdicts, _ = _run(_noise(50) + [21.37] * 6)
    tail = verdicts[50:]
    assert [v.is_anomaly for v in tail] == [False, False, True, True, True, True]
    assert {v.rule for v in tail[2:]} == {"stuck"}


def test_zscore_flags_implausible_values_at_once_even_while_warming_up() -> None:
    verdicts, state = _run([21.0, 21.1, -45.0, 21.0])
    assert verdicts[2] == detectors.Verdict(True, None, "implausible")
    assert state.last == 21.0 and state.n == 3  # the impossible value was not learned


def test_a_replayed_reading_never_moves_the_state_twice() -> None:
    _, state = _run(_noise(40))
    before = state.to_dict()
    z = detectors.ZScore()
    again = [z.observe(state, r) for r in _series(_noise(40)[30:], start_seq=31)]
    assert state.to_dict() == before
    assert len(again) == 10


def test_the_level_is_relearned_after_a_long_flagged_run() -> None:
    verdicts, state = _run(_noise(50) + _noise(60, base=28.0, seed=2))
    assert verdicts[55].is_anomaly  # the jump is flagged …
    assert not any(v.is_anomaly for v in verdicts[-10:])  # … until it is the new normal
    assert state.mean == pytest.approx(28.0, abs=0.5)


def test_state_round_trips_through_a_document() -> None:
    _, state = _run(_noise(20))
    doc = {"_id": "thermostat-01", **state.to_dict(), "unknown": 1}
    assert detectors.DeviceState.from_dict(doc) == state
    assert detectors.DeviceState.from_dict(None) == detectors.DeviceState()


def test_zscore_ignores_readings_without_temperature() -> None:
    state = detectors.DeviceState()
    assert detectors.ZScore().observe(state, {"seq": 1, "motion_detected": True}
                                      ) == detectors.Verdict(False, None)
    assert state == detectors.DeviceState()


# ------------------------------------------------------------------ median / MAD

def _mad_run(temps: list[float], state: detectors.DeviceState | None = None,
             start_seq: int = 1) -> tuple[list[detectors.Verdict], detectors.DeviceState]:
    state = state or detectors.DeviceState()
    mad = detectors.MedianMad()
    return [mad.observe(state, r) for r in _series(temps, start_seq)], state


def test_mad_is_quiet_on_noise_and_during_warm_up() -> None:
    verdicts, state = _mad_run(_noise(300))
    assert sum(v.is_anomaly for v in verdicts) <= 2
    assert all(v.score is None for v in verdicts[:10])
    assert len(state.window) == detectors.MedianMad().window and state.last_seq == 300


def test_mad_flags_spikes_of_any_sign_relative_to_the_device() -> None:
    hot_room = _noise(60, base=38.0)
    verdicts, _ = _mad_run(hot_room + [33.0] + _noise(5, base=38.0, seed=3) + [44.0])
    assert verdicts[60].is_anomaly and verdicts[60].rule == "median-mad"  # below 35 °C
    assert verdicts[-1].is_anomaly
    assert not any(v.is_anomaly for v in verdicts[61:66])  # one outlier leaves the median


def test_mad_is_blind_to_a_stuck_sensor_and_absorbs_a_long_level_change() -> None:
    stuck, _ = _mad_run(_noise(50) + [21.37] * 8)
    assert not any(v.is_anomaly for v in stuck[50:])
    shifted, _ = _mad_run(_noise(50) + _noise(60, base=28.0, seed=2))
    assert shifted[51].is_anomaly
    assert not any(v.is_anomaly for v in shifted[-20:])


def test_mad_never_moves_its_window_on_a_replay() -> None:
    _, state = _mad_run(_noise(40))
    before = state.to_dict()
    _mad_run(_noise(40)[30:], state, start_seq=31)
    assert state.to_dict() == before


# ------------------------------------------------------------------ every detector at once

def test_detectors_judge_returns_one_verdict_per_name_of_DETECTORS() -> None:
    every = detectors.Detectors(threshold_c=30.0)
    state = detectors.DeviceState()
    verdicts = [every.judge(state, r) for r in _series(_noise(40) + [33.0])]
    assert all(tuple(v) == detectors.DETECTORS for v in verdicts)
    assert {name: v.is_anomaly for name, v in verdicts[-1].items()} == dict.fromkeys(
        detectors.DETECTORS, True)
    assert state.n == 40 and len(state.window) == 31 and state.last_seq == 41
    motion = every.judge(None, {"seq": 1, "motion_detected": True})
    assert motion == dict.fromkeys(detectors.DETECTORS, detectors.Verdict(False, None))


def test_a_replay_moves_neither_stateful_detector() -> None:
    every = detectors.Detectors()
    state = detectors.DeviceState()
    for reading in _series(_noise(40)):
        every.judge(state, reading)
    before = state.to_dict()
    again = [every.judge(state, r) for r in _series(_noise(40)[20:], start_seq=21)]
    assert state.to_dict() == before and len(again) == 20
    stored = detectors.DeviceState.from_dict({"_id": "thermostat-01", **before})
    assert stored == state
