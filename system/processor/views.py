"""``recent_events``: per device, its newest events and newest anomalies.

FerretDB v1 pushes no sort down to its backend, and a filter only when it is an equality on a
scalar field: "the newest 100 of ``processed_data``" reads the whole collection into Go,
seconds at a few tens of thousands of documents. So the processor keeps, next to each
insert, a small bounded copy of the newest readings; the dashboard's recent-N reads merge
that view instead of scanning. On real MongoDB it is just as right.

**Insert-only segments, trimmed by equality.** Per partition slice and device, the sink
inserts (one ``insert_many`` per slice) a ``recent`` segment — the slice's readings of that
device that are still among its newest ``RECENT_PER_DEVICE`` — and, when the slice has any,
an ``anomalies`` segment — its anomalies still among the device's newest
``ANOMALY_HORIZON`` readings. A segment is one document: what its entries share (device,
detector, ``written_at``) as fields, and its entries (what the dashboard shows of each event)
as one JSON array in ``entries``, because FerretDB converts every field of every document on
insert and again on every read or delete, and one string is one field. Its ``_id`` names
device, kind and ``seq`` range, so a replayed slice hits the unique key and changes nothing.
A segment has *expired* once its device's newest ``seq`` reaches its last entry's ``seq`` +
its window (``expires_at``); it carries ``trim_group`` =
``"<device>/<expires_at // TRIM_GROUP>"``, and when a slice's readings pass a group's last
expiry point the slice deletes that group: one equality ``DeleteMany`` per group, all in one
bulk. FerretDB pushes that equality down, so only the expired segments are decoded. A group
is deleted at most ``TRIM_GROUP`` readings late; a device that skips more than ``GAP_SLACK``
readings right across a group's expiry point (lost or dead-lettered there) leaves that group
behind, which only costs room: readers keep each device's windows whatever the view holds.

Readers merge a device's segments (an event in two segments counts once) and keep its newest
``RECENT_PER_DEVICE`` events and ``ANOMALIES_PER_DEVICE`` anomalies.

Why this shape, measured on our 2-core machine: a view rewritten in place each batch cost
1.8 s of a 5 s micro-batch at 50 events/s on SQLite (run 20261203-154722-breakdown). Its
successor, one entry per event trimmed by one ``delete_many`` whose ``$or`` of per-device
``seq`` ranges FerretDB does not push down, decoded the whole view in Go on every trim: 49 %
of a batch at 640 events/s on PostgreSQL (``pipeline.md`` of 2026-12-04) and ~1 ms per event
in the sink alone. FerretDB converts every field of every document it writes, reads or
deletes, so the entries travel as one string; the sink path with these segments is in
``benchmarks/results/sink-path.md``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from system.store_contract import DUPLICATE_KEY, RECENT

RECENT_PER_DEVICE = 100
ANOMALIES_PER_DEVICE = 50
ANOMALY_HORIZON = 500
"""Anomaly entries are kept while they are among their device's newest 500 readings."""
TRIM_GROUP = 200
"""Segments expiring within this many readings of each other share one ``trim_group``."""
GAP_SLACK = 10
"""A slice also deletes groups that expired up to this many readings before its first."""

SEGMENT_FIELDS = ("device_id", "device_type", "detector", "written_at")
"""Fields every entry of one slice's segment shares, kept once on the segment."""
ENTRY_FIELDS = ("event_id", "seq", "timestamp", "event_time", "temperature_celsius",
                "humidity_percent", "motion_detected", "camera_status", "is_anomaly",
                "anomaly_score")
"""What the dashboard shows of an event besides ``SEGMENT_FIELDS`` (the full document stays
in ``processed_data``)."""
ENTRY_TIMES = ("event_time",)
"""Entry fields that are datetimes (ISO-8601 in the JSON, datetimes again when read)."""
WINDOWS = {"recent": RECENT_PER_DEVICE, "anomalies": ANOMALY_HORIZON}
"""Segment kind → how many newer readings of its device its entries outlive."""


def _trim_group(device: str, group: int) -> str:
    return f"{device}/{group}"


def _segment(kind: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One device's ``events`` (in ``seq`` order) as a segment of ``kind``."""
    first, last = events[0], events[-1]
    expires_at = last["seq"] + WINDOWS[kind]
    return {"_id": f"{first['device_id']}/{kind}/{first['seq']}-{last['seq']}",
            **{k: first[k] for k in SEGMENT_FIELDS if k in first},
            "kind": kind, "expires_at": expires_at,
            "trim_group": _trim_group(first["device_id"], expires_at // TRIM_GROUP),
            "entries": json.dumps([{k: e[k] for k in ENTRY_FIELDS if k in e} for e in events],
                                  separators=(",", ":"), default=datetime.isoformat)}


def _entries(segment: dict[str, Any]) -> list[dict[str, Any]]:
    entries = json.loads(segment.get("entries") or "[]")
    for entry in entries:
        for name in ENTRY_TIMES:
            if isinstance(entry.get(name), str):
                entry[name] = datetime.fromisoformat(entry[name])
    return entries


def segments(events: list[dict[str, Any]], live_only: bool = True) -> list[dict[str, Any]]:
    """Per device of ``events``, its ``recent`` and ``anomalies`` segments; with
    ``live_only``, only the entries that have not expired within ``events`` themselves."""
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_device[e["device_id"]].append(e)
    docs = []
    for _device, readings in sorted(by_device.items()):
        readings.sort(key=lambda e: e["seq"])
        newest = readings[-1]["seq"] if live_only else float("-inf")
        for kind, window in WINDOWS.items():
            keep = [e for e in readings if e["seq"] + window > newest
                    and (kind == "recent" or e.get("is_anomaly"))]
            if keep:
                docs.append(_segment(kind, keep))
    return docs


def update(db: Any, events: list[dict[str, Any]], timings: Any) -> None:
    """Insert the segments of ``events`` (already stored), then delete the groups of
    segments that this slice's readings expired."""
    from pymongo import DeleteMany
    from pymongo.errors import BulkWriteError

    with timings.step(f"{RECENT}.insert_many"):
        try:
            db[RECENT].insert_many(segments(events), ordered=False)
        except BulkWriteError as exc:  # a replayed slice: its segments are there already
            if any(err.get("code") != DUPLICATE_KEY
                   for err in exc.details.get("writeErrors", [])):
                raise
    seqs: dict[str, list[int]] = defaultdict(list)
    for e in events:
        seqs[e["device_id"]].append(e["seq"])
    expired = expired_groups({device: (min(s), max(s)) for device, s in seqs.items()})
    if expired:
        with timings.step(f"{RECENT}.bulk_write"):
            db[RECENT].bulk_write([DeleteMany({"trim_group": g}) for g in expired],
                                  ordered=False)


def expired_groups(seq_ranges: dict[str, tuple[int, int]]) -> list[str]:
    """The ``trim_group`` of every group whose last segment expired in a slice holding, per
    device, readings ``(first seq, last seq)`` — or up to ``GAP_SLACK`` readings before it.

    Group ``g`` holds segments expiring at ``g·TRIM_GROUP … (g+1)·TRIM_GROUP − 1``: all of
    them have expired once the device's newest ``seq`` reaches ``(g+1)·TRIM_GROUP − 1``."""
    groups = []
    for device, (first, last) in sorted(seq_ranges.items()):
        low = max(0, -(-(first - GAP_SLACK + 1) // TRIM_GROUP) - 1)
        high = (last + 1) // TRIM_GROUP - 1
        groups += [_trim_group(device, g) for g in range(low, high + 1)]
    return groups


def documents_for(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The view's segments holding exactly ``events`` (tests and the API benchmark fill a
    database with them)."""
    return segments(events, live_only=False)


def _newest(entries: Iterable[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    unique: dict[str, dict[str, Any]] = {}
    for e in entries:
        unique.setdefault(e["event_id"], e)
    ordered = sorted(unique.values(), key=lambda e: (e["event_time"], e.get("seq", 0)))
    return ordered[-keep:]


def device_windows(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every device's windows from the view's segments (what the dashboard reads):
    ``{device: {"device_type", "events": [...], "anomalies": [...]}}``, oldest first; each
    entry carries its segment's ``SEGMENT_FIELDS``."""
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        shared = {k: doc[k] for k in SEGMENT_FIELDS if k in doc}
        by_device[doc["device_id"]].extend({**shared, **e} for e in _entries(doc))
    return {device: _windows_of(entries) for device, entries in by_device.items()}


def _windows_of(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """One device's windows; a segment not yet trimmed never widens them."""
    events = _newest(entries, RECENT_PER_DEVICE)
    horizon = max(e.get("seq", 0) for e in events) - ANOMALY_HORIZON
    anomalies = (e for e in entries if e.get("is_anomaly") and e.get("seq", 0) > horizon)
    return {"device_type": entries[0].get("device_type"), "events": events,
            "anomalies": _newest(anomalies, ANOMALIES_PER_DEVICE)}


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
