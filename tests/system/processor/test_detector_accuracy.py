"""The producer's ground truth discriminates the detectors (no Spark, no stack).

A generated fleet goes through the processor's own path — the Kafka message, the schema
(garbage is dead-lettered), then every detector in device order — and each detector is
scored against the ledger's truth as the accuracy report scores it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from system.processor import detectors, schema
from system.producer.devices import Fleet
from system.producer.schedule import RateProfile, Schedule
from system.producer.sender import encode_message

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _scores(matrix: Counter[str]) -> dict[str, float]:
    precision = matrix["tp"] / (matrix["tp"] + matrix["fp"])
    recall = matrix["tp"] / (matrix["tp"] + matrix["fn"])
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall)}


def _score_fleet(seed: int, thermostats: int = 5, motion: int = 5, count: int = 20_000
                 ) -> tuple[dict[str, dict[str, float]], Counter[str]]:
    fleet = Fleet(thermostats, motion, seed=seed)
    every = detectors.Detectors()
    states: dict[str, detectors.DeviceState] = defaultdict(detectors.DeviceState)
    matrices: dict[str, Counter[str]] = {name: Counter() for name in detectors.DETECTORS}
    dead: Counter[str] = Counter()
    for slot in Schedule(RateProfile.constant(200), len(fleet), count=count):
        event = fleet.next_event(slot.device_index, slot.offset_s)
        try:
            record = schema.parse(encode_message(event, T0 + slot.offset_s))
        except schema.Invalid as exc:
            dead[f"{event.truth_kind}/{schema.reason_kind(str(exc))}"] += 1
            continue
        if record["device_type"] != "thermostat":
            continue
        for name, verdict in every.judge(states[record["device_id"]], record).items():
            truth, flagged = event.truth_anomaly, verdict.is_anomaly
            matrices[name]["tp" if truth and flagged else "fp" if flagged
                           else "fn" if truth else "tn"] += 1
    return {name: _scores(m) for name, m in matrices.items()}, dead


@pytest.mark.parametrize("seed", [42, 7])
def test_the_threshold_rule_is_fallible_and_the_zscore_beats_it(seed: int) -> None:
    scores, dead = _score_fleet(seed)
    for name, s in scores.items():
        print(f"seed {seed} {name:9s} precision {s['precision']:.3f} "
              f"recall {s['recall']:.3f} F1 {s['f1']:.3f}")
    threshold = scores["threshold"]
    assert threshold["precision"] < 1, "no false positive: the hot rooms are missing"
    assert threshold["recall"] < 1, "no miss: every anomaly is above 35 °C again"
    assert scores["zscore"]["f1"] > threshold["f1"]
    assert scores["mad"]["f1"] > threshold["f1"]
    # Garbage never reaches a detector: every kind of it is dead-lettered.
    assert set(dead) == {"garbage/wrong type", "garbage/missing field", "garbage/out of range"}
