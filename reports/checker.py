"""History checker across every hop, in the spirit of Jepsen's total-queue checker.

It joins what the producer believes happened (the ledger), what Kafka holds (``topic.parquet``,
read after the drain), what the sink stored (``stored.parquet``, one row per document), what it
rejected (``dead_letter.parquet``) and what it absorbed as a replay (``replays.parquet``), and
reports each anomaly class on its own, as a count and up to :data:`EXAMPLES` example ids:

- ``lost_in_kafka``      acked by the broker (``ack_ts`` set, with or without an offset: acks=0
                         "acks" at once with offset −1), absent from the topic, never delivered
- ``kafka_duplicates``   one event id at two or more topic offsets (producer retries)
- ``lost_in_pipeline``   on the topic, neither stored nor dead-lettered, and not ``undrained``
- ``replayed_writes``    writes of a Kafka (partition, offset) beyond its first: every
                         ``replays`` row (stored or dead-letter collection) whose record is
                         the one delivered, plus every extra stored document with the same
                         coordinates (a refused Kafka duplicate is a ``kafka_duplicates``)
- ``storage_duplicates`` event ids with more than one stored document
- ``reordered``          a device's ``seq`` going backwards within a partition, in Kafka offset
                         order or in storage order (``stored_ts``, then ``kafka_offset``); only
                         the first occurrence of an event counts, so a retried duplicate is a
                         duplicate, not also a reorder
- ``unexpected``         stored, never sent (absent from the ledger)
- ``undrained``          on the topic at an offset ≥ the processed end offset of its partition
                         when the drain timed out, and not stored

Without ``topic.parquet`` (run folders older than the checker) every class that needs the
topic is None ("unknown"), not 0, and ``topic_available`` is False.
Topic rows without an event id are named ``p<partition>:<offset>`` in examples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .integrity import dead_lettered_event_ids

EXAMPLES = 20
CLASSES = ("lost_in_kafka", "kafka_duplicates", "lost_in_pipeline", "replayed_writes",
           "storage_duplicates", "reordered", "unexpected", "undrained")
TOPIC_CLASSES = ("lost_in_kafka", "kafka_duplicates", "lost_in_pipeline", "undrained")


@dataclass
class History:
    """The frames the checker joins (see :mod:`reports.rundir` for their columns)."""

    ledger: pd.DataFrame
    stored: pd.DataFrame
    dead_letter: pd.DataFrame
    topic: pd.DataFrame | None = None
    replays: pd.DataFrame | None = None
    drain: dict[str, Any] = field(default_factory=dict)


def examples(ids: Iterable[Any]) -> list[str]:
    return sorted(str(i) for i in ids)[:EXAMPLES]


def _coordinates(frame: pd.DataFrame, partition: str, offset: str) -> pd.Series:
    """``(partition, offset)`` tuples of rows where both are known."""
    if partition not in frame or offset not in frame:
        return pd.Series([], dtype="object")
    known = frame[[partition, offset]].dropna()
    return pd.Series(list(zip(known[partition].astype("int64"), known[offset].astype("int64"),
                              strict=True)), index=known.index, dtype="object")


def _topic_labels(rows: pd.DataFrame) -> set[str]:
    """Event ids of topic rows, ``p<partition>:<offset>`` where the record had none."""
    named = rows["event_id"].notna()
    anonymous = rows[~named]
    return set(rows.loc[named, "event_id"].astype(str)) | {
        f"p{int(p)}:{int(o)}" for p, o in zip(anonymous["partition"], anonymous["offset"],
                                               strict=True)}


def _backwards(rows: pd.DataFrame, partition: str, order: list[str]) -> set[str]:
    """Event ids whose seq is below an earlier seq of the same device in the same partition."""
    if any(column not in rows for column in ["event_id", "device_id", "seq", *order]):
        return set()
    rows = rows.dropna(subset=["event_id", "device_id", "seq", partition])
    rows = rows.sort_values(order, kind="mergesort").drop_duplicates("event_id", keep="first")
    if rows.empty:
        return set()
    seq = rows["seq"].astype("float64")
    earlier_max = seq.groupby([rows[partition], rows["device_id"]]).cummax()
    earlier_max = earlier_max.groupby([rows[partition], rows["device_id"]]).shift(1)
    return set(rows.loc[seq < earlier_max, "event_id"])


def _processed_end(drain: dict[str, Any], topic: pd.DataFrame,
                   delivered: pd.Series) -> dict[int, float] | None:
    """Per partition, the first offset the pipeline had not processed when the drain ended.

    None when the drain completed. Without ``processed_offsets`` in the journal, the offset
    after the last delivered record of the partition stands in for it.
    """
    if drain.get("complete", True) is not False:
        return None
    listed = drain.get("processed_offsets")
    if isinstance(listed, dict) and listed:
        return {int(p): float(o) for p, o in listed.items()}
    ends = {}
    for partition, group in topic.groupby("partition"):
        offsets = group.loc[delivered.loc[group.index], "offset"]
        ends[int(partition)] = float(offsets.max()) + 1 if len(offsets) else 0.0
    return ends


def check_history(history: History) -> dict[str, Any]:
    """Every class of the module docstring: ``{<class>: count|None, examples: {...}, ...}``."""
    ledger, stored, dead_letter = history.ledger, history.stored, history.dead_letter
    ledger_ids = set(ledger["event_id"].dropna())
    acked = ledger[ledger["ack_ts"].notna()]
    stored_ids = set(stored["event_id"].dropna())
    dead_ids = dead_lettered_event_ids(dead_letter)
    delivered_ids = stored_ids | dead_ids
    delivered_coords = (set(_coordinates(stored, "kafka_partition", "kafka_offset"))
                        | set(_coordinates(dead_letter, "kafka_partition", "kafka_offset")))
    found: dict[str, set[str]] = {}
    extra: dict[str, Any] = {}

    copies = stored["event_id"].dropna().value_counts()
    found["storage_duplicates"] = set(copies[copies > 1].index)
    found["unexpected"] = stored_ids - ledger_ids

    replays = history.replays if history.replays is not None else pd.DataFrame()
    stored_coords = _coordinates(stored, "kafka_partition", "kafka_offset")
    extra_stored = stored.loc[stored_coords[stored_coords.duplicated(keep="first")].index]
    # A replays row is a write refused because its event id was already there: a replay
    # when its Kafka record is the one already delivered, or a Kafka duplicate (another
    # offset, counted as kafka_duplicates) that the idempotent sink absorbed.
    replay_coords = _coordinates(replays, "kafka_partition", "kafka_offset")
    replays = replays.loc[replay_coords[replay_coords.isin(delivered_coords)].index]
    replay_ids = set(replays["event_id"].dropna()) if len(replays) else set()
    replayed_count = int(len(replays) + len(extra_stored))
    extra["replayed_events"] = len(replay_ids | set(extra_stored["event_id"].dropna()))

    stored_with_seq = stored.copy()
    if "seq" not in stored_with_seq or stored_with_seq["seq"].isna().all():
        stored_with_seq["seq"] = stored_with_seq["event_id"].map(
            ledger.drop_duplicates("event_id").set_index("event_id")["seq"])
    in_storage = _backwards(stored_with_seq, "kafka_partition",
                            ["kafka_partition", "stored_ts", "kafka_offset"])
    topic = history.topic
    in_kafka: set[str] = set()
    if topic is not None:
        in_kafka = _backwards(topic, "partition", ["partition", "offset"])
        topic_ids = set(topic["event_id"].dropna())
        per_id = topic.dropna(subset=["event_id"]).groupby("event_id")["offset"].size()
        found["kafka_duplicates"] = set(per_id[per_id > 1].index)
        found["lost_in_kafka"] = set(acked["event_id"]) - topic_ids - delivered_ids
        topic_coords = _coordinates(topic, "partition", "offset")
        by_id = topic["event_id"].isin(delivered_ids)
        by_coords = topic.index.isin(topic_coords[topic_coords.isin(delivered_coords)].index)
        delivered = pd.Series(by_id | by_coords, index=topic.index)
        ends = _processed_end(history.drain, topic, delivered)
        undelivered = topic[~delivered]
        late = pd.Series(False, index=undelivered.index)
        if ends is not None:
            limit = undelivered["partition"].astype("int64").map(ends).fillna(math.inf)
            late = undelivered["offset"] >= limit
        found["undrained"] = _topic_labels(undelivered[late])
        found["lost_in_pipeline"] = _topic_labels(undelivered[~late]) - found["undrained"]
    found["reordered"] = in_kafka | in_storage
    extra.update(reordered_in_kafka=len(in_kafka) if topic is not None else None,
                 reordered_in_storage=len(in_storage),
                 acked_without_offset=int((acked["offset"].fillna(-1) < 0).sum()))

    result: dict[str, Any] = {"topic_available": topic is not None, **extra}
    sample: dict[str, list[str]] = {}
    for name in CLASSES:
        if name == "replayed_writes":
            result[name] = replayed_count
            sample[name] = examples(replay_ids | set(extra_stored["event_id"].dropna()))
        elif name in found:
            result[name] = len(found[name])
            sample[name] = examples(found[name])
        else:
            result[name] = None
            sample[name] = []
    result["examples"] = sample
    return result
