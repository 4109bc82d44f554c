"""When Mongo is unreachable the API answers 503 with a message, fast; the page still loads."""

from __future__ import annotations

import random
import time
from typing import Any

from pymongo import MongoClient

from system.dashboard import create_app


def test_stopped_mongo_gives_503_and_recovery_gives_200(spare_ferret: Any, fill_db: Any) -> None:
    fill, make_events = fill_db
    with MongoClient(spare_ferret.uri, tz_aware=True) as mongo:
        fill(mongo["iot_db"], make_events(random.Random(1), 40))
    app = create_app(
        {
            "MONGO_URI": spare_ferret.uri,
            "MONGO_TIMEOUT_MS": 1000,
            "STATS_CACHE_SECONDS": 0,
        }
    )
    client = app.test_client()
    assert client.get("/api/stats").get_json()["total"] == 40
    assert client.get("/healthz").status_code == 200

    spare_ferret.stop()

    for url in (
        "/api/stats",
        "/api/data",
        "/api/anomalies",
        "/api/chart-data",
        "/api/temperature/thermostat-01",
    ):
        started = time.monotonic()
        response = client.get(url)
        assert response.status_code == 503, url
        assert "Database unreachable" in response.get_json()["error"]
        assert time.monotonic() - started < 5, f"{url} took too long to give up"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["mongo"] == "down"
    assert client.get("/").status_code == 200
    assert client.get("/api/noop").status_code == 200

    spare_ferret.start()
    assert client.get("/api/stats").get_json()["total"] == 40
    assert client.get("/healthz").status_code == 200


def test_stats_are_stale_for_at_most_the_cache_period(
    ferret_server: Any, mongo: MongoClient, fill_db: Any
) -> None:
    fill, make_events = fill_db
    db = mongo["iot_db_cache_test"]
    fill(db, make_events(random.Random(2), 30))
    app = create_app(
        {
            "MONGO_URI": ferret_server.uri,
            "MONGO_DB": db.name,
            "STATS_CACHE_SECONDS": 1.0,
        }
    )
    client = app.test_client()
    before = client.get("/api/stats").get_json()["total"]

    db.device_stats.update_one({"_id": "thermostat-01"}, {"$inc": {"count": 5}})
    cached = client.get("/api/stats").get_json()["total"]
    time.sleep(1.1)
    after = client.get("/api/stats").get_json()["total"]

    assert (before, cached, after) == (30, 30, 35)
