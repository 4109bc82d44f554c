"""The seed's JSON API: /api/data, /api/stats, /api/anomalies, /api/temperature/<device_id>,
/api/chart-data; lookups by event id, /api/events/<event_id> and /api/events?ids=… (what the
visibility probe polls); plus /api/noop (the server's own ceiling for load benchmarks)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Blueprint, abort, current_app

from . import queries
from .cache import StalenessCache
from .db import get_db
from .validation import check_query_args, device_id_arg, event_id_arg, event_ids_arg, int_arg

bp = Blueprint("api", __name__, url_prefix="/api")

CACHE_KEY = "iotbench_stats_cache"
RECENT_CACHE_KEY = "iotbench_recent_cache"

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_CHART_POINTS = 30
MAX_CHART_POINTS = 500
DEFAULT_CHART_SERIES = 10
MAX_CHART_SERIES = 50


def _cached(key: Hashable, compute: Callable[[], Any]) -> Any:
    cache: StalenessCache = current_app.extensions[CACHE_KEY]
    return cache.get_or_compute(key, compute)


def _recent() -> queries.RecentSnapshot:
    """The merged recent windows, stale by at most RECENT_CACHE_SECONDS (see queries)."""
    cache: StalenessCache = current_app.extensions[RECENT_CACHE_KEY]
    return cache.get_or_compute("recent", lambda: queries.recent_snapshot(get_db()))


def _limit() -> int:
    return int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


@bp.get("/data")
def data() -> dict[str, Any]:
    check_query_args(["limit"])
    limit = _limit()
    records = _recent().events[:limit]
    return {"count": len(records), "limit": limit, "records": records}


@bp.get("/anomalies")
def anomalies() -> dict[str, Any]:
    check_query_args(["limit"])
    limit = _limit()
    records = _recent().anomalies[:limit]
    return {"count": len(records), "limit": limit, "records": records}


@bp.get("/stats")
def stats() -> dict[str, Any]:
    check_query_args([])
    return _cached("stats", lambda: queries.summary_stats(get_db()))


@bp.get("/temperature/<device_id>")
def temperature(device_id: str) -> dict[str, Any]:
    check_query_args(["limit"])
    device_id = device_id_arg(device_id)
    limit = _limit()
    db = get_db()
    device = queries.device_summary(db, device_id)
    if device is None:
        abort(404, f"Device {device_id!r} not found")
    device_type = device.get("device_type")
    if device_type != queries.THERMOSTAT:
        abort(
            400,
            f"Device {device_id!r} is a {device_type} sensor: "
            "temperature series exist only for thermostats",
        )
    points = _recent().points(device_id, limit)
    return {
        "device_id": device_id,
        "device_type": device_type,
        "count": len(points),
        "limit": limit,
        "points": points,
    }


@bp.get("/chart-data")
def chart_data() -> dict[str, Any]:
    check_query_args(["points", "devices"])
    points = int_arg("points", DEFAULT_CHART_POINTS, 1, MAX_CHART_POINTS)
    devices = int_arg("devices", DEFAULT_CHART_SERIES, 1, MAX_CHART_SERIES)
    return _cached(
        ("chart-data", points, devices),
        lambda: queries.chart_data(get_db(), points, devices),
    )


@bp.get("/events/<event_id>")
def event(event_id: str) -> dict[str, Any]:
    """One stored event, read from processed_data (never stale)."""
    check_query_args([])
    event_id = event_id_arg(event_id)
    found = queries.find_events(get_db(), [event_id])
    if event_id not in found:
        abort(404, f"Event {event_id!r} not found")
    return found[event_id]


@bp.get("/events")
def events() -> dict[str, Any]:
    """The stored events among ``ids`` (in the order asked) and the ids not stored (yet)."""
    check_query_args(["ids"])
    event_ids = event_ids_arg("ids")
    found = queries.find_events(get_db(), event_ids)
    records = [found[event_id] for event_id in event_ids if event_id in found]
    missing = [event_id for event_id in event_ids if event_id not in found]
    return {"count": len(records), "records": records, "missing": missing}


@bp.get("/noop")
def noop() -> dict[str, Any]:
    """Touches nothing: what this server answers when Mongo costs nothing."""
    return {"ok": True}
