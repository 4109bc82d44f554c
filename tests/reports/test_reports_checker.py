"""The history checker on constructed histories with known answers."""

from __future__ import annotations

import json

import pandas as pd
from reports_factory import empty_replays, ledger_frame, stored_frame, topic_frame

from reports.checker import CLASSES, History, check_history


def dead_letters_for(ledger: pd.DataFrame) -> pd.DataFrame:
    """The garbage readings, dead-lettered at their Kafka coordinates."""
    garbage = ledger[ledger["truth_kind"] == "garbage"]
    return pd.DataFrame({
        "reason": "invalid_value", "reason_kind": "invalid value",
        "raw": [json.dumps({"event_id": e}) for e in garbage["event_id"]],
        "kafka_partition": garbage["partition"].to_numpy(),
        "kafka_offset": garbage["offset"].to_numpy(),
        "kafka_ts": garbage["ack_ts"].to_numpy(), "stored_ts": garbage["ack_ts"].to_numpy(),
    })


def clean_history(events: int = 1000) -> History:
    ledger = ledger_frame(events)
    return History(ledger=ledger, stored=stored_frame(ledger),
                   dead_letter=dead_letters_for(ledger), topic=topic_frame(ledger),
                   replays=empty_replays(), drain={"complete": True, "undrained": 0})


def test_a_clean_history_has_every_class_at_zero() -> None:
    figures = check_history(clean_history())
    assert {name: figures[name] for name in CLASSES} == dict.fromkeys(CLASSES, 0)
    assert figures["topic_available"] is True
    assert all(examples == [] for examples in figures["examples"].values())


def broken_history() -> tuple[History, dict[str, list[str]]]:
    """3 lost in Kafka, 2 Kafka duplicates (stored twice, as in append mode), 1 replayed
    offset, 1 reorder, 1 unexpected document."""
    history = clean_history()
    ledger, topic, stored = history.ledger, history.topic, history.stored
    assert topic is not None
    ids = ledger["event_id"]
    lost = [ids[100], ids[200], ids[300]]
    topic = topic[~topic["event_id"].isin(lost)]
    stored = stored[~stored["event_id"].isin(lost)]

    retried = [ids[400], ids[401]]
    again = topic[topic["event_id"].isin(retried)].copy()
    ends = topic.groupby("partition")["offset"].max()
    again["offset"] = [int(ends[p]) + 1 for p in again["partition"]]
    again["kafka_ts"] += 0.5
    copies = stored[stored["event_id"].isin(retried)].copy()
    copies["kafka_offset"] = again["offset"].to_numpy()
    copies["stored_ts"] += 0.5

    replayed = stored.iloc[50]
    replays = pd.DataFrame({"event_id": [replayed["event_id"]],
                            "kafka_partition": [replayed["kafka_partition"]],
                            "kafka_offset": [replayed["kafka_offset"]],
                            "collection": ["processed_data"], "at_ts": [replayed["stored_ts"]]})

    # Device d-1's readings seq 60 and 61 arrive swapped, in Kafka and so in storage.
    first, second = ids[301], ids[306]
    swap = {first: 61, second: 60}
    for frame in (ledger, topic, stored):
        mask = frame["event_id"].isin(swap)
        frame.loc[mask, "seq"] = frame.loc[mask, "event_id"].map(swap)

    stranger = stored.iloc[[0]].assign(event_id="never-sent", device_id="d-x",
                                       kafka_offset=99_999)
    stored = pd.concat([stored, copies, stranger], ignore_index=True)
    topic = pd.concat([topic, again], ignore_index=True)
    broken = History(ledger=ledger, stored=stored, dead_letter=history.dead_letter,
                     topic=topic, replays=replays, drain=history.drain)
    expected = {"lost_in_kafka": sorted(lost), "kafka_duplicates": sorted(retried),
                "replayed_writes": [replayed["event_id"]],
                "storage_duplicates": sorted(retried), "reordered": [second],
                "unexpected": ["never-sent"], "lost_in_pipeline": [], "undrained": []}
    return broken, expected


def test_a_broken_history_reports_exactly_what_was_broken() -> None:
    history, expected = broken_history()
    figures = check_history(history)
    counts = {name: figures[name] for name in CLASSES}
    assert counts == {"lost_in_kafka": 3, "kafka_duplicates": 2, "lost_in_pipeline": 0,
                      "replayed_writes": 1, "storage_duplicates": 2, "reordered": 1,
                      "unexpected": 1, "undrained": 0}
    assert figures["examples"] == expected
    assert figures["reordered_in_kafka"] == 1 and figures["reordered_in_storage"] == 1


def test_undrained_backlog_is_not_loss() -> None:
    history = clean_history()
    topic = history.topic
    assert topic is not None
    partition0 = topic[topic["partition"] == 0]
    tail = set(partition0["event_id"].iloc[-5:])
    one_lost = partition0["event_id"].iloc[10]
    history.stored = history.stored[~history.stored["event_id"].isin(tail | {one_lost})]
    end = int(partition0["offset"].iloc[-5])
    history.drain = {"complete": False, "undrained": 5,
                     "processed_offsets": {"0": end, "1": int(topic["offset"].max()) + 1}}
    figures = check_history(history)
    assert figures["undrained"] == 5
    assert figures["examples"]["undrained"] == sorted(tail)
    assert figures["lost_in_pipeline"] == 1
    assert figures["examples"]["lost_in_pipeline"] == [one_lost]


def test_a_dead_letter_without_event_id_is_matched_by_coordinates() -> None:
    history = clean_history()
    history.dead_letter["raw"] = "not json at all"
    assert check_history(history)["lost_in_pipeline"] == 0


def test_without_a_topic_the_kafka_classes_are_unknown() -> None:
    history = clean_history()
    history.topic = None
    figures = check_history(history)
    for name in ("lost_in_kafka", "kafka_duplicates", "lost_in_pipeline", "undrained"):
        assert figures[name] is None, name
    assert figures["storage_duplicates"] == 0
    assert figures["topic_available"] is False


def test_examples_are_capped_at_20_but_the_count_is_whole() -> None:
    history = clean_history()
    assert history.topic is not None
    lost = set(history.ledger["event_id"].iloc[:30])
    history.topic = history.topic[~history.topic["event_id"].isin(lost)]
    history.stored = history.stored[~history.stored["event_id"].isin(lost)]
    figures = check_history(history)
    assert figures["lost_in_kafka"] == 30
    assert figures["examples"]["lost_in_kafka"] == sorted(lost)[:20]


def test_a_kafka_duplicate_the_idempotent_sink_refused_is_not_a_replayed_write() -> None:
    # The producer retried one event (a second offset); the idempotent sink stored it once
    # and noted the refused second record in `replays` with that record's coordinates.
    history = clean_history()
    topic = history.topic
    assert topic is not None
    retried = topic.iloc[[400]].copy()
    retried["offset"] = int(topic[topic["partition"] == retried["partition"].iloc[0]]
                            ["offset"].max()) + 1
    history.topic = pd.concat([topic, retried], ignore_index=True)
    history.replays = pd.DataFrame({
        "event_id": retried["event_id"].to_numpy(), "kafka_partition": retried["partition"],
        "kafka_offset": retried["offset"], "collection": ["processed_data"],
        "at_ts": retried["kafka_ts"]})
    figures = check_history(history)
    assert figures["kafka_duplicates"] == 1
    assert figures["replayed_writes"] == 0 and figures["storage_duplicates"] == 0
