"""Lookups by event id (/api/events/<id> and /api/events?ids=…) on a real FerretDB, in both
storage layouts: keyed by event id (idempotent sink) and ObjectId-keyed (append sink)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest
from bson import ObjectId
from flask.testing import FlaskClient
from pymongo import MongoClient
from pymongo.database import Database

from system.dashboard import create_app

UNKNOWN = "f" * 32


def iso(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def some_events(db: Database, count: int, seed: int = 1) -> list[dict[str, Any]]:
    docs = list(db.processed_data.find({}))
    return random.Random(seed).sample(docs, count)


def test_one_event_by_id_is_its_stored_record(client: FlaskClient, seeded_db: Database) -> None:
    (doc,) = some_events(seeded_db, 1)

    response = client.get(f"/api/events/{doc['event_id']}")

    assert response.status_code == 200
    record = response.get_json()
    assert "_id" not in record
    assert record["event_id"] == doc["event_id"]
    assert (record["device_id"], record["seq"]) == (doc["device_id"], doc["seq"])
    assert record["event_time"] == iso(doc["event_time"])
    assert record["written_at"] == iso(doc["written_at"])
    assert record["kafka_offset"] == doc["kafka_offset"]


def test_an_unknown_event_is_404_with_its_id(client: FlaskClient) -> None:
    response = client.get(f"/api/events/{UNKNOWN}")

    assert response.status_code == 404
    assert response.get_json() == {"error": f"Event {UNKNOWN!r} not found", "status": 404}


def test_batch_lookup_returns_found_records_in_order_and_the_missing_ids(
        client: FlaskClient, seeded_db: Database) -> None:
    docs = some_events(seeded_db, 5, seed=2)
    asked = [docs[0]["event_id"], UNKNOWN, *(d["event_id"] for d in docs[1:]),
             docs[0]["event_id"], "0" * 32]

    body = client.get("/api/events?ids=" + ",".join(asked)).get_json()

    assert body["count"] == 5 == len(body["records"])
    assert [r["event_id"] for r in body["records"]] == [d["event_id"] for d in docs]
    assert body["missing"] == [UNKNOWN, "0" * 32]
    assert all("_id" not in r for r in body["records"])
    by_id = {r["event_id"]: r for r in body["records"]}
    for doc in docs:
        assert by_id[doc["event_id"]]["event_time"] == iso(doc["event_time"])


def test_batch_lookup_of_the_most_ids_allowed(client: FlaskClient, seeded_db: Database) -> None:
    docs = some_events(seeded_db, 50, seed=3)

    body = client.get("/api/events?ids=" + ",".join(d["event_id"] for d in docs)).get_json()

    assert body["count"] == 50 and body["missing"] == []


BAD = [
    ("/api/events/" + "A" * 32, ["event_id", "malformed", "32 lowercase hex"]),
    ("/api/events/" + "a" * 31, ["event_id", "malformed"]),
    ("/api/events/" + "a" * 33, ["event_id", "malformed"]),
    ("/api/events/" + "g" * 32, ["event_id", "malformed"]),
    ("/api/events/" + "a" * 200, ["event_id", "malformed", "…"]),
    ("/api/events/" + "a" * 30 + "%24ne", ["event_id", "'$'", "Mongo operators"]),
    (f"/api/events/{UNKNOWN}?x=1", ["'x'", "allowed here: none"]),
    ("/api/events", ["'ids'", "is required", "1 to 50"]),
    ("/api/events?ids=", ["'ids'", "is empty"]),
    ("/api/events?ids=,,", ["'ids'", "is empty"]),
    ("/api/events?ids=" + ",".join(f"{i:032x}" for i in range(51)), ["51 ids", "at most 50"]),
    (f"/api/events?ids={UNKNOWN},not-an-id", ["'not-an-id'", "malformed"]),
    (f"/api/events?ids={UNKNOWN}&ids={UNKNOWN}", ["'ids'", "once"]),
    (f"/api/events?ids={UNKNOWN}&limit=3", ["'limit'", "allowed here: 'ids'"]),
    ("/api/events?ids[$in]=1", ["Mongo operators"]),
]


@pytest.mark.parametrize(("url", "words"), BAD, ids=[b[0][:60] for b in BAD])
def test_malformed_lookups_get_a_400_that_names_the_problem(
        client: FlaskClient, url: str, words: list[str]) -> None:
    response = client.get(url)

    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == 400
    for word in words:
        assert word in body["error"]


@pytest.fixture
def append_client(ferret_server: Any, mongo: MongoClient) -> FlaskClient:
    """A database as the naive append sink leaves it: ObjectId keys, one event stored twice."""
    db = mongo["iot_db_append"]
    db.drop_collection("processed_data")
    base = datetime(2025, 10, 16, 16, 0, tzinfo=timezone.utc)
    docs = [{"_id": ObjectId(), "event_id": f"{i:032x}", "device_id": "thermostat-01",
             "seq": i, "event_time": base, "written_at": base} for i in range(1, 21)]
    db.processed_data.insert_many([*docs, {**docs[4], "_id": ObjectId()}])
    app = create_app({"MONGO_URI": ferret_server.uri, "MONGO_DB": "iot_db_append",
                      "STATS_CACHE_SECONDS": 0, "TESTING": True})
    return app.test_client()


def test_append_layout_is_found_by_event_id_field(append_client: FlaskClient) -> None:
    one = append_client.get(f"/api/events/{5:032x}")
    batch = append_client.get(f"/api/events?ids={5:032x},{UNKNOWN},{20:032x}").get_json()

    assert one.status_code == 200
    assert one.get_json()["event_id"] == f"{5:032x}" and "_id" not in one.get_json()
    assert [r["seq"] for r in batch["records"]] == [5, 20]
    assert batch["missing"] == [UNKNOWN]
    assert append_client.get(f"/api/events/{UNKNOWN}").status_code == 404


def test_openapi_documents_the_lookups_and_their_4xx(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]

    one = paths["/api/events/{event_id}"]["get"]
    batch = paths["/api/events"]["get"]
    assert {"200", "400", "404", "503"} <= set(one["responses"])
    assert {"200", "400", "503"} <= set(batch["responses"])
    (ids,) = batch["parameters"]
    assert (ids["name"], ids["required"], ids["schema"]["maxItems"]) == ("ids", True, 50)
    assert one["parameters"][0]["schema"]["pattern"] == "^[0-9a-f]{32}$"
