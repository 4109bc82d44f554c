"""Integrity of the store against the producer's ledger (Jepsen total-queue style).

Definitions (counts of distinct ``event_id`` unless stated):

- ``scheduled``      ledger rows
- ``sent``           ledger events with a ``send_ts``
- ``acked``          ledger events with an ``ack_ts``
- ``unacked``        sent but never acked
- ``send_errors``    ledger events with a non-empty ``error``
- ``stored_unique``  ledger events present in the store (any number of copies)
- ``stored_unacked`` stored although the producer never saw the ack (not a loss)
- ``dead_lettered``  ledger events found in the dead-letter collection (its ``raw`` message
                     parsed for ``event_id``) and not stored
- ``lost``           ``lost_in_kafka + lost_in_pipeline`` (undrained backlog is not loss);
                     without ``topic.parquet``: acked, neither stored nor dead-lettered
- ``duplicate_rows`` stored rows beyond the first copy of each event_id
- the checker's classes (``lost_in_kafka``, ``kafka_duplicates``, ``lost_in_pipeline``,
  ``replayed_writes``, ``storage_duplicates``, ``reordered``, ``unexpected``, ``undrained``)
  with ``examples.<class>``, and ``replayed_events``, ``reordered_in_kafka``,
  ``reordered_in_storage``, ``acked_without_offset``, ``topic_available``
  — see :mod:`reports.checker`
- ``dead_letters``   dead-letter rows, and ``dead_letters_by_reason``
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

_EVENT_ID_PATTERN = re.compile(r'"event_id"\s*:\s*"([^"]+)"')


def event_id_from_raw(raw: Any) -> str | None:
    """The ``event_id`` inside a dead-lettered raw message, if it can be found."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        message = json.loads(raw)
        if isinstance(message, dict) and message.get("event_id") is not None:
            return str(message["event_id"])
    except (json.JSONDecodeError, ValueError):
        pass
    match = _EVENT_ID_PATTERN.search(raw)
    return match.group(1) if match else None


def dead_lettered_event_ids(dead_letter: pd.DataFrame) -> set[str]:
    """Event ids recoverable from the dead-letter ``raw`` column."""
    if dead_letter.empty:
        return set()
    ids = (event_id_from_raw(raw) for raw in dead_letter["raw"])
    return {event_id for event_id in ids if event_id is not None}


def dead_letters_by_reason(dead_letter: pd.DataFrame) -> dict[str, int]:
    if dead_letter.empty:
        return {}
    reasons = dead_letter["reason"].astype("object").where(dead_letter["reason"].notna(),
                                                           "unknown")
    counts = reasons.astype(str).value_counts()
    return {str(reason): int(count) for reason, count in sorted(counts.items())}


def integrity_summary(ledger: pd.DataFrame, stored: pd.DataFrame, dead_letter: pd.DataFrame,
                      topic: pd.DataFrame | None = None, replays: pd.DataFrame | None = None,
                      drain: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every count of the module docstring plus the checker's classes (:mod:`reports.checker`).

    ``topic`` None means the run folder has no ``topic.parquet``: the classes that need it are
    None and ``lost`` falls back to "acked, neither stored nor dead-lettered" (which then also
    holds any undrained backlog).
    """
    from .checker import History, check_history

    ledger_ids = set(ledger["event_id"].dropna())
    sent_ids = set(ledger.loc[ledger["send_ts"].notna(), "event_id"])
    acked_ids = set(ledger.loc[ledger["ack_ts"].notna(), "event_id"])
    copies = stored["event_id"].dropna().value_counts()
    stored_ids = set(copies.index)
    dead_ids = dead_lettered_event_ids(dead_letter) & ledger_ids
    errors = ledger["error"].astype("object")
    classes = check_history(History(ledger=ledger, stored=stored, dead_letter=dead_letter,
                                    topic=topic, replays=replays, drain=drain or {}))
    if classes["topic_available"]:
        lost = classes["lost_in_kafka"] + classes["lost_in_pipeline"]
    else:
        lost = len(acked_ids - stored_ids - dead_ids)
    return {
        "scheduled": int(len(ledger)),
        "sent": len(sent_ids),
        "acked": len(acked_ids),
        "unacked": len(sent_ids - acked_ids),
        "send_errors": int((errors.notna() & (errors.astype(str) != "")).sum()),
        "stored_rows": int(len(stored)),
        "stored_unique": len(stored_ids & ledger_ids),
        "stored_unacked": len((stored_ids & ledger_ids) - acked_ids),
        "dead_lettered": len(dead_ids - stored_ids),
        "lost": lost,
        "duplicate_rows": int((copies - 1).sum()),
        **classes,
        "dead_letters": int(len(dead_letter)),
        "dead_letters_by_reason": dead_letters_by_reason(dead_letter),
    }


def lost_event_ids(ledger: pd.DataFrame, stored: pd.DataFrame,
                   dead_letter: pd.DataFrame) -> list[str]:
    """Sorted ids of lost events (acked, neither stored nor dead-lettered)."""
    acked_ids = set(ledger.loc[ledger["ack_ts"].notna(), "event_id"])
    stored_ids = set(stored["event_id"].dropna())
    return sorted(acked_ids - stored_ids - dead_lettered_event_ids(dead_letter))
