"""GET /api/openapi.json: the one description of every route, its parameters and responses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from . import api
from .validation import DEVICE_ID_PATTERN, EVENT_ID_PATTERN, MAX_EVENT_IDS

bp = Blueprint("openapi", __name__)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


def _int_param(name: str, default: int, low: int, high: int, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": text,
        "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default},
    }


LIMIT = _int_param("limit", api.DEFAULT_LIMIT, 1, api.MAX_LIMIT, "How many records, newest first.")
BAD_INPUT = _error("Bad input: unknown or repeated parameter, out-of-range value, '$', '{' or '['")
DB_DOWN = _error("Mongo is unreachable")

NUMBER_OR_NULL = {"type": ["number", "null"]}
TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
    "Record": {
        "type": "object",
        "description": "One processed event. Thermostats carry temperature and humidity, "
        "motion sensors motion_detected and camera_status.",
        "properties": {
            "event_id": {"type": "string"},
            "device_id": {"type": "string"},
            "device_type": {"type": "string", "enum": ["thermostat", "motion"]},
            "seq": {"type": "integer"},
            "timestamp": {"type": "string", "description": "As sent by the device"},
            "event_time": TIME,
            "temperature_celsius": {"type": "number"},
            "humidity_percent": {"type": "number"},
            "motion_detected": {"type": "boolean"},
            "camera_status": {"type": "string"},
            "is_anomaly": {"type": "boolean"},
            "detector": {"type": "string"},
            "anomaly_score": NUMBER_OR_NULL,
            "kafka_partition": {"type": "integer"},
            "kafka_offset": {"type": "integer"},
            "kafka_ts": TIME,
            "processing_start": TIME,
            "written_at": TIME,
        },
    },
    "Records": {
        "type": "object",
        "required": ["count", "limit", "records"],
        "properties": {
            "count": {"type": "integer"},
            "limit": {"type": "integer"},
            "records": {"type": "array", "items": _ref("Record")},
        },
    },
    "Events": {
        "type": "object",
        "required": ["count", "records", "missing"],
        "properties": {
            "count": {"type": "integer", "description": "Records found"},
            "records": {
                "type": "array",
                "description": "The stored record of each id found, in the order asked",
                "items": _ref("Record"),
            },
            "missing": {
                "type": "array",
                "description": "The ids asked for that are not stored (yet)",
                "items": {"type": "string", "pattern": EVENT_ID_PATTERN},
            },
        },
    },
    "TemperaturePoint": {
        "type": "object",
        "properties": {
            "timestamp": {"type": "string"},
            "event_time": TIME,
            "temperature_celsius": {"type": "number"},
            "humidity_percent": {"type": "number"},
            "is_anomaly": {"type": "boolean"},
        },
    },
    "TemperatureSeries": {
        "type": "object",
        "required": ["device_id", "points"],
        "properties": {
            "device_id": {"type": "string"},
            "device_type": {"type": "string"},
            "count": {"type": "integer"},
            "limit": {"type": "integer"},
            "points": {
                "type": "array",
                "description": "The newest readings, oldest first",
                "items": _ref("TemperaturePoint"),
            },
        },
    },
    "Stats": {
        "type": "object",
        "required": ["total", "anomalies", "avg_temperature", "device_count"],
        "properties": {
            "total": {"type": "integer", "description": "Events stored"},
            "anomalies": {"type": "integer", "description": "Events flagged anomalous"},
            "avg_temperature": {**NUMBER_OR_NULL, "description": "Mean over thermostat events"},
            "device_count": {"type": "integer", "description": "Devices with events"},
            "anomaly_rate": {"type": "number", "description": "anomalies / total"},
            "dead_letters": {"type": "integer", "description": "Records the processor rejected"},
            "last_event_time": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "ChartData": {
        "type": "object",
        "properties": {
            "temperature_series": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "device_id": {"type": "string"},
                        "points": {"type": "array", "items": _ref("TemperaturePoint")},
                    },
                },
            },
            "thermostat_count": {"type": "integer"},
            "device_distribution": {
                "type": "object",
                "properties": {
                    "by_device": {"type": "array", "items": _ref("DeviceCount")},
                    "by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
            "anomalies_by_device": {"type": "array", "items": _ref("DeviceAnomalies")},
        },
    },
    "DeviceCount": {
        "type": "object",
        "properties": {
            "device_id": {"type": "string"},
            "device_type": {"type": "string"},
            "count": {"type": "integer"},
        },
    },
    "DeviceAnomalies": {
        "type": "object",
        "properties": {
            "device_id": {"type": "string"},
            "device_type": {"type": "string"},
            "anomalies": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "mongo"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "mongo": {"type": "string", "enum": ["up", "down"]},
            "error": {"type": "string"},
        },
    },
}


def _get(summary: str, responses: dict[str, Any], parameters: list | None = None) -> dict:
    return {"get": {"summary": summary, "parameters": parameters or [], "responses": responses}}


PATHS: dict[str, Any] = {
    "/": _get("The dashboard page", {"200": {"description": "HTML page"}}),
    "/healthz": _get(
        "Liveness and Mongo reachability",
        {"200": _json("Mongo answers", _ref("Health")), "503": _json("Mongo down", _ref("Health"))},
    ),
    "/api/openapi.json": _get("This document", {"200": {"description": "OpenAPI 3.1 document"}}),
    "/api/data": _get(
        "Recent records, newest first (by event_time; stale by at most RECENT_CACHE_SECONDS)",
        {"200": _json("Records", _ref("Records")), "400": BAD_INPUT, "503": DB_DOWN},
        [LIMIT],
    ),
    "/api/anomalies": _get(
        "Anomalous records only, newest first (stale by at most RECENT_CACHE_SECONDS)",
        {"200": _json("Records", _ref("Records")), "400": BAD_INPUT, "503": DB_DOWN},
        [LIMIT],
    ),
    "/api/stats": _get(
        "Totals from the per-device statistics (stale by at most STATS_CACHE_SECONDS)",
        {"200": _json("Statistics", _ref("Stats")), "400": BAD_INPUT, "503": DB_DOWN},
    ),
    "/api/temperature/{device_id}": _get(
        "Temperature series of one thermostat (stale by at most RECENT_CACHE_SECONDS)",
        {
            "200": _json("Series", _ref("TemperatureSeries")),
            "400": _error("Malformed id, a non-thermostat device, or bad parameters"),
            "404": _error("Unknown device"),
            "503": DB_DOWN,
        },
        [
            {
                "name": "device_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": DEVICE_ID_PATTERN, "maxLength": 64},
                "example": "thermostat-01",
            },
            LIMIT,
        ],
    ),
    "/api/events/{event_id}": _get(
        "One stored event by id, read from processed_data (never stale)",
        {
            "200": _json("The record", _ref("Record")),
            "400": _error("Malformed event id (not 32 lowercase hex digits) or any query "
                          "parameter"),
            "404": _error("No event with this id is stored (yet)"),
            "503": DB_DOWN,
        },
        [
            {
                "name": "event_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": EVENT_ID_PATTERN},
                "example": "0123456789abcdef0123456789abcdef",
            },
        ],
    ),
    "/api/events": _get(
        f"Batch lookup of up to {MAX_EVENT_IDS} events by id (what the visibility probe "
        "polls); ids not stored are listed under `missing`, never an error",
        {
            "200": _json("The records found and the ids missing", _ref("Events")),
            "400": _error(f"`ids` absent or empty, more than {MAX_EVENT_IDS} ids, a malformed "
                          "id, or another query parameter"),
            "503": DB_DOWN,
        },
        [
            {
                "name": "ids",
                "in": "query",
                "required": True,
                "description": f"1 to {MAX_EVENT_IDS} event ids, comma-separated; repeats "
                "are answered once",
                "style": "form",
                "explode": False,
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_EVENT_IDS,
                    "items": {"type": "string", "pattern": EVENT_ID_PATTERN},
                },
            },
        ],
    ),
    "/api/chart-data": _get(
        "Data for the page's charts (stale by at most STATS_CACHE_SECONDS)",
        {"200": _json("Chart data", _ref("ChartData")), "400": BAD_INPUT, "503": DB_DOWN},
        [
            _int_param(
                "points",
                api.DEFAULT_CHART_POINTS,
                1,
                api.MAX_CHART_POINTS,
                "Recent readings per thermostat series.",
            ),
            _int_param(
                "devices",
                api.DEFAULT_CHART_SERIES,
                1,
                api.MAX_CHART_SERIES,
                "Thermostat series at most (by device id).",
            ),
        ],
    ),
    "/api/noop": _get(
        "Constant answer without touching Mongo (the server's ceiling in load tests)",
        {"200": _json("Constant", {"type": "object", "properties": {"ok": {"type": "boolean"}}})},
    ),
    "/vendor/{filename}": _get(
        "Front-end libraries installed by `iotbench setup`",
        {"200": {"description": "A file"}, "404": {"description": "Not an installed asset"}},
        [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
    ),
    "/static/{filename}": _get(
        "The page's own script and stylesheet",
        {"200": {"description": "A file"}, "404": {"description": "No such file"}},
        [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
    ),
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "iotbench dashboard",
            "version": "1.0.0",
            "description": "The seed's Flask dashboard API over iot_db. Errors are JSON "
            "{error, status}; unknown query parameters are rejected with 400.",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/api/openapi.json")
def openapi_json() -> dict[str, Any]:
    return openapi_document()
