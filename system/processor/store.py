"""The processor's collections in MongoDB: indexes, a fresh start, and exports for reports."""

from __future__ import annotations

from pathlib import Path

from system.config import COLLECTION, DATABASE, DEAD_LETTER_COLLECTION
from system.processor.detectors import DETECTORS

COLLECTIONS = (COLLECTION, DEAD_LETTER_COLLECTION, "device_stats", "detector_state",
               "recent_events", "replays")

INDEXES = {
    # What the dashboard sorts and filters by, so its queries stay fast at millions of rows.
    COLLECTION: [[("event_time", -1)], [("device_id", 1), ("event_time", -1)],
                 [("is_anomaly", 1), ("event_time", -1)]],
    DEAD_LETTER_COLLECTION: [[("stored_at", -1)]],
}


def _client(uri: str):
    from pymongo import MongoClient

    return MongoClient(uri, serverSelectionTimeoutMS=10_000)


def ensure_indexes(uri: str, database: str = DATABASE) -> None:
    client = _client(uri)
    try:
        db = client[database]
        for collection, indexes in INDEXES.items():
            for keys in indexes:
                db[collection].create_index(keys)
    finally:
        client.close()


def reset(uri: str, database: str = DATABASE) -> None:
    """Drop what an earlier run stored, so a run only ever sees its own data."""
    client = _client(uri)
    try:
        for name in COLLECTIONS:
            client[database].drop_collection(name)
    finally:
        client.close()
    ensure_indexes(uri, database)


def export(uri: str, out_dir: Path, database: str = DATABASE) -> dict[str, int]:
    """Write ``stored.parquet`` and ``dead_letter.parquet`` (the reports' contract)."""
    import pandas as pd

    client = _client(uri)
    try:
        db = client[database]
        stored_fields = ["event_id", "device_id", "device_type", "is_anomaly", "detector",
                         "anomaly_score", "anomaly_rule",
                         *(f"is_anomaly_{name}" for name in DETECTORS),
                         "kafka_partition", "kafka_offset", "kafka_ts",
                         "processed_at", "stored_at", "temperature_celsius"]
        stored = pd.DataFrame(list(db[COLLECTION].find(
            {}, {f: 1 for f in stored_fields} | {"_id": 0})), columns=stored_fields)
        # write_count: the first write plus every replayed write the sink absorbed.
        replays = pd.Series([r["event_id"] for r in db["replays"].find({}, {"event_id": 1})],
                            dtype=object).value_counts()
        stored["write_count"] = 1 + stored["event_id"].map(replays).fillna(0).astype(int)
        for col, ts in (("kafka_ts", "kafka_ts"), ("processed_at", "processed_ts"),
                        ("stored_at", "stored_ts")):
            stored[ts] = _epoch(stored[col])
        stored = stored.drop(columns=["processed_at", "stored_at"])
        stored.to_parquet(out_dir / "stored.parquet", index=False)
        dead_fields = ["reason", "reason_kind", "raw", "kafka_partition", "kafka_offset",
                       "kafka_ts", "stored_at"]
        dead = pd.DataFrame(list(db[DEAD_LETTER_COLLECTION].find(
            {}, {f: 1 for f in dead_fields} | {"_id": 0})), columns=dead_fields)
        dead["kafka_ts"] = _epoch(dead["kafka_ts"])
        dead["stored_ts"] = _epoch(dead["stored_at"])
        dead.drop(columns=["stored_at"]).to_parquet(out_dir / "dead_letter.parquet", index=False)
    finally:
        client.close()
    return {"stored": len(stored), "dead_letter": len(dead)}


def _epoch(column):
    """BSON datetimes (naive UTC from pymongo) → float epoch seconds."""
    import pandas as pd

    ts = pd.to_datetime(column, utc=True)
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
