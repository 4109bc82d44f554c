"""The processor's collections in MongoDB: indexes, a fresh start, and exports for reports."""

from __future__ import annotations

from pathlib import Path

from system.processor.detectors import DETECTORS
from system.store_contract import (
    COLLECTIONS,
    DATABASE,
    DEAD_LETTER,
    INDEXES,
    PROCESSED,
    REPLAYS,
    SINK_WRITES,
)


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


STORED_FIELDS = ["event_id", "device_id", "device_type", "seq", "is_anomaly", "detector",
                 "anomaly_score", "anomaly_rule", "kafka_partition", "kafka_offset", "kafka_ts",
                 "processing_start", "write_id", "temperature_celsius", "humidity_percent"]
DEAD_FIELDS = ["event_id", "reason", "reason_kind", "raw", "kafka_partition", "kafka_offset",
               "kafka_ts", "stored_at"]
REPLAY_FIELDS = ["event_id", "kafka_partition", "kafka_offset", "collection", "at"]
WRITE_FIELDS = ["_id", "kafka_partition", "offset_from", "offset_to", "stored"]


def export(uri: str, out_dir: Path, database: str = DATABASE) -> dict[str, int]:
    """Write ``stored.parquet``, ``dead_letter.parquet`` and ``replays.parquet`` (the
    reports' contract; see README, "A run folder"): one row per stored document, with its
    ``stored_ts`` from the ``sink_writes`` attempt that wrote it."""
    import pandas as pd

    client = _client(uri)
    try:
        db = client[database]

        def frame(collection: str, fields: list[str]) -> pd.DataFrame:
            projection = {f: 1 for f in fields} | ({} if "_id" in fields else {"_id": 0})
            detectors = [f"is_anomaly_{name}" for name in DETECTORS]
            if collection == PROCESSED:
                projection |= {d: 1 for d in detectors}
                fields = [*fields, *detectors]
            return pd.DataFrame(list(db[collection].find({}, projection)), columns=fields)

        stored = frame(PROCESSED, STORED_FIELDS)
        writes = frame(SINK_WRITES, WRITE_FIELDS)
        stored["kafka_ts"] = _epoch(stored["kafka_ts"])
        stored["processing_start_ts"] = _epoch(stored.pop("processing_start"))
        stored["stored_ts"] = acknowledged_times(stored, writes)
        stored.to_parquet(out_dir / "stored.parquet", index=False)
        dead = frame(DEAD_LETTER, DEAD_FIELDS)
        dead["kafka_ts"] = _epoch(dead["kafka_ts"])
        dead["stored_ts"] = _epoch(dead.pop("stored_at"))
        dead.to_parquet(out_dir / "dead_letter.parquet", index=False)
        replays = frame(REPLAYS, REPLAY_FIELDS)
        replays["at_ts"] = _epoch(replays.pop("at"))
        replays.to_parquet(out_dir / "replays.parquet", index=False)
    finally:
        client.close()
    return {"stored": len(stored), "dead_letter": len(dead), "replays": len(replays)}


def acknowledged_times(stored, writes):
    """Per stored row, when the insert that wrote it was acknowledged (epoch seconds).

    The row's own attempt (``write_id``) says it; if that attempt crashed before noting its
    acknowledgement, the earliest later attempt of the same partition whose offset range
    covers the row (the replay, whose insert found it already there) bounds it; else NaN.
    """
    import numpy as np

    acked = dict(zip(writes["_id"], _epoch(writes["stored"]), strict=True))
    times = stored["write_id"].map(acked).astype("float64")
    missing = times.isna() & stored["kafka_offset"].notna()
    if missing.any() and len(writes):
        writes = writes.assign(stored_ts=_epoch(writes["stored"])).sort_values("stored_ts")
        for index, row in stored[missing].iterrows():
            later = writes[(writes["kafka_partition"] == row["kafka_partition"])
                           & (writes["offset_from"] <= row["kafka_offset"])
                           & (writes["offset_to"] >= row["kafka_offset"])]
            times.at[index] = later["stored_ts"].iloc[0] if len(later) else np.nan
    return times


def _epoch(column):
    """BSON datetimes (naive UTC from pymongo) → float epoch seconds."""
    import pandas as pd

    ts = pd.to_datetime(column, utc=True)
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
