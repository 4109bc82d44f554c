"""The executor side of the job: one Kafka partition's slice of a micro-batch → MongoDB.

Runs inside Spark's Python workers (``foreachPartition``) and writes through the
``spark-mongo`` link with pymongo bulk writes. Two delivery modes (``SinkConfig.mode``):

``idempotent`` (default) — a replayed micro-batch (after a driver crash) changes nothing:

- events are inserted with ``_id = event_id``: a replayed one hits the unique key, keeps
  its first write and is noted in ``replays`` with the replayed record's Kafka coordinates;
- dead letters are inserted with ``_id`` = their Kafka coordinates, likewise (their
  replays are noted too, never swallowed);
- per-device statistics count each stored event once (a per-partition offset watermark,
  see ``_bump_device_stats``), even when a crash fell between the insert and the bump;
- the stateful detectors' per-device state skips readings at or below its ``last_seq``;
- the ``recent_events`` view (see ``views.py``) is insert-only segments whose ``_id``
  names device and ``seq`` range.

``append`` — the seed's naive design (plain inserts with a fresh ``_id``, as its Mongo Spark
connector does): a replayed micro-batch really stores its events twice, which the history
checker reports as storage duplicates.

Hop stamps (see DESIGN.md, Events and timestamps): ``processing_start`` is taken when the
slice's records are in hand (fetched from Kafka), before validation and any Mongo read;
``stored`` *after* the insert that stored the events was acknowledged. ``stored`` cannot go
into the documents it stamps, so every document of one slice attempt carries a ``write_id``
and the attempt's ``sink_writes`` document, inserted right after the acknowledgement,
carries the time (the export joins them).

Each Spark partition holds one Kafka partition's offset range and the producer keys by
device, so a device's readings arrive here in order and no two tasks share a device.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from system.processor import detectors, schema, views
from system.store_contract import (
    DATABASE,
    DEAD_LETTER,
    DETECTOR_STATE,
    DEVICE_STATS,
    DUPLICATE_KEY,
    PROCESSED,
    REPLAYS,
    SINK_WRITES,
)

MODES = ("idempotent", "append")

_clients: dict[str, Any] = {}
_pool: Any = None

INSERT_STREAMS = 2
"""Concurrent ``insert_many`` calls per slice (see ``_insert_side_by_side``)."""
INSERT_CHUNK = 500
"""A slice's insert is split only into calls of at least this many documents."""


@dataclass(frozen=True)
class SinkConfig:
    mongo_uri: str
    database: str = DATABASE
    primary_detector: str = "threshold"
    threshold_c: float = detectors.THRESHOLD_C
    topic: str = "iot-data"
    mode: str = "idempotent"
    """``idempotent`` or ``append`` (see the module docstring)."""


def _db(config: SinkConfig):
    """One client per Python worker process and URI (Spark reuses its Python workers)."""
    from pymongo import MongoClient

    client = _clients.get(config.mongo_uri)
    if client is None:
        client = MongoClient(config.mongo_uri, serverSelectionTimeoutMS=30_000, tz_aware=True,
                             retryWrites=True, appname="iotbench-processor")
        _clients[config.mongo_uri] = client
    return client[config.database]


@dataclass
class SliceTimings:
    """Where one partition slice's time went: per step, how many calls and how many ms.

    Steps: ``read`` (pulling rows from Spark, which fetches them from Kafka), ``validate``,
    ``detect`` (the detectors, CPU only) and one step per MongoDB operation, named
    ``<collection>.<operation>``. ``total_ms`` is the slice's wall time, from its first row
    request to its last acknowledgement, so the steps can be checked to cover it.
    """

    partition: int | None = None
    pid: int = field(default_factory=os.getpid)
    """The Python worker that ran the slice (Spark reuses its workers: repeats are expected)."""
    rows: int = 0
    dead: int = 0
    started: float = field(default_factory=time.time)
    total_ms: float = 0.0
    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, step: str, ms: float, calls: int = 1) -> None:
        entry = self.steps.setdefault(step, {"calls": 0, "ms": 0.0})
        entry["calls"] += calls
        entry["ms"] += ms

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - t0) * 1000)

    def as_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "pid": self.pid, "rows": self.rows,
                "dead": self.dead, "started": self.started, "total_ms": round(self.total_ms, 3),
                "steps": {k: {"calls": int(v["calls"]), "ms": round(v["ms"], 3)}
                          for k, v in self.steps.items()}}


def _utc(ms_or_dt: Any) -> datetime:
    if isinstance(ms_or_dt, datetime):
        # pyspark hands TimestampType values over as naive *local* times.
        return ms_or_dt.astimezone(timezone.utc)
    return datetime.fromtimestamp(ms_or_dt / 1000, tz=timezone.utc)


def write_partition(rows: Iterable[Any], config: SinkConfig) -> dict[str, Any]:
    """``rows``: Spark Rows with ``value`` (bytes), ``partition``, ``offset``, ``timestamp``.

    Returns the slice's :class:`SliceTimings` as a dict (the driver records them)."""
    t0 = time.perf_counter()
    timings = SliceTimings()
    # Spark's iterator fetches the records from Kafka as it is consumed: take them all first,
    # so that time counts as the record's wait for processing (append_to_processing), and
    # processing_start marks the records in hand, before validation and any Mongo call.
    with timings.step("read"):
        rows = list(rows)
    processing_start = datetime.now(timezone.utc)
    events: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    v0 = time.perf_counter()
    for row in rows:
        coords = {"kafka_partition": row.partition, "kafka_offset": row.offset,
                  "kafka_ts": _utc(row.timestamp)}
        try:
            record = schema.parse(row.value)
        except schema.Invalid as exc:
            raw = row.value or b""
            dead.append({**coords, "reason": str(exc), "reason_kind": schema.reason_kind(str(exc)),
                         "raw": raw[:schema.MAX_BYTES].decode("utf-8", "replace"),
                         "raw_bytes": len(raw)})
            continue
        events.append({**record, **coords})
    timings.add("validate", (time.perf_counter() - v0) * 1000, len(rows))
    timings.rows, timings.dead = len(events), len(dead)
    if events or dead:
        timings.partition = (events or dead)[0]["kafka_partition"]
        _write(_db(config), events, dead, processing_start, config, timings)
    timings.total_ms = (time.perf_counter() - t0) * 1000
    return timings.as_dict()


def _write(db: Any, events: list[dict[str, Any]], dead: list[dict[str, Any]],
           processing_start: datetime, config: SinkConfig, timings: SliceTimings) -> None:
    if events:
        states = _detect(db, events, config, timings)
        write_id = uuid.uuid4().hex
        written_at = datetime.now(timezone.utc)
        for event in events:
            event["processing_start"] = processing_start
            event["written_at"] = written_at  # insert issued (acknowledged: sink_writes)
            event["write_id"] = write_id
        inserted = (_insert_events(db, events, timings) if config.mode == "idempotent"
                    else _append_events(db, events, timings))
        with timings.step(f"{SINK_WRITES}.insert_one"):
            _note_write(db, write_id, events, processing_start, config.mode)
        _bump_device_stats(db, events, inserted, timings)
        views.update(db, events, timings=timings)
        _save_states(db, states, timings)
    if dead:
        with timings.step(f"{DEAD_LETTER}.insert_many"):
            _insert_dead_letters(db, dead, config)


def _note_write(db: Any, write_id: str, events: list[dict[str, Any]],
                processing_start: datetime, mode: str) -> None:
    """The attempt's ``sink_writes`` document: when its insert was acknowledged."""
    offsets = [e["kafka_offset"] for e in events]
    db[SINK_WRITES].insert_one({
        "_id": write_id, "kafka_partition": events[0]["kafka_partition"],
        "offset_from": min(offsets), "offset_to": max(offsets), "rows": len(events),
        "processing_start": processing_start, "stored": datetime.now(timezone.utc),
        "mode": mode})


def _detect(db: Any, events: list[dict[str, Any]], config: SinkConfig,
            timings: SliceTimings) -> dict[str, detectors.DeviceState]:
    """Run every detector on every event (``is_anomaly`` is the primary one's verdict);
    returns the stateful detectors' updated per-device states, saved after the events."""
    thermostats = sorted({e["device_id"] for e in events if e["device_type"] == "thermostat"})
    states: dict[str, detectors.DeviceState] = {}
    if thermostats:
        with timings.step(f"{DETECTOR_STATE}.find"):
            states = {d["_id"]: detectors.DeviceState.from_dict(d) for d in
                      db[DETECTOR_STATE].find({"_id": {"$in": thermostats}})}
    t0 = time.perf_counter()
    every_detector = detectors.Detectors(threshold_c=config.threshold_c)
    for event in events:
        state = (states.setdefault(event["device_id"], detectors.DeviceState())
                 if event["device_type"] == "thermostat" else None)
        verdicts = every_detector.judge(state, event)
        for name, verdict in verdicts.items():
            event[f"is_anomaly_{name}"] = verdict.is_anomaly
        primary = verdicts[config.primary_detector]
        event["is_anomaly"] = primary.is_anomaly
        event["detector"] = config.primary_detector
        event["anomaly_score"] = primary.score
        event["anomaly_rule"] = primary.rule
    timings.add("detect", (time.perf_counter() - t0) * 1000, len(events))
    return states


def _insert_events(db: Any, events: list[dict[str, Any]], timings: SliceTimings) -> set[str]:
    """Insert with ``_id = event_id``; returns the ids this call inserted.

    An event already stored (a replayed micro-batch) fails on the unique ``_id`` and is
    left as it was — the first write wins — and the replay is noted in ``replays`` with the
    replayed record's Kafka coordinates. Plain inserts, not upserts: FerretDB v1 scans the
    whole collection for every update, so an upsert per event slows down with every event
    stored.
    """
    docs = [{"_id": e["event_id"], **e} for e in events]
    with timings.step(f"{PROCESSED}.insert_many"):
        replayed = _insert_side_by_side(db[PROCESSED], docs)
    timings.add(f"{PROCESSED}.insert_many", 0.0, calls=_streams(len(docs)) - 1)
    if not replayed:
        return {e["event_id"] for e in events}
    with timings.step(f"{REPLAYS}.insert_many"):
        _note_replays(db, PROCESSED, replayed)
    return {e["event_id"] for e in events} - {d["event_id"] for d in replayed}


def _streams(documents: int) -> int:
    return max(1, min(INSERT_STREAMS, documents // INSERT_CHUNK))


def _insert_side_by_side(collection: Any, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert ``docs`` (unordered) as up to ``INSERT_STREAMS`` concurrent ``insert_many``
    calls of at least ``INSERT_CHUNK`` documents; returns those the unique key refused.

    One ``insert_many`` is served by one FerretDB goroutine and one PostgreSQL backend in
    turn while this task waits; two at once keep both of our cores' share of them busy
    (``python -m benchmarks.sink_path``: the insert's share of the sink path halved)."""
    from pymongo.errors import BulkWriteError

    size = -(-len(docs) // _streams(len(docs)))
    chunks = [docs[i:i + size] for i in range(0, len(docs), size)]

    def insert(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            collection.insert_many(chunk, ordered=False)
        except BulkWriteError as exc:
            return _duplicates(exc, chunk)
        return []

    if len(chunks) == 1:
        return insert(chunks[0])
    return [doc for refused in _insert_pool().map(insert, chunks) for doc in refused]


def _insert_pool() -> Any:
    """The threads that run a slice's concurrent inserts (one pool per Python worker)."""
    global _pool
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(INSERT_STREAMS, thread_name_prefix="iotbench-insert")
    return _pool


def _append_events(db: Any, events: list[dict[str, Any]], timings: SliceTimings) -> set[str]:
    """The seed's naive write: every record becomes a new document (no idempotent key)."""
    with timings.step(f"{PROCESSED}.insert_many"):
        db[PROCESSED].insert_many([dict(e) for e in events], ordered=False)
    return {e["event_id"] for e in events}


def _duplicates(exc: Any, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents of a bulk insert that hit an existing key; any other error re-raises."""
    errors = exc.details.get("writeErrors", [])
    if any(err.get("code") != DUPLICATE_KEY for err in errors):
        raise exc
    return [docs[err["index"]] for err in errors]


def _note_replays(db: Any, collection: str, replayed: list[dict[str, Any]]) -> None:
    at = datetime.now(timezone.utc)
    db[REPLAYS].insert_many([
        {"event_id": d.get("event_id"), "kafka_partition": d["kafka_partition"],
         "kafka_offset": d["kafka_offset"], "collection": collection, "at": at}
        for d in replayed])


def _bump_device_stats(db: Any, events: list[dict[str, Any]], inserted: set[str],
                       timings: SliceTimings) -> None:
    """Add each stored event to its device's statistics exactly once.

    Every device document remembers, per Kafka partition, the highest offset already
    counted (``applied.p<partition>``), and each update is conditional on that watermark,
    so a replay never counts twice. An event that is already stored counts only if this
    very Kafka record stored it — an earlier attempt that crashed between inserting the
    events and bumping the statistics — never if it is a re-sent duplicate.
    """
    from pymongo import UpdateOne

    devices = sorted({e["device_id"] for e in events})
    with timings.step(f"{DEVICE_STATS}.find"):
        current = {d["_id"]: d for d in db[DEVICE_STATS].find({"_id": {"$in": devices}})}

    def watermark(e: dict[str, Any]) -> int:
        applied = current.get(e["device_id"], {}).get("applied", {})
        return applied.get(f"p{e['kafka_partition']}", -1)

    fresh = [e for e in events if e["kafka_offset"] > watermark(e)]
    earlier = [e["event_id"] for e in fresh if e["event_id"] not in inserted]
    stored: dict[str, dict[str, Any]] = {}
    if earlier:
        with timings.step(f"{PROCESSED}.find"):
            stored = {d["_id"]: d for d in db[PROCESSED].find(
                {"_id": {"$in": earlier}}, {"kafka_partition": 1, "kafka_offset": 1,
                                            "is_anomaly": 1, "temperature_celsius": 1,
                                            "event_time": 1})}
    stats: dict[tuple[str, int], dict[str, Any]] = defaultdict(lambda: {
        "count": 0, "anomalies": 0, "temp_sum": 0.0, "temp_count": 0, "last": None, "to": -1})
    kinds: dict[str, str] = {}
    for e in fresh:
        s = stats[(e["device_id"], e["kafka_partition"])]
        kinds[e["device_id"]] = e["device_type"]
        s["to"] = max(s["to"], e["kafka_offset"])
        if e["event_id"] not in inserted:
            first = stored.get(e["event_id"])
            if first is None or (first.get("kafka_partition"), first.get("kafka_offset")) != (
                    e["kafka_partition"], e["kafka_offset"]):
                continue  # a duplicate of an event another record stored
            e = {**e, **first}
        s["count"] += 1
        s["anomalies"] += int(e["is_anomaly"])
        if e.get("temperature_celsius") is not None:
            s["temp_sum"] += float(e["temperature_celsius"])
            s["temp_count"] += 1
        if s["last"] is None or e["event_time"] > s["last"]:
            s["last"] = e["event_time"]
    ops = []
    for (device, partition), s in stats.items():
        key = f"applied.p{partition}"
        update: dict[str, Any] = {
            "$inc": {k: s[k] for k in ("count", "anomalies", "temp_sum", "temp_count")},
            "$set": {"device_type": kinds[device], key: s["to"]}}
        if s["last"] is not None:
            update["$max"] = {"last_event_time": s["last"]}
        if device not in current:
            ops.append(UpdateOne({"_id": device}, update, upsert=True))
        else:
            seen = current[device].get("applied", {}).get(f"p{partition}")
            ops.append(UpdateOne({"_id": device, key: seen if seen is not None
                                  else {"$exists": False}}, update))
    if ops:
        views.write_in_chunks(db[DEVICE_STATS], ops, timings)


def _save_states(db: Any, states: dict[str, detectors.DeviceState],
                 timings: SliceTimings) -> None:
    from pymongo import ReplaceOne

    views.write_in_chunks(db[DETECTOR_STATE], timings=timings, ops=[
        ReplaceOne({"_id": device}, {"_id": device, **state.to_dict()}, upsert=True)
        for device, state in states.items()])


def warm_up(config: SinkConfig) -> None:
    """Connect to Mongo from an executor's Python worker before the first micro-batch, so
    the first batch does not pay for worker start-up and imports."""
    _db(config).command("ping")


def _insert_dead_letters(db: Any, dead: list[dict[str, Any]], config: SinkConfig) -> None:
    from pymongo.errors import BulkWriteError

    stored_at = datetime.now(timezone.utc)
    docs = [{**letter, "stored_at": stored_at,
             "event_id": _event_id_in(letter["raw"])} for letter in dead]
    if config.mode == "idempotent":
        for doc in docs:
            doc["_id"] = f"{config.topic}-{doc['kafka_partition']}-{doc['kafka_offset']}"
    try:
        db[DEAD_LETTER].insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        _note_replays(db, DEAD_LETTER, _duplicates(exc, docs))


def _event_id_in(raw: str) -> str | None:
    """The event id of a rejected record, when its text still names one."""
    import json

    try:
        message = json.loads(raw)
    except ValueError:
        return None
    event_id = message.get("event_id") if isinstance(message, dict) else None
    return event_id if isinstance(event_id, str) else None
