"""Only the InfluxDB bridge reads a secondary index, so only a running bridge creates it."""

from __future__ import annotations

from pymongo import MongoClient

from system.bridge.copy import Bridge
from system.store_contract import BRIDGE_INDEXES, DATABASE, PROCESSED
from tests.system.stack.wire_servers import serve


def _keys(collection) -> list[list[tuple[str, int]]]:
    return [[(name, int(order)) for name, order in spec["key"]]
            for spec in collection.index_information().values()]


def test_the_bridge_creates_the_index_its_watermark_query_reads() -> None:
    with serve("sqlite") as uri, MongoClient(uri) as client:
        collection = client[DATABASE][PROCESSED]
        collection.insert_one({"_id": "e1", "written_at": None})
        assert _keys(collection) == [[("_id", 1)]]

        Bridge(collection, influx=None).ensure_indexes()
        Bridge(collection, influx=None).ensure_indexes()  # idempotent

        assert sorted(_keys(collection)) == sorted([[("_id", 1)], *BRIDGE_INDEXES[PROCESSED]])
