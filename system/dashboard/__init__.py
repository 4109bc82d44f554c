"""The seed's Flask dashboard: an app factory with one blueprint per feature."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from system.config import cache_dir
from system.store_contract import DATABASE

from . import api, db, health, openapi, pages
from .assets import assets_dir
from .cache import StalenessCache
from .errors import register_error_handlers

MONGO_URI_ENV = "IOTBENCH_DASHBOARD_MONGO_URI"
DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27019/?directConnection=true"
"""The ``dashboard-mongo`` Toxiproxy link (see system.config.Ports.dashboard_mongo)."""


def default_config() -> dict[str, Any]:
    return {
        "MONGO_URI": os.environ.get(MONGO_URI_ENV) or DEFAULT_MONGO_URI,
        "MONGO_DB": DATABASE,
        "MONGO_TIMEOUT_MS": 2000,
        "MONGO_SOCKET_TIMEOUT_MS": 5000,
        "STATS_CACHE_SECONDS": 1.0,
        "RECENT_CACHE_SECONDS": None,
        # None: min(0.5, STATS_CACHE_SECONDS); bounded staleness of data/anomalies/temperature
        "ASSETS_DIR": str(assets_dir(cache_dir())),
    }


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(default_config())
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # keep documents in the order Mongo returns their fields

    db.init_app(app)
    stats_ttl = float(app.config["STATS_CACHE_SECONDS"])
    app.extensions[api.CACHE_KEY] = StalenessCache(stats_ttl)
    recent_ttl = app.config["RECENT_CACHE_SECONDS"]
    app.extensions[api.RECENT_CACHE_KEY] = StalenessCache(
        min(0.5, stats_ttl) if recent_ttl is None else float(recent_ttl))
    register_error_handlers(app)

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    return app
