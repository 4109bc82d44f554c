"""Every Mongo query of the dashboard, written to run on both MongoDB and FerretDB v1.

Totals come from ``device_stats`` (one small document per device, kept by the processor for
newly inserted events only), so ``/api/stats`` never scans ``processed_data``. Recent-N reads
merge ``recent_events`` (per device, its newest events and anomalies; see
``system/processor/views.py``): FerretDB v1 pushes no sort down to its backend, so a sorted
read of ``processed_data`` would decode the whole collection on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from system.processor import views
from system.store_contract import DEAD_LETTER, DEVICE_STATS, PROCESSED, RECENT

from .serialize import iso_utc, to_json

THERMOSTAT = "thermostat"

POINT_PROJECTION = {
    "_id": 0,
    "timestamp": 1,
    "event_time": 1,
    "temperature_celsius": 1,
    "humidity_percent": 1,
    "is_anomaly": 1,
}


def _windows(db: Database) -> dict[str, dict[str, Any]]:
    """Every device's recent windows: one read of the (small) ``recent_events`` view."""
    return views.device_windows(list(db[RECENT].find({})))


@dataclass
class RecentSnapshot:
    """Every window of ``recent_events`` read once, merged and JSON-ready.

    Reading it decodes every segment of the view (each a few fields and one JSON array),
    and merging a few thousand entries costs the Python worker about as much again.
    Built once per bounded-staleness period (``RECENT_CACHE_SECONDS``), it answers
    /api/data, /api/anomalies and the temperature series by slicing.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    """Newest first, all devices."""
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    """Newest first, all devices."""
    by_device: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per device, its events oldest first (raw, for ``_points``)."""

    def points(self, device_id: str, limit: int) -> list[dict[str, Any]]:
        return _points(self.by_device.get(device_id, []), limit)


def _newest_first(windows: dict[str, dict[str, Any]], field_name: str
                  ) -> list[dict[str, Any]]:
    merged = [e for window in windows.values() for e in window.get(field_name, [])]
    merged.sort(key=lambda e: (e["event_time"], e.get("seq", 0)), reverse=True)
    return [to_json(e) for e in merged]


def recent_snapshot(db: Database) -> RecentSnapshot:
    """One read of ``recent_events`` (both windows of every device)."""
    windows = _windows(db)
    return RecentSnapshot(
        events=_newest_first(windows, "events"),
        anomalies=_newest_first(windows, "anomalies"),
        by_device={device: w.get("events", []) for device, w in windows.items()},
    )


def device_summary(db: Database, device_id: str) -> dict[str, Any] | None:
    return db[DEVICE_STATS].find_one({"_id": device_id})


def _points(events: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` readings, oldest first (ready to plot)."""
    keep = [k for k, v in POINT_PROJECTION.items() if v]
    return [to_json({k: e[k] for k in keep if k in e}) for e in events[-limit:]]


def recent_points_by_device(
    db: Database, device_ids: list[str], limit: int
) -> dict[str, list[dict[str, Any]]]:
    """The newest ``limit`` readings of each device, oldest first, in one small read."""
    windows = _windows(db)
    return {device_id: _points(windows.get(device_id, {}).get("events", []), limit)
            for device_id in device_ids}


def all_device_stats(db: Database) -> list[dict[str, Any]]:
    return list(db[DEVICE_STATS].find({}).sort("_id", 1))


def summary_stats(db: Database) -> dict[str, Any]:
    devices = all_device_stats(db)
    total = sum(int(d.get("count", 0)) for d in devices)
    anomalies = sum(int(d.get("anomalies", 0)) for d in devices)
    temp_sum = sum(float(d.get("temp_sum", 0.0)) for d in devices)
    temp_count = sum(int(d.get("temp_count", 0)) for d in devices)
    last_times = [d["last_event_time"] for d in devices if d.get("last_event_time") is not None]
    return {
        "total": total,
        "anomalies": anomalies,
        "avg_temperature": temp_sum / temp_count if temp_count else None,
        "device_count": sum(1 for d in devices if int(d.get("count", 0)) > 0),
        "anomaly_rate": anomalies / total if total else 0.0,
        "dead_letters": db[DEAD_LETTER].estimated_document_count(),
        "last_event_time": iso_utc(max(last_times)) if last_times else None,
    }


def chart_data(db: Database, points: int, max_series: int) -> dict[str, Any]:
    """What the page's three charts plot, from device_stats plus one indexed read per series."""
    devices = [d for d in all_device_stats(db) if int(d.get("count", 0)) > 0]
    thermostats = [d["_id"] for d in devices if d.get("device_type") == THERMOSTAT]
    by_type: dict[str, int] = {}
    for d in devices:
        kind = str(d.get("device_type", "unknown"))
        by_type[kind] = by_type.get(kind, 0) + int(d.get("count", 0))
    series = recent_points_by_device(db, thermostats[:max_series], points)
    return {
        "temperature_series": [
            {"device_id": device_id, "points": device_points}
            for device_id, device_points in series.items()
        ],
        "thermostat_count": len(thermostats),
        "device_distribution": {
            "by_device": [
                {
                    "device_id": d["_id"],
                    "device_type": d.get("device_type"),
                    "count": int(d.get("count", 0)),
                }
                for d in devices
            ],
            "by_type": by_type,
        },
        "anomalies_by_device": [
            {
                "device_id": d["_id"],
                "device_type": d.get("device_type"),
                "anomalies": int(d.get("anomalies", 0)),
            }
            for d in devices
        ],
    }


def _keys_are_event_ids(db: Database) -> bool:
    """True when ``processed_data`` is keyed by event id (the idempotent sink), judged from
    one document: ``find_one({})`` is the one read FerretDB v1 answers without a scan
    (the runner empties the collections before each run, so one layout holds throughout)."""
    sample = db[PROCESSED].find_one({}, {"_id": 1, "event_id": 1})
    return sample is None or sample["_id"] == sample.get("event_id")


def find_events(db: Database, event_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored record of each id that is stored (JSON-ready, without ``_id``).

    Keyed by event id (the idempotent sink): one ``_id`` read per id, because FerretDB v1
    evaluates ``$in`` by decoding every document in Go, while it pushes an ``_id`` equality
    down. On PostgreSQL that equality is an index lookup (the stack adds the index FerretDB
    lacks, ``system/stack/postgres_setup.sql``); on SQLite it still visits every row (~3 µs
    per stored document and id). In ``append`` sink mode ``_id`` is an
    ObjectId and ``event_id`` a plain field, so no ``_id`` read can match: one ``event_id``
    query finds them all (it decodes the whole collection once; a document of either layout
    carries ``event_id``). A replayed event stored twice is answered with one copy.
    """
    collection = db[PROCESSED]
    if _keys_are_event_ids(db):
        docs = (collection.find_one({"_id": event_id}) for event_id in event_ids)
    else:
        docs = collection.find({"event_id": {"$in": event_ids}})
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc is not None:
            found.setdefault(doc.get("event_id", doc["_id"]), doc)
    return {event_id: _record(doc) for event_id, doc in found.items()}


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    return to_json({key: value for key, value in doc.items() if key != "_id"})
