"""``recent_events``: per device, its newest events and newest anomalies.

FerretDB v1 (SQLite) pushes neither filters nor sorts down to SQLite: "the newest 100 of
``processed_data``" reads the whole collection, seconds at a few tens of thousands of rows.
So the processor keeps, next to each insert, one small document per device with its last
``RECENT_PER_DEVICE`` events and anomalies; the dashboard's recent-N reads merge those few
documents instead of scanning. On real MongoDB it is just as right, and cheaper than an
index scan per request.

Merging is idempotent (by ``event_id``, the stored copy wins), so a replayed micro-batch
leaves the view as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

COLLECTION = "recent_events"
RECENT_PER_DEVICE = 100
ANOMALIES_PER_DEVICE = 50

FIELDS = ("event_id", "device_id", "device_type", "seq", "timestamp", "event_time",
          "temperature_celsius", "humidity_percent", "motion_detected", "camera_status",
          "is_anomaly", "detector", "anomaly_score", "stored_at")
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


def merge(existing: dict[str, Any] | None, device_id: str, device_type: str,
          new_events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE) -> dict[str, Any]:
    """The device's view document after adding ``new_events`` (oldest first inside)."""
    old_events = (existing or {}).get("events", [])
    old_anomalies = (existing or {}).get("anomalies", [])
    entries = [_entry(e) for e in new_events]
    return {
        "_id": device_id,
        "device_type": device_type,
        "events": _newest([*old_events, *entries], keep),
        "anomalies": _newest([*old_anomalies, *(e for e in entries if e.get("is_anomaly"))],
                             min(keep, ANOMALIES_PER_DEVICE)),
    }


def documents_for(events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE
                  ) -> list[dict[str, Any]]:
    """The whole view built from scratch (tests fill a database with it)."""
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_device[e["device_id"]].append(e)
    return [merge(None, device, evs[0]["device_type"], evs, keep)
            for device, evs in by_device.items()]


def update(db: Any, events: list[dict[str, Any]], keep: int = RECENT_PER_DEVICE) -> None:
    """Fold ``events`` (already stored) into their devices' view documents."""
    from pymongo import ReplaceOne

    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_device[e["device_id"]].append(e)
    existing = {d["_id"]: d for d in db[COLLECTION].find({"_id": {"$in": list(by_device)}})}
    ops = [ReplaceOne({"_id": device},
                      merge(existing.get(device), device, evs[0]["device_type"], evs, keep),
                      upsert=True)
           for device, evs in by_device.items()]
    write_in_chunks(db[COLLECTION], ops)


BULK_CHUNK = 50
"""FerretDB v1.24 hangs a database for good when one update command matches 100 or more
existing documents (it holds a pooled SQLite connection per statement; the pool has 100),
so update bulks are sent in chunks well below that."""


def write_in_chunks(collection: Any, ops: list[Any]) -> None:
    for start in range(0, len(ops), BULK_CHUNK):
        collection.bulk_write(ops[start:start + BULK_CHUNK], ordered=False)
