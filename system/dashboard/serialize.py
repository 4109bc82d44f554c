"""Turn BSON documents into JSON-ready values: datetimes as ISO-8601 with ``Z``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # BSON datetimes are UTC even when a client is not tz-aware
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def to_json(value: Any) -> Any:
    """Recursively convert a document (or list) so that ``flask.jsonify`` accepts it."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, ObjectId):
        return str(value)
    return value
