"""The Mongo-wire servers of the native stack, served for real: our FerretDB v1 build on each
of its backends (SQLite files, a private PostgreSQL cluster) and a real mongod when one is on
PATH (skipped otherwise).

Checks the behaviours the pipeline relies on, and pins FerretDB v1.24.2's defects per backend
(strict xfail) so that a fixed FerretDB shows up as a failure to update the callers.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator

import pytest
from pymongo import ASCENDING, DESCENDING, MongoClient, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, NetworkTimeout

from system.stack import postgres
from tests.system.stack.wire_servers import serve

BACKENDS = ("sqlite", "postgresql", "mongod")

UTC = dt.timezone.utc


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "mongod" and shutil.which("mongod") is None:
        pytest.skip("no `mongod` on PATH: the real-MongoDB reference run needs MongoDB's server")
    if request.param == "postgresql" and postgres.bindir() is None:
        pytest.skip(f"no PostgreSQL here. {postgres.INSTALL_HINT}")
    return str(request.param)


@pytest.fixture(scope="module")
def server(backend: str) -> Iterator[str]:
    """A running server; yields its URI and checks that SIGTERM stops it with exit 0."""
    with serve(backend) as uri:
        yield uri


def _known_defect(request: pytest.FixtureRequest, backend: str, *,
                  raises: type[BaseException] | None = None, **reasons: str) -> None:
    """Pin a defect on the backends named (strict: it must fail there, and pass elsewhere)."""
    if backend in reasons:
        request.applymarker(pytest.mark.xfail(strict=True, raises=raises,
                                              reason=reasons[backend]))


@pytest.fixture()
def db(server: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh database per test (one SQLite file each)."""
    client: MongoClient = MongoClient(server, tz_aware=True, socketTimeoutMS=30_000)
    name = request.node.name.replace("[", "_").replace("]", "")[:60]
    client.drop_database(name)
    try:
        yield client[name]
    finally:
        client.close()


def test_reports_embedded_ferretdb_version(db: Database, backend: str) -> None:
    info = db.client.admin.command("buildInfo")
    if backend == "mongod":
        assert "ferretdbVersion" not in info
        return
    assert info["ferretdbVersion"] == "v1.24.2"
    assert info["version"].startswith("7.")


def test_bulk_upsert_by_id_is_idempotent(db: Database) -> None:
    events = db.events
    events.insert_one({"_id": "e0", "v": 0})
    ops = [UpdateOne({"_id": f"e{i}"}, {"$setOnInsert": {"v": i}}, upsert=True) for i in range(50)]

    first = events.bulk_write(ops, ordered=False)
    assert first.upserted_count == 49
    assert sorted(first.upserted_ids.values()) == sorted(f"e{i}" for i in range(1, 50))
    assert first.matched_count == 1 and first.modified_count == 0

    again = events.bulk_write(ops, ordered=False)
    assert again.upserted_count == 0 and again.upserted_ids == {}
    assert again.matched_count == 50 and again.modified_count == 0
    assert events.count_documents({}) == 50


def test_unique_compound_index_rejects_duplicates(db: Database) -> None:
    readings = db.readings
    name = readings.create_index([("device_id", ASCENDING), ("seq", ASCENDING)], unique=True)
    assert readings.index_information()[name]["unique"] is True

    readings.insert_one({"device_id": "d1", "seq": 1})
    with pytest.raises(DuplicateKeyError):
        readings.insert_one({"device_id": "d1", "seq": 1})

    batch = [{"device_id": "d1", "seq": s} for s in (2, 1, 3)]
    with pytest.raises(BulkWriteError) as failed:
        readings.insert_many(batch, ordered=False)
    assert failed.value.details["nInserted"] == 2
    assert [e["code"] for e in failed.value.details["writeErrors"]] == [11000]
    assert readings.count_documents({"device_id": "d1"}) == 3


def test_insert_many_with_duplicate_ids_keeps_one_copy(db: Database) -> None:
    """Insert-if-absent: the idempotent write that stays fast on FerretDB (see the hang below)."""
    events = db.events
    events.insert_many([{"_id": f"e{i}"} for i in range(150)])
    with pytest.raises(BulkWriteError) as failed:
        events.insert_many([{"_id": f"e{i}"} for i in range(300)], ordered=False)
    assert failed.value.details["nInserted"] == 150
    assert {e["code"] for e in failed.value.details["writeErrors"]} == {11000}
    assert events.count_documents({}) == 300


def test_group_sum_aggregation(db: Database) -> None:
    readings = db.readings
    readings.insert_many(
        [{"device_id": f"d{i % 3}", "value": i, "anomaly": i % 2 == 0} for i in range(12)]
    )
    per_device = list(readings.aggregate([
        {"$match": {"anomaly": True}},
        {"$group": {"_id": "$device_id", "total": {"$sum": "$value"}}},
        {"$sort": {"total": -1}},
        {"$limit": 2},
    ]))
    # anomalies: d0 -> 0+6, d1 -> 4+10, d2 -> 2+8
    assert per_device == [{"_id": "d1", "total": 14}, {"_id": "d2", "total": 10}]
    counts = list(readings.aggregate([{"$group": {"_id": "$device_id", "n": {"$sum": 1}}},
                                      {"$sort": {"_id": 1}}]))
    assert counts == [{"_id": f"d{i}", "n": 4} for i in range(3)]
    assert readings.count_documents({"anomaly": True}) == 6
    assert readings.estimated_document_count() == 12
    assert sorted(readings.distinct("device_id")) == ["d0", "d1", "d2"]


def test_group_with_two_accumulators(db: Database, backend: str,
                                     request: pytest.FixtureRequest) -> None:
    defect = ("FerretDB v1 issue #4616: only the first accumulator of a $group is computed, "
              "the others come back 0")
    _known_defect(request, backend, sqlite=defect, postgresql=defect)
    db.readings.insert_many([{"device_id": "d", "value": v} for v in (1, 2, 3)])
    got = list(db.readings.aggregate([
        {"$group": {"_id": "$device_id", "n": {"$sum": 1}, "total": {"$sum": "$value"}}},
    ]))
    assert got == [{"_id": "d", "n": 3, "total": 6}]


def test_inc_update(db: Database) -> None:
    db.stats.insert_one({"_id": "d1", "count": 1})
    db.stats.update_one({"_id": "d1"}, {"$inc": {"count": 2, "anomalies": 1}})
    db.stats.update_one({"_id": "d2"}, {"$inc": {"count": 1}}, upsert=True)
    assert db.stats.find_one({"_id": "d1"}) == {"_id": "d1", "count": 3, "anomalies": 1}
    assert db.stats.find_one({"_id": "d2"}) == {"_id": "d2", "count": 1}


def test_sort_by_indexed_datetime_and_tz_round_trip(db: Database) -> None:
    readings = db.readings
    readings.create_index([("ts", DESCENDING)])
    readings.create_index([("device_id", ASCENDING), ("ts", DESCENDING)])
    base = dt.datetime(2024, 1, 1, tzinfo=UTC)
    readings.insert_many([{"device_id": f"d{i % 2}", "seq": i, "ts": base + dt.timedelta(seconds=i)}
                          for i in range(20)])

    latest = list(readings.find({}, {"_id": 0, "seq": 1}).sort("ts", DESCENDING).limit(3))
    assert latest == [{"seq": 19}, {"seq": 18}, {"seq": 17}]
    d0 = list(readings.find({"device_id": "d0", "ts": {"$gte": base + dt.timedelta(seconds=10)}},
                            {"_id": 0, "seq": 1}).sort("ts", ASCENDING).limit(2))
    assert d0 == [{"seq": 10}, {"seq": 12}]

    # BSON datetimes are UTC milliseconds: the offset and the microseconds are not kept.
    local = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    readings.insert_one({"_id": "tz", "ts": local})
    back = readings.find_one({"_id": "tz"})["ts"]
    assert back == local.replace(microsecond=123000) and back.utcoffset() == dt.timedelta(0)


def test_update_command_of_99_matching_updates(db: Database) -> None:
    db.events.insert_many([{"_id": f"e{i}"} for i in range(99)])
    ops = [UpdateOne({"_id": f"e{i}"}, {"$set": {"seen": True}}, upsert=True) for i in range(99)]
    assert db.events.bulk_write(ops, ordered=False).matched_count == 99


def test_update_command_of_100_matching_updates(server: str, backend: str,
                                                request: pytest.FixtureRequest) -> None:
    _known_defect(request, backend, raises=NetworkTimeout, sqlite=(
        "FerretDB v1.24.2 SQLite: an update command whose statements match >= 100 documents "
        "keeps one pooled connection per statement and waits forever for a 101st; that "
        "database stays wedged"), postgresql=(
        "FerretDB v1.24.2 PostgreSQL: the same hang at the pool size (our stack sets "
        "pool_max_conns=100; FerretDB's default 50 hangs at 50), and the pool is shared: "
        "every database of the server stays wedged"))
    client: MongoClient = MongoClient(server, socketTimeoutMS=3_000)
    try:
        events = client.wedged.events  # its own database: the hang wedges only this one
        events.insert_many([{"_id": f"e{i}"} for i in range(100)])
        ops = [UpdateOne({"_id": f"e{i}"}, {"$set": {"seen": True}}) for i in range(100)]
        assert events.bulk_write(ops, ordered=False).matched_count == 100
    finally:
        client.close()


def test_scope_of_the_update_hang(backend: str) -> None:
    """Once one update command hangs, what else stops answering (its own fresh server)."""
    if backend == "mongod":
        pytest.skip("mongod has no such hang")
    with serve(backend) as uri:
        # A hang waits forever; 15 s tells it from a bulk that is merely slow on a loaded
        # machine (then FerretDB finishes it after our timeout and frees its connections).
        hanging: MongoClient = MongoClient(uri, socketTimeoutMS=15_000)
        client: MongoClient = MongoClient(uri, socketTimeoutMS=3_000)
        try:
            client.other.events.insert_one({"_id": "x"})
            client.wedged.events.insert_many([{"_id": f"e{i}"} for i in range(100)])
            with pytest.raises(NetworkTimeout):
                hanging.wedged.events.bulk_write(
                    [UpdateOne({"_id": f"e{i}"}, {"$set": {"seen": True}}) for i in range(100)])
            still_answers = _answers(lambda: client.other.events.update_one(
                {"_id": "x"}, {"$set": {"seen": True}}).matched_count == 1)
        finally:
            hanging.close()
            client.close()
    # SQLite keeps a pool per database file; FerretDB's PostgreSQL pool serves all of them.
    assert still_answers == (backend == "sqlite")


def test_ferretdb_default_postgresql_pool_hangs_at_50(backend: str) -> None:
    """Why the stack's URL sets pool_max_conns=100: without it 50 statements hang."""
    if backend != "postgresql":
        pytest.skip("FerretDB's PostgreSQL pool only")
    with serve(backend, ferretdb_pool_default=True) as uri:
        client: MongoClient = MongoClient(uri, socketTimeoutMS=3_000)
        try:
            events = client.pool.events
            events.insert_many([{"_id": f"e{i}"} for i in range(50)])
            ops = [UpdateOne({"_id": f"e{i}"}, {"$set": {"seen": True}}) for i in range(50)]
            assert events.bulk_write(ops[:49]).matched_count == 49
            with pytest.raises(NetworkTimeout):
                events.bulk_write(ops)
        finally:
            client.close()


def _answers(call: Callable[[], bool]) -> bool:
    try:
        return bool(call())
    except NetworkTimeout:
        return False
