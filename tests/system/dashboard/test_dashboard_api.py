"""Each endpoint returns the values computed independently here from Mongo."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from pymongo.database import Database

from system.dashboard import create_app


def iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def newest_first(db: Database, query: dict[str, Any]) -> list[dict[str, Any]]:
    docs = list(db.processed_data.find(query))
    return sorted(docs, key=lambda d: d["event_time"], reverse=True)


def test_stats_match_processed_data(client: FlaskClient, seeded_db: Database) -> None:
    thermostat_temps = [
        d["temperature_celsius"]
        for d in seeded_db.processed_data.find({"device_type": "thermostat"})
    ]
    total = seeded_db.processed_data.count_documents({})
    anomalies = seeded_db.processed_data.count_documents({"is_anomaly": True})
    last = max(d["event_time"] for d in seeded_db.processed_data.find())

    stats = client.get("/api/stats").get_json()

    assert stats["total"] == total
    assert stats["anomalies"] == anomalies > 0
    assert stats["avg_temperature"] == pytest.approx(sum(thermostat_temps) / len(thermostat_temps))
    assert stats["device_count"] == len(seeded_db.processed_data.distinct("device_id")) == 5
    assert stats["anomaly_rate"] == pytest.approx(anomalies / total)
    assert stats["dead_letters"] == seeded_db.dead_letter.count_documents({}) == 3
    assert stats["last_event_time"] == iso(last)


@pytest.mark.parametrize("limit", [None, 1, 7, 1000])
def test_data_is_the_newest_records(
    client: FlaskClient, seeded_db: Database, limit: int | None
) -> None:
    url = "/api/data" if limit is None else f"/api/data?limit={limit}"
    expected = newest_first(seeded_db, {})[: limit or 100]

    body = client.get(url).get_json()

    assert body["count"] == len(expected) == len(body["records"])
    assert [r["event_id"] for r in body["records"]] == [d["event_id"] for d in expected]
    first, doc = body["records"][0], expected[0]
    assert "_id" not in first
    assert first["event_time"] == iso(doc["event_time"])
    assert first["timestamp"] == doc["timestamp"]
    assert first["written_at"].endswith("Z")


def test_anomalies_are_only_anomalous_records(client: FlaskClient, seeded_db: Database) -> None:
    expected = newest_first(seeded_db, {"is_anomaly": True})

    body = client.get("/api/anomalies").get_json()
    few = client.get("/api/anomalies?limit=3").get_json()

    assert [r["event_id"] for r in body["records"]] == [d["event_id"] for d in expected[:100]]
    assert all(r["is_anomaly"] and r["temperature_celsius"] > 35.0 for r in body["records"])
    assert [r["event_id"] for r in few["records"]] == [d["event_id"] for d in expected[:3]]


def test_temperature_series_of_one_thermostat(client: FlaskClient, seeded_db: Database) -> None:
    readings = newest_first(seeded_db, {"device_id": "thermostat-02"})

    body = client.get("/api/temperature/thermostat-02?limit=20").get_json()
    default = client.get("/api/temperature/thermostat-02").get_json()

    expected = list(reversed(readings[:20]))  # oldest first, ready to plot
    assert body["device_id"] == "thermostat-02"
    assert [p["temperature_celsius"] for p in body["points"]] == [
        d["temperature_celsius"] for d in expected
    ]
    assert [p["event_time"] for p in body["points"]] == [iso(d["event_time"]) for d in expected]
    assert default["count"] == min(100, len(readings))


def test_chart_data_feeds_the_three_charts(client: FlaskClient, seeded_db: Database) -> None:
    body = client.get("/api/chart-data?points=5").get_json()

    series = {s["device_id"]: s["points"] for s in body["temperature_series"]}
    assert sorted(series) == ["thermostat-01", "thermostat-02", "thermostat-03"]
    for device_id, points in series.items():
        newest = list(reversed(newest_first(seeded_db, {"device_id": device_id})[:5]))
        assert [p["temperature_celsius"] for p in points] == [
            d["temperature_celsius"] for d in newest
        ]

    by_device = {d["device_id"]: d["count"] for d in body["device_distribution"]["by_device"]}
    for device_id in seeded_db.processed_data.distinct("device_id"):
        assert by_device[device_id] == seeded_db.processed_data.count_documents(
            {"device_id": device_id}
        )
    assert body["device_distribution"]["by_type"] == {
        kind: seeded_db.processed_data.count_documents({"device_type": kind})
        for kind in ("thermostat", "motion")
    }
    anomalies = {d["device_id"]: d["anomalies"] for d in body["anomalies_by_device"]}
    assert anomalies == {
        device_id: seeded_db.processed_data.count_documents(
            {"device_id": device_id, "is_anomaly": True}
        )
        for device_id in seeded_db.processed_data.distinct("device_id")
    }


def test_noop_and_health(client: FlaskClient) -> None:
    assert client.get("/api/noop").get_json() == {"ok": True}
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (200, {"status": "ok", "mongo": "up"})


def test_page_renders_with_its_cards_and_charts(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    for element in (
        "temperature-chart",
        "distribution-chart",
        "anomaly-chart",
        "stat-total",
        "stat-anomalies",
        "stat-avg-temperature",
        "stat-device-count",
        "records-body",
    ):
        assert f'id="{element}"' in page
    assert "/vendor/chart.js/dist/chart.umd.js" in page


def test_chart_data_includes_a_thermostat_that_went_quiet(
    ferret_server: Any, mongo: Any, fill_db: Any
) -> None:
    fill, make_events = fill_db
    db = mongo["iot_db_quiet_device"]
    events = [e for e in make_events(random.Random(3), 600) if e["device_type"] == "thermostat"]
    quiet = [e for e in events if e["device_id"] == "thermostat-01"][:8]  # only old readings
    busy = [e for e in events if e["device_id"] == "thermostat-02"]
    fill(db, quiet + busy)
    app = create_app({"MONGO_URI": ferret_server.uri, "MONGO_DB": db.name})

    body = app.test_client().get("/api/chart-data?points=5").get_json()

    series = {s["device_id"]: s["points"] for s in body["temperature_series"]}
    for device_id, readings in (("thermostat-01", quiet), ("thermostat-02", busy)):
        newest = sorted(readings, key=lambda e: e["event_time"])[-5:]
        assert [p["event_time"] for p in series[device_id]] == [
            iso(e["event_time"]) for e in newest
        ]
