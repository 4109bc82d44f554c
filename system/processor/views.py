"""``recent_events``: per device, its newest events and newest anomalies.

FerretDB v1 (SQLite) pushes neither filters nor sorts down to SQLite: "the newest 100 of
``processed_data``" reads the whole collection, seconds at a few tens of thousands of rows.
So the processor keeps, next to each insert, a small view of each device's last
``RECENT_PER_DEVICE`` events and ``ANOMALIES_PER_DEVICE`` anomalies; the dashboard's recent-N
reads merge that view instead of scanning. On real MongoDB it is just as right.

One document per Kafka partition (``_id`` "p<partition>", ``devices.<device_id>`` = that
device's windows): a Spark task owns one partition's offset range, and the producer keys by
device, so each micro-batch task rewrites exactly one document — FerretDB reads the whole
collection for every write by ``_id``, so fewer, larger writes cost far less than one per
device. Merging is idempotent (by ``event_id``, the stored copy wins), so a replayed
micro-batch leaves the view as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from system.store_contract import RECENT

RECENT_PER_DEVICE = 100
ANOMALIES_PER_DEVICE = 50

FIELDS = ("event_id", "device_id", "device_type", "seq", "timestamp", "event_time",
          "temperature_celsius", "humidity_percent", "motion_detected", "camera_status",
          "is_anomaly", "detector", "anomaly_score", "written_at")
"""What the dashboard shows of an event; the view is rewritten every micro-batch, so it
carries no more than that (the full document stays in ``processed_data``)."""


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in FIELDS if k in event}


def _newest(entries: Iterable[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    unique: dict[str, dict[str, Any]] = {}
    for e in entries:
        unique.setdefault(e["event_id"], e)  # the first (already stored) copy wins
    ordered = sorted(unique.values(), key=lambda e: (e["event_time"], e.get("seq", 0)))
    return ordered[-keep:]


def merge(existing: dict[str, Any] | None, device_type: str,
          new_events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE) -> dict[str, Any]:
    """One device's windows after adding ``new_events`` (oldest first inside)."""
    old_events = (existing or {}).get("events", [])
    old_anomalies = (existing or {}).get("anomalies", [])
    entries = [_entry(e) for e in new_events]
    return {
        "device_type": device_type,
        "events": _newest([*old_events, *entries], keep),
        "anomalies": _newest([*old_anomalies, *(e for e in entries if e.get("is_anomaly"))],
                             min(keep, ANOMALIES_PER_DEVICE)),
    }


def _by_partition_and_device(events: list[dict[str, Any]]
                             ) -> dict[str, dict[str, list[dict[str, Any]]]]:
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        grouped[f"p{e.get('kafka_partition', 0)}"][e["device_id"]].append(e)
    return grouped


def _document(doc_id: str, existing: dict[str, Any] | None,
              by_device: dict[str, list[dict[str, Any]]], keep: int) -> dict[str, Any]:
    devices = dict((existing or {}).get("devices", {}))
    for device, evs in by_device.items():
        devices[device] = merge(devices.get(device), evs[0]["device_type"], evs, keep)
    return {"_id": doc_id, "devices": devices}


def documents_for(events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE
                  ) -> list[dict[str, Any]]:
    """The whole view built from scratch (tests fill a database with it)."""
    return [_document(doc_id, None, by_device, keep)
            for doc_id, by_device in _by_partition_and_device(events).items()]


def update(db: Any, events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE) -> None:
    """Fold ``events`` (already stored) into their partitions' view documents."""
    from pymongo import ReplaceOne

    grouped = _by_partition_and_device(events)
    existing = {d["_id"]: d for d in db[RECENT].find({"_id": {"$in": list(grouped)}})}
    write_in_chunks(db[RECENT], [
        ReplaceOne({"_id": doc_id}, _document(doc_id, existing.get(doc_id), by_device, keep),
                   upsert=True)
        for doc_id, by_device in grouped.items()])


def add_device_stats(stats: dict[str, dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Fold newly stored events into ``device_stats`` documents (keyed by device id): the
    totals the sink keeps with ``$inc``, for code that fills a database without Spark."""
    for e in events:
        s = stats.setdefault(e["device_id"], {
            "_id": e["device_id"], "device_type": e["device_type"], "count": 0,
            "anomalies": 0, "temp_sum": 0.0, "temp_count": 0,
            "last_event_time": e["event_time"]})
        s["count"] += 1
        s["anomalies"] += int(e["is_anomaly"])
        if "temperature_celsius" in e:
            s["temp_sum"] += e["temperature_celsius"]
            s["temp_count"] += 1
        s["last_event_time"] = max(s["last_event_time"], e["event_time"])


def device_windows(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every device's windows from the view's documents (what the dashboard reads)."""
    return {device: window for doc in docs for device, window in doc.get("devices", {}).items()}


BULK_CHUNK = 50
"""FerretDB v1.24 hangs a database for good when one update command matches 100 or more
existing documents (it holds a pooled SQLite connection per statement; the pool has 100),
so update bulks are sent in chunks well below that."""


def write_in_chunks(collection: Any, ops: list[Any]) -> None:
    for start in range(0, len(ops), BULK_CHUNK):
        collection.bulk_write(ops[start:start + BULK_CHUNK], ordered=False)
