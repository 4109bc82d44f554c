"""What a correct answer of each dashboard endpoint looks like (system/dashboard/openapi.py).

Each check takes the decoded JSON body and returns ``None`` when it is right, else one sentence
saying what is wrong; Locust's ``response.failure(...)`` records that sentence, so the failures
CSV names the broken field instead of just "failed". No Locust import here: plain data checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], "str | None"]

INT = (int,)
NUMBER = (int, float)


def _field(body: Any, key: str, types: tuple[type, ...], nullable: bool = False) -> str | None:
    if not isinstance(body, dict):
        return f"body is {type(body).__name__}, expected an object"
    if key not in body:
        return f"missing key {key!r} (keys: {', '.join(sorted(body)) or 'none'})"
    value = body[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, types):
        return f"{key!r} is {value!r}, expected {'/'.join(t.__name__ for t in types)}"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


def stats(body: Any) -> str | None:
    return _first(_field(body, "total", INT), _field(body, "anomalies", INT),
                  _field(body, "avg_temperature", NUMBER, nullable=True),
                  _field(body, "device_count", INT))


def records(body: Any, anomalies_only: bool = False) -> str | None:
    problem = _first(_field(body, "count", INT), _field(body, "limit", INT),
                     _field(body, "records", (list,)))
    if problem:
        return problem
    rows = body["records"]
    if body["count"] != len(rows):
        return f"count is {body['count']} but {len(rows)} records came back"
    if len(rows) > body["limit"]:
        return f"{len(rows)} records exceed limit {body['limit']}"
    if any(not isinstance(r, dict) or "device_id" not in r for r in rows):
        return "a record has no device_id"
    if anomalies_only and any(r.get("is_anomaly") is not True for r in rows):
        return "a record of /api/anomalies is not flagged is_anomaly"
    return None


def anomalies(body: Any) -> str | None:
    return records(body, anomalies_only=True)


def temperature(device_id: str) -> Check:
    def check(body: Any) -> str | None:
        problem = _first(_field(body, "device_id", (str,)), _field(body, "points", (list,)))
        if problem:
            return problem
        if body["device_id"] != device_id:
            return f"asked for {device_id!r}, got device_id {body['device_id']!r}"
        if any("temperature_celsius" not in p for p in body["points"]):
            return "a point has no temperature_celsius"
        return None

    return check


def chart_data(body: Any) -> str | None:
    problem = _first(_field(body, "temperature_series", (list,)),
                     _field(body, "device_distribution", (dict,)),
                     _field(body, "anomalies_by_device", (list,)))
    if problem:
        return problem
    return _field(body["device_distribution"], "by_device", (list,))


def noop(body: Any) -> str | None:
    return None if body == {"ok": True} else f"expected {{'ok': true}}, got {body!r:.80}"


def thermostat_ids(chart: Any) -> list[str]:
    """Thermostat ids from a /api/chart-data body (the only devices with temperature series)."""
    if not isinstance(chart, dict):
        return []
    devices = (chart.get("device_distribution") or {}).get("by_device") or []
    return sorted(d["device_id"] for d in devices
                  if isinstance(d, dict) and d.get("device_type") == "thermostat"
                  and isinstance(d.get("device_id"), str))
