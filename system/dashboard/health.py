"""GET /healthz: is the dashboard up, and can it reach Mongo?"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pymongo.errors import PyMongoError

from .db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    try:
        get_db().command("ping")
    except PyMongoError as exc:
        return {
            "status": "degraded",
            "mongo": "down",
            "error": f"Database unreachable: {type(exc).__name__}",
        }, 503
    return {"status": "ok", "mongo": "up"}, 200
