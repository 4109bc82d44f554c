"""Processed events → InfluxDB line protocol (pure functions, no I/O).

One point per event in measurement ``iot_event``:

- tags: ``device_id``, ``device_type`` (low cardinality; never values that could change on a
  replay, so a re-copied event lands on the same series);
- fields: the readings, ``is_anomaly`` (bool) and ``anomaly`` (0/1 integer, for sums),
  ``anomaly_score``, ``seq``, ``latency_ms`` (written_at − event_time), ``stored_ms``,
  ``kafka_partition``, ``kafka_offset``, ``event_id``, ``detector``;
- timestamp (ns): ``event_time`` in ms × 10⁶ + ``seq`` mod 10⁶. Mongo keeps dates to the
  millisecond, so two readings of one device in the same millisecond would otherwise share a
  timestamp and overwrite each other; ``seq`` is unique per device, which keeps the identity
  unique and deterministic (the same event always maps to the same point).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

MEASUREMENT = "iot_event"
TAGS = ("device_id", "device_type")
FLOAT_FIELDS = ("temperature_celsius", "humidity_percent", "anomaly_score")
INT_FIELDS = ("seq", "kafka_partition", "kafka_offset")
STRING_FIELDS = ("camera_status", "event_id", "detector")


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch; naive datetimes are UTC (pymongo's default)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return repr(number) if math.isfinite(number) else None


def timestamp_ns(event: dict[str, Any]) -> int:
    return epoch_ms(event["event_time"]) * 1_000_000 + int(event.get("seq") or 0) % 1_000_000


def fields(event: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in FLOAT_FIELDS:
        text = _float(event.get(name))
        if text is not None:
            out[name] = text
    for name in INT_FIELDS:
        value = event.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = f"{value}i"
    for name in STRING_FIELDS:
        value = event.get(name)
        if isinstance(value, str):
            out[name] = _string(value)
    if isinstance(event.get("motion_detected"), bool):
        out["motion_detected"] = "true" if event["motion_detected"] else "false"
    anomaly = bool(event.get("is_anomaly"))
    out["is_anomaly"] = "true" if anomaly else "false"
    out["anomaly"] = f"{int(anomaly)}i"
    stored, happened = event.get("written_at"), event.get("event_time")
    if isinstance(stored, datetime):
        out["stored_ms"] = f"{epoch_ms(stored)}i"
        if isinstance(happened, datetime):
            out["latency_ms"] = repr(float(epoch_ms(stored) - epoch_ms(happened)))
    return out


def line(event: dict[str, Any]) -> str | None:
    """The event's line, or None when it lacks what a point needs (device, event time)."""
    if not isinstance(event.get("device_id"), str) or not isinstance(event.get("event_time"),
                                                                    datetime):
        return None
    tags = "".join(f",{k}={_tag(str(event[k]))}" for k in TAGS if event.get(k))
    body = ",".join(f"{k}={v}" for k, v in sorted(fields(event).items()))
    return f"{MEASUREMENT}{tags} {body} {timestamp_ns(event)}"
