"""Request validation: every query is built from typed values checked here, never raw input."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import abort, request

DEVICE_ID_PATTERN = r"^[a-z]+(-[a-z]+)*-[0-9]{2,}$"
DEVICE_ID_RE = re.compile(r"[a-z]+(?:-[a-z]+)*-[0-9]{2,}")
MAX_DEVICE_ID_LENGTH = 64

SMUGGLING_CHARS = frozenset("${}[]")
"""Characters of Mongo operators and of PHP/Rails-style nested parameters (``a[$ne]=1``)."""


def _reject_smuggling(what: str, text: str) -> None:
    found = sorted(SMUGGLING_CHARS.intersection(text))
    if found:
        abort(
            400,
            f"{what} contains {''.join(found)!r}: Mongo operators and nested values "
            "are not accepted; give plain values only",
        )


def check_query_args(allowed: Iterable[str]) -> None:
    """Reject unknown, repeated or operator-bearing query parameters."""
    allowed = tuple(allowed)
    for name, values in request.args.lists():
        _reject_smuggling(f"Query parameter name {name!r}", name)
        for value in values:
            _reject_smuggling(f"Query parameter {name!r}", value)
        if name not in allowed:
            expected = ", ".join(repr(a) for a in allowed) if allowed else "none"
            abort(400, f"Unknown query parameter {name!r}; allowed here: {expected}")
        if len(values) > 1:
            abort(400, f"Query parameter {name!r} is given {len(values)} times; give it once")


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or its default when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        abort(400, f"Query parameter {name!r} must be an integer from {low} to {high}, got {raw!r}")
    value = int(text)
    if not low <= value <= high:
        abort(400, f"Query parameter {name!r} must be from {low} to {high}, got {value}")
    return value


def device_id_arg(device_id: str) -> str:
    """A device id such as ``thermostat-01`` or ``motion-sensor-03``."""
    _reject_smuggling("device_id", device_id)
    if len(device_id) > MAX_DEVICE_ID_LENGTH or not DEVICE_ID_RE.fullmatch(device_id):
        shown = device_id if len(device_id) <= MAX_DEVICE_ID_LENGTH else device_id[:40] + "…"
        abort(
            400,
            f"device_id {shown!r} is malformed: expected lowercase words and a number of "
            "two or more digits joined by '-', such as 'thermostat-01' or 'motion-sensor-03'",
        )
    return device_id


EVENT_ID_PATTERN = r"^[0-9a-f]{32}$"
EVENT_ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_EVENT_IDS = 50
"""Ids per batch lookup: each costs one ``_id`` read, so a request stays bounded."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def event_id_arg(event_id: str) -> str:
    """An event id: 32 lowercase hex digits (a uuid4 without dashes)."""
    _reject_smuggling("event_id", event_id)
    if not EVENT_ID_RE.fullmatch(event_id):
        abort(
            400,
            f"event_id {_shown(event_id)} is malformed: expected 32 lowercase hex digits, "
            "such as '0123456789abcdef0123456789abcdef'",
        )
    return event_id


def event_ids_arg(name: str = "ids") -> list[str]:
    """A required comma-separated list of 1…MAX_EVENT_IDS event ids, repeats dropped."""
    raw = request.args.get(name)
    usage = f"give {name}=<id>,<id>,… with 1 to {MAX_EVENT_IDS} event ids"
    if raw is None:
        abort(400, f"Query parameter {name!r} is required: {usage}")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids:
        abort(400, f"Query parameter {name!r} is empty: {usage}")
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_EVENT_IDS:
        abort(400, f"Query parameter {name!r} gives {len(unique)} ids; at most "
                   f"{MAX_EVENT_IDS} per request")
    for event_id in unique:
        if not EVENT_ID_RE.fullmatch(event_id):
            abort(
                400,
                f"Query parameter {name!r}: event id {_shown(event_id)} is malformed: "
                "expected 32 lowercase hex digits",
            )
    return unique
