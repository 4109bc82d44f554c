"""``recent_events``: per device, its newest events and newest anomalies.

FerretDB v1 (SQLite) pushes neither filters nor sorts down to SQLite: "the newest 100 of
``processed_data``" reads the whole collection, seconds at a few tens of thousands of rows.
So the processor keeps, next to each insert, a small bounded copy of the newest readings;
the dashboard's recent-N reads merge that view instead of scanning. On real MongoDB it is
just as right.

**Insert-only**: one small entry per stored event (``_id = event_id``, what the dashboard
shows of it), written by one ``insert_many`` per partition slice; a replayed micro-batch hits
the unique key and changes nothing. Now and then (when a slice crosses a multiple of
``TRIM_EVERY_OFFSETS`` of its Kafka partition) the slice trims its own devices with one
``delete_many``: per device, events older than its newest ``RECENT_PER_DEVICE`` readings by
``seq``, and anomalies older than ``ANOMALY_HORIZON`` readings. Readers keep, per device, the
newest ``RECENT_PER_DEVICE`` events and ``ANOMALIES_PER_DEVICE`` anomalies.

Why this shape, measured on FerretDB v1.24 / SQLite on our 2-core machine: one update
statement costs 20-45 ms whatever the document's size (a bulk of 20 ``$push`` by ``_id``:
443 ms; 20 deletes by ``_id`` of missing documents: 265 ms), while ``insert_many`` of 250 small
documents costs 63 ms. The earlier design read and rewrote one document per Kafka partition
holding every device's windows: 1.8 s of a 5 s micro-batch at 50 events/s
(``batch_timings.jsonl`` of run 20261203-154722-breakdown); one ``$push`` per device segment
was worse still (2.6 s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from system.store_contract import DUPLICATE_KEY, RECENT

RECENT_PER_DEVICE = 100
ANOMALIES_PER_DEVICE = 50
ANOMALY_HORIZON = 500
"""Anomaly entries are kept while they are among their device's newest 500 readings."""
TRIM_EVERY_OFFSETS = 500
"""A slice trims its devices' entries when it crosses a multiple of this Kafka offset."""

FIELDS = ("event_id", "device_id", "device_type", "seq", "timestamp", "event_time",
          "temperature_celsius", "humidity_percent", "motion_detected", "camera_status",
          "is_anomaly", "detector", "anomaly_score", "written_at")
"""What the dashboard shows of an event (the full document stays in ``processed_data``)."""


def _entry(event: dict[str, Any]) -> dict[str, Any]:
    return {"_id": event["event_id"], **{k: event[k] for k in FIELDS if k in event}}


def _newest(entries: Iterable[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    unique: dict[str, dict[str, Any]] = {}
    for e in entries:
        unique.setdefault(e["event_id"], e)  # the first (already stored) copy wins
    ordered = sorted(unique.values(), key=lambda e: (e["event_time"], e.get("seq", 0)))
    return ordered[-keep:]


def update(db: Any, events: list[dict[str, Any]], timings: Any) -> None:
    """Insert ``events``' entries (already stored); trim when a trim point is crossed."""
    from pymongo.errors import BulkWriteError

    with timings.step(f"{RECENT}.insert_many"):
        try:
            db[RECENT].insert_many([_entry(e) for e in events], ordered=False)
        except BulkWriteError as exc:  # a replayed batch: its entries are there already
            if any(err.get("code") != DUPLICATE_KEY
                   for err in exc.details.get("writeErrors", [])):
                raise
    offsets = [e["kafka_offset"] for e in events if "kafka_offset" in e]
    if offsets and min(offsets) // TRIM_EVERY_OFFSETS != (max(offsets) + 1) // TRIM_EVERY_OFFSETS:
        with timings.step(f"{RECENT}.delete_many"):
            db[RECENT].delete_many(trim_filter(events))


def trim_filter(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per device of ``events``, what has fallen out of its windows."""
    newest: dict[str, int] = {}
    for e in events:
        newest[e["device_id"]] = max(e["seq"], newest.get(e["device_id"], e["seq"]))
    return {"$or": [clause for device, seq in sorted(newest.items()) for clause in (
        {"device_id": device, "is_anomaly": {"$ne": True},
         "seq": {"$lte": seq - RECENT_PER_DEVICE}},
        {"device_id": device, "seq": {"$lte": seq - ANOMALY_HORIZON}})]}


def documents_for(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The view's entries for ``events`` (tests and the API benchmark fill a database)."""
    unique = {e["event_id"]: _entry(e) for e in events}
    return list(unique.values())


def device_windows(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every device's windows from the view's entries (what the dashboard reads):
    ``{device: {"device_type", "events": [...], "anomalies": [...]}}``, oldest first."""
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        by_device[doc["device_id"]].append({k: v for k, v in doc.items() if k != "_id"})
    return {device: {"device_type": entries[0].get("device_type"),
                     "events": _newest(entries, RECENT_PER_DEVICE),
                     "anomalies": _newest((e for e in entries if e.get("is_anomaly")),
                                          ANOMALIES_PER_DEVICE)}
            for device, entries in by_device.items()}


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


BULK_CHUNK = 50
"""FerretDB v1.24 hangs a database for good when one update command matches 100 or more
existing documents (it holds a pooled SQLite connection per statement; the pool has 100),
so update bulks are sent in chunks well below that."""


def write_in_chunks(collection: Any, ops: list[Any], timings: Any) -> None:
    """``timings``: the sink's ``SliceTimings`` (one ``<collection>.bulk_write`` per chunk)."""
    for start in range(0, len(ops), BULK_CHUNK):
        with timings.step(f"{collection.name}.bulk_write"):
            collection.bulk_write(ops[start:start + BULK_CHUNK], ordered=False)
