"""The explicit schema of a device message, and the reasons a record is dead-lettered.

A record that is not valid JSON, not an object, misses a field, has a field of the wrong
type, comes from an unknown kind of device, is larger than ``MAX_BYTES``, or carries a
physically impossible value (``PHYSICAL_RANGE``: a temperature outside -50…100 °C, a
humidity outside 0…100 %) is not processed: it goes to the dead-letter collection with this
module's reason, so it is never stored, never in an average, never in a chart. A reading
inside the range but unusual (60 °C) is valid: judging it is the detectors' job.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

MAX_BYTES = 16 * 1024
"""Device messages are ~200 bytes; anything past this is a producer bug or an attack."""

DEVICE_ID = re.compile(r"^(thermostat|motion-sensor)-\d{2,}$")

COMMON: dict[str, type | tuple[type, ...]] = {
    "event_id": str, "device_id": str, "seq": int, "timestamp": str,
}
BY_KIND: dict[str, dict[str, type | tuple[type, ...]]] = {
    "thermostat": {"temperature_celsius": (int, float), "humidity_percent": (int, float)},
    "motion": {"motion_detected": bool, "camera_status": str},
}
TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", (int, float): "number"}
PHYSICAL_RANGE: dict[str, tuple[float, float, str]] = {
    "temperature_celsius": (-50.0, 100.0, "°C"),
    "humidity_percent": (0.0, 100.0, "%"),
}
"""Inclusive bounds of what a device can physically report."""


class Invalid(ValueError):
    """A record that cannot be processed; ``str(exc)`` is the dead-letter reason."""


def device_kind(device_id: str) -> str:
    return "thermostat" if device_id.startswith("thermostat-") else "motion"


def parse(raw: bytes | None) -> dict[str, Any]:
    """The validated message (only schema fields, plus ``event_time`` and ``device_type``).

    Raises Invalid with a short, stable reason (the report groups dead letters by its
    text before the first colon).
    """
    if raw is None:
        raise Invalid("empty: the record has no value")
    if len(raw) > MAX_BYTES:
        raise Invalid(f"oversized: {len(raw)} bytes > {MAX_BYTES}")
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"invalid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise Invalid(f"not an object: got {type(message).__name__}")
    device_id = message.get("device_id")
    if not isinstance(device_id, str) or not DEVICE_ID.match(device_id):
        raise Invalid(f"unknown device: device_id {device_id!r} is not thermostat-NN or "
                      "motion-sensor-NN")
    kind = device_kind(device_id)
    fields = {**COMMON, **BY_KIND[kind]}
    missing = [name for name in fields if message.get(name) is None]
    if missing:
        raise Invalid(f"missing field: {', '.join(missing)}")
    for name, expected in fields.items():
        value = message[name]
        # bool is an int in Python; a boolean where a number belongs is a wrong type.
        wrong = (not isinstance(value, expected)
                 or (isinstance(value, bool) and expected is not bool))
        if wrong:
            raise Invalid(f"wrong type: {name} must be {TYPE_NAMES[expected]}, "
                          f"got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(f"wrong type: {name} must be a finite number")
        if name in PHYSICAL_RANGE:
            low, high, unit = PHYSICAL_RANGE[name]
            if not low <= value <= high:
                raise Invalid(f"out of range: {name} {value!r} is outside {low:g}…{high:g} "
                              f"{unit}")
    try:
        event_time = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"wrong type: timestamp {message['timestamp']!r} is not ISO-8601"
                      ) from None
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=timezone.utc)
    record = {name: message[name] for name in fields}
    record["device_type"] = kind
    record["event_time"] = event_time
    return record


def reason_kind(reason: str) -> str:
    """``"wrong type: seq must be integer"`` → ``"wrong type"``."""
    return reason.split(":", 1)[0]
