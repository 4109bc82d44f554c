"""The ``recent_events`` view's segments and trim groups, replayed against an in-memory
model of the collection (what the sink inserts and deletes, slice by slice)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from system.processor import views

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ViewModel:
    """The collection as a dict of segments: ``insert_many`` (duplicates refused) and
    ``DeleteMany({"trim_group": g})``, as the sink sends them."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def apply_slice(self, events: list[dict[str, Any]]) -> None:
        for doc in views.segments(events):
            self.docs.setdefault(doc["_id"], doc)
        seqs: dict[str, list[int]] = {}
        for e in events:
            seqs.setdefault(e["device_id"], []).append(e["seq"])
        expired = set(views.expired_groups({d: (min(s), max(s)) for d, s in seqs.items()}))
        self.docs = {k: v for k, v in self.docs.items() if v["trim_group"] not in expired}


def reading(device: str, seq: int, anomaly: bool) -> dict[str, Any]:
    return {"event_id": f"{device}-{seq}", "device_id": device, "device_type": "thermostat",
            "seq": seq, "timestamp": (BASE + timedelta(seconds=seq)).isoformat(),
            "event_time": BASE + timedelta(seconds=seq), "temperature_celsius": 21.5,
            "humidity_percent": 40.0, "is_anomaly": anomaly, "detector": "threshold",
            "anomaly_score": 21.5, "written_at": BASE}


def run_slices(per_slice: int, slices: int, devices: int = 3, seed: int = 7
               ) -> tuple[ViewModel, dict[str, list[dict[str, Any]]]]:
    rng = random.Random(seed)
    model, history = ViewModel(), {f"thermostat-{d:02d}": [] for d in range(devices)}
    for _ in range(slices):
        events = []
        for device, sent in history.items():
            for _ in range(per_slice):
                event = reading(device, len(sent) + 1, rng.random() < 0.1)
                sent.append(event)
                events.append(event)
        model.apply_slice(events)
    return model, history


@pytest.mark.parametrize("per_slice", [1, 7, 64, 150, 700])
def test_the_view_holds_each_devices_windows_and_stays_bounded(per_slice: int) -> None:
    model, history = run_slices(per_slice, slices=max(3, 3000 // per_slice))
    windows = views.device_windows(list(model.docs.values()))
    for device, sent in history.items():
        newest = sent[-views.RECENT_PER_DEVICE:]
        assert [e["seq"] for e in windows[device]["events"]] == [e["seq"] for e in newest]
        horizon = sent[-1]["seq"] - views.ANOMALY_HORIZON
        anomalies = [e["seq"] for e in sent if e["is_anomaly"] and e["seq"] > horizon]
        assert [e["seq"] for e in windows[device]["anomalies"]] == \
            anomalies[-views.ANOMALIES_PER_DEVICE:]
    # Per device at most: the readings of its windows plus a trim group's lag, each entry
    # kept at most twice (an anomaly is in both kinds of segments).
    entries = sum(len(json.loads(d["entries"])) for d in model.docs.values())
    bound = len(history) * 2 * (views.ANOMALY_HORIZON + views.TRIM_GROUP + per_slice)
    assert entries <= bound


def test_entries_come_back_as_the_dashboard_shows_them() -> None:
    event = reading("thermostat-01", 5, anomaly=True)
    (recent, anomalies) = views.segments([event])
    assert (recent["kind"], anomalies["kind"]) == ("recent", "anomalies")
    assert recent["_id"] == "thermostat-01/recent/5-5"
    assert isinstance(recent["entries"], str)  # one field for FerretDB, whatever the size
    shown = views.device_windows([recent])["thermostat-01"]["events"][0]
    assert shown == {k: v for k, v in event.items()}


def test_a_slice_inserts_only_what_it_has_not_already_pushed_out() -> None:
    events = [reading("thermostat-01", seq, anomaly=seq in (10, 600)) for seq in range(1, 1001)]
    recent, anomalies = views.segments(events)
    seqs = [e["seq"] for e in views.device_windows([recent])["thermostat-01"]["events"]]
    assert seqs == list(range(901, 1001))  # the newest RECENT_PER_DEVICE
    assert anomalies["_id"] == "thermostat-01/anomalies/600-600"  # 10 is past the horizon


def test_a_replayed_slice_names_the_same_segments() -> None:
    events = [reading("thermostat-01", seq, anomaly=False) for seq in range(40, 60)]
    assert [d["_id"] for d in views.segments(events)] == \
        [d["_id"] for d in views.segments(list(reversed(events)))]


@pytest.mark.parametrize("first,last,groups", [
    (1, 150, []),                      # nothing has expired yet: last expiry point 199
    (150, 205, [0]),                   # 199 passed
    (200, 210, [0]),                   # 199 just before: within GAP_SLACK
    (211, 380, []),                    # group 0 was this device's previous slice's
    (390, 800, [1, 2, 3]),             # 399, 599, 799
])
def test_expired_groups_are_those_whose_last_expiry_point_a_slice_passed(
        first: int, last: int, groups: list[int]) -> None:
    assert views.TRIM_GROUP == 200 and views.GAP_SLACK == 10
    assert views.expired_groups({"d": (first, last)}) == [f"d/{g}" for g in groups]
