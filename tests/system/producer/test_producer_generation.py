"""The producer's pure parts: devices, anomalies, messages and the open-loop schedule."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from system.producer.devices import ANOMALY_KINDS, THRESHOLD_C, VALID_C, Event, Fleet
from system.producer.errors import ProducerError
from system.producer.schedule import RateProfile, Schedule
from system.producer.sender import encode_message, iso_utc


def _events(seed: int, count: int, thermostats: int = 5, motion: int = 5,
            rate: float = 100.0, **fleet_kw: object) -> list[Event]:
    fleet = Fleet(thermostats, motion, seed=seed, **fleet_kw)  # type: ignore[arg-type]
    return [fleet.next_event(slot.device_index, slot.offset_s)
            for slot in Schedule(RateProfile.constant(rate), len(fleet), count=count)]


def test_same_seed_same_events_and_truth_different_seed_different() -> None:
    first, again, other = _events(7, 3000), _events(7, 3000), _events(8, 3000)
    assert first == again
    assert [e.event_id for e in first] != [e.event_id for e in other]
    assert not {e.event_id for e in first} & {e.event_id for e in other}
    assert len({e.event_id for e in first}) == 3000
    assert [(e.device_id, e.seq) for e in first] == [(e.device_id, e.seq) for e in other]


def test_device_ids_follow_the_seed_and_seq_counts_from_one() -> None:
    events = _events(1, 40, thermostats=2, motion=2)
    assert [e.device_id for e in events[:4]] == ["thermostat-01", "thermostat-02",
                                                 "motion-sensor-01", "motion-sensor-02"]
    per_device: dict[str, list[int]] = {}
    for e in events:
        per_device.setdefault(e.device_id, []).append(e.seq)
    assert all(seqs == list(range(1, 11)) for seqs in per_device.values())


def test_anomaly_rate_within_tolerance_and_every_kind_appears() -> None:
    events = _events(3, 10_000, thermostats=10, motion=0)
    kinds = Counter(e.truth_kind for e in events if e.truth_anomaly)
    rate = sum(kinds.values()) / len(events)
    assert 0.075 <= rate <= 0.125, rate
    assert set(kinds) == set(ANOMALY_KINDS)
    garbage = Counter(e.truth_detail for e in events if e.truth_kind == "garbage")
    assert set(garbage) == {"garbage string", "garbage null", "garbage negative",
                            "garbage huge"}
    assert all(e.truth_kind is None for e in events if not e.truth_anomaly)


def test_anomaly_rate_and_mix_are_configurable() -> None:
    events = _events(4, 10_000, thermostats=10, motion=0, anomaly_rate=0.3,
                     kind_mix={"drift": 1.0})
    anomalous = [e for e in events if e.truth_anomaly]
    assert 0.25 <= len(anomalous) / len(events) <= 0.35
    assert {e.truth_kind for e in anomalous} == {"drift"}
    assert not any(e.truth_anomaly for e in _events(4, 2000, anomaly_rate=0.0))
    with pytest.raises(ProducerError):
        Fleet(1, 1, anomaly_rate=1.5)
    with pytest.raises(ProducerError):
        Fleet(1, 1, kind_mix={"meteor": 1.0})


def test_anomaly_kinds_have_their_shape() -> None:
    fleet = Fleet(4, 1, seed=5)
    events = [fleet.next_event(slot.device_index, slot.offset_s)
              for slot in Schedule(RateProfile.constant(100), len(fleet), count=20_000)]
    by_device: dict[str, list[Event]] = {}
    for e in events:
        by_device.setdefault(e.device_id, []).append(e)
    for e in events:
        value = e.fields.get("temperature_celsius")
        if e.truth_kind == "garbage":
            assert value in ("ERR", None, -999.0, 1e6)
        elif e.device_type == "thermostat":
            assert isinstance(value, float) and VALID_C[0] <= value <= VALID_C[1]
            assert 10.0 <= e.fields["humidity_percent"] <= 95.0
        if e.truth_kind is None and e.device_type == "thermostat":
            low, high = (30.0, 45.0) if e.device_id in fleet.hot_rooms else (10.0, 32.0)
            assert low < value < high, (e.device_id, value)
    spikes_checked = 0
    for readings in by_device.values():
        for before, e, after in zip(readings, readings[1:], readings[2:], strict=False):
            # a spike stands 3-18 °C off its neighbours' level (noise aside)
            if e.truth_kind == "spike" and before.truth_kind is None and after.truth_kind is None:
                level = (before.fields["temperature_celsius"]
                         + after.fields["temperature_celsius"]) / 2
                assert 3.0 - 2.5 <= abs(e.fields["temperature_celsius"] - level) <= 18.0 + 2.5
                spikes_checked += 1
    assert spikes_checked > 20
    # a stuck episode repeats exactly the reading before it, humidity included
    stuck_runs = 0
    for readings in by_device.values():
        for before, e in itertools.pairwise(readings):
            if e.truth_kind == "stuck" and before.truth_kind != "stuck":
                stuck_runs += 1
                assert e.fields == before.fields or before.truth_anomaly
    assert stuck_runs > 0
    # a drift episode moves monotonically away by >= 0.3 °C per reading (noise aside)
    for readings in by_device.values():
        episode = [e for e in readings if e.truth_kind == "drift"][:12]
        if len(episode) >= 12 and all(r.seq == episode[0].seq + i for i, r in enumerate(episode)):
            change = episode[-1].fields["temperature_celsius"] - episode[0].fields[
                "temperature_celsius"]
            assert abs(change) >= 11 * 0.3 - 2.5


def test_regimes_the_threshold_rule_cannot_see() -> None:
    """Hot rooms read above 35 °C when normal; spikes and drifts are not shaped around 35."""
    events = _events(11, 40_000, thermostats=10, motion=0)
    hot = Fleet(10, 0, seed=11).hot_rooms
    assert 1 <= len(hot) <= 2
    normal_hot = [e.fields["temperature_celsius"] for e in events
                  if e.device_id in hot and e.truth_kind is None]
    assert sum(t > THRESHOLD_C for t in normal_hot) > 0.9 * len(normal_hot)
    spikes = [e.fields["temperature_celsius"] for e in events if e.truth_kind == "spike"]
    assert any(t < THRESHOLD_C for t in spikes) and any(t > THRESHOLD_C for t in spikes)
    drift = [e for e in events if e.truth_kind == "drift"]
    crossed = {e.device_id for e in drift if e.fields["temperature_celsius"] > THRESHOLD_C
               and e.device_id not in hot}
    below = [e for e in drift if e.fields["temperature_celsius"] < THRESHOLD_C]
    assert crossed and below
    noise = {round(Fleet(10, 0, seed=11).devices[i].noise_c, 3) for i in range(10)}
    assert len(noise) == 10 and min(noise) >= 0.15 and max(noise) <= 0.6


@pytest.mark.parametrize("seed", [1, 2, 3, 42, 1234])
def test_the_seed_fleet_of_ten_devices_has_a_hot_room(seed: int) -> None:
    fleet = Fleet(5, 5, seed=seed)
    assert len(fleet.hot_rooms) == 1
    assert fleet.hot_rooms == Fleet(5, 5, seed=seed, run_id="other").hot_rooms
    assert not Fleet(2, 2, seed=seed).hot_rooms


def test_run_id_changes_the_event_ids_only() -> None:
    first = _events(7, 3000, run_id="20260101-000000-baseline")
    second = _events(7, 3000, run_id="20260101-000500-baseline")
    assert [(e.device_id, e.seq, e.fields, e.truth_anomaly, e.truth_kind, e.truth_detail)
            for e in first] == [(e.device_id, e.seq, e.fields, e.truth_anomaly, e.truth_kind,
                                 e.truth_detail) for e in second]
    assert not {e.event_id for e in first} & {e.event_id for e in second}
    assert _events(7, 500, run_id="r") == _events(7, 500, run_id="r")


def test_message_json_has_the_seed_fields_plus_ids_and_never_the_truth() -> None:
    for event in _events(6, 500):
        message = json.loads(encode_message(event, 1760630440.633871))
        assert message["timestamp"] == "2025-10-16T16:00:40.633871Z"
        assert message["event_id"] == event.event_id and message["seq"] == event.seq
        expected = ({"temperature_celsius", "humidity_percent"}
                    if event.device_type == "thermostat"
                    else {"motion_detected", "camera_status"})
        assert set(message) == {"event_id", "device_id", "seq", "timestamp"} | expected
        assert not {"is_anomaly", "truth_anomaly", "truth_kind"} & set(message)
    assert iso_utc(0.5) == "1970-01-01T00:00:00.500000Z"


def test_motion_sensors_are_mostly_online() -> None:
    events = _events(9, 20_000, thermostats=0, motion=5)
    status = Counter(e.fields["camera_status"] for e in events)
    assert status["online"] > 0.9 * len(events) and status["offline"] > 0
    assert {e.fields["motion_detected"] for e in events} == {True, False}


def test_constant_rate_schedules_exactly_i_over_rate() -> None:
    slots = list(Schedule(RateProfile.constant(500), 3, count=1000))
    assert len(slots) == 1000
    assert all(s.offset_s == pytest.approx(s.index / 500, abs=1e-12) for s in slots)
    assert [s.device_index for s in slots[:6]] == [0, 1, 2, 0, 1, 2]
    assert len(list(Schedule(RateProfile.constant(100), 3, duration_s=2.5))) == 250


def test_step_and_ramp_profiles_integrate_the_rate() -> None:
    steps = RateProfile([{"at_s": 0, "rate_eps": 100}, {"at_s": 2, "rate_eps": 400}])
    offsets = list(itertools.islice(steps.offsets(), 600))
    assert offsets[199] == pytest.approx(1.99) and offsets[200] == pytest.approx(2.0)
    assert offsets[201] == pytest.approx(2.0025) and offsets[599] == pytest.approx(2.9975)
    ramp = RateProfile([{"from_eps": 0, "to_eps": 100, "over_s": 10}, {"at_s": 20,
                                                                       "rate_eps": 0}])
    offsets = list(ramp.offsets())
    # integral of the ramp is 50 t^2 / 10 = 5 t^2; then 100/s from 10 s to 20 s
    assert len(offsets) == 500 + 1000
    assert offsets[20] == pytest.approx((20 / 5) ** 0.5)
    assert offsets[499] == pytest.approx((499 / 5) ** 0.5)
    assert offsets[700] == pytest.approx(10 + 200 / 100)
    assert ramp.rate_at(5.0) == pytest.approx(50.0)
    delayed = RateProfile([{"at_s": 3, "rate_eps": 10}])
    assert next(iter(delayed.offsets())) == 3.0
    with pytest.raises(ProducerError):
        RateProfile([{"rate": 3}])


def test_random_device_order_is_seeded() -> None:
    def order(seed: int) -> list[int]:
        return [s.device_index for s in Schedule(RateProfile.constant(10), 7, count=200,
                                                 device_order="random", seed=seed)]

    assert order(1) == order(1) != order(2)
    assert set(order(1)) == set(range(7))


def test_truth_and_ids_do_not_depend_on_the_rate_or_the_process_split() -> None:
    def truth(events: list[Event]) -> list[tuple[object, ...]]:
        return sorted((e.device_id, e.seq, e.event_id, e.truth_kind, e.truth_detail)
                      for e in events)

    slow = _events(12, 4000, rate=50.0)
    fast = _events(12, 4000, rate=5000.0)
    assert truth(slow) == truth(fast)
    # Two workers each build the whole fleet and generate only their own devices' readings.
    split: list[Event] = []
    for worker in (0, 1):
        fleet = Fleet(5, 5, seed=12)
        split += [fleet.next_event(slot.device_index, slot.offset_s)
                  for slot in Schedule(RateProfile.constant(50), len(fleet), count=4000)
                  if slot.device_index % 2 == worker]
    assert sorted(split, key=lambda e: (e.device_id, e.seq)) == sorted(
        slow, key=lambda e: (e.device_id, e.seq))
