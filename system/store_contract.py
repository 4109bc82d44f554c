"""The store contract: every MongoDB collection the pipeline keeps, and its indexes.

The processor's sink writes these collections; the dashboard reads them; the run export
(``system.processor.store``) and the InfluxDB bridge copy them. This module is the one place
their names and indexes are spelled, so a rename or a new index is one change.

==================  =========================================================================
collection          documents
==================  =========================================================================
``processed_data``  one per stored event; ``_id = event_id`` in the idempotent sink mode, an
                    ObjectId in ``append`` mode (so a replayed batch stores twice)
``dead_letter``     one per rejected record, with its reason; ``_id`` = its Kafka coordinates
``replays``         one per write the unique key refused: (collection, partition, offset)
``sink_writes``     one per acknowledged sink write: partition, offset range, stored time
``device_stats``    one per device: running count, mean, min, max, anomalies
``detector_state``  one per device for the stateful detectors (z-score, MAD)
``recent_events``   per partition slice and device, one segment of its newest readings (or
                    anomalies) as a JSON array; insert-only, trimmed by ``trim_group``
                    (``system/processor/views.py``): per device, its newest events/anomalies
==================  =========================================================================
"""

from __future__ import annotations

DATABASE = "iot_db"

DUPLICATE_KEY = 11000
"""MongoDB's error code for a write the unique ``_id`` refused (how replays show up)."""

PROCESSED = "processed_data"
DEAD_LETTER = "dead_letter"
REPLAYS = "replays"
SINK_WRITES = "sink_writes"
DEVICE_STATS = "device_stats"
DETECTOR_STATE = "detector_state"
RECENT = "recent_events"

COLLECTIONS = (PROCESSED, DEAD_LETTER, REPLAYS, SINK_WRITES, DEVICE_STATS, DETECTOR_STATE,
               RECENT)
"""Everything a run stores; a fresh run drops all of them."""

INDEXES: dict[str, list[list[tuple[str, int]]]] = {}
"""Secondary indexes the pipeline's own queries read: none. Every read of the sink and the
dashboard is by ``_id`` or of a whole small collection (``device_stats``,
``recent_events``), and FerretDB v1 on PostgreSQL uses no secondary index at all (it pushes
an equality down as ``_jsonb->key @> value``, which no btree index on a field serves), while
each one costs every insert its upkeep. The three ``processed_data`` indexes and the
``dead_letter`` one kept until 2026-12 were read by nothing (measured: ``insert_many`` of
processed documents 7 % faster without them, ``benchmarks/results/sink-path.md``). The
processor creates whatever is listed here before its first batch, the dashboard again at
start-up."""

BRIDGE_INDEXES: dict[str, list[list[tuple[str, int]]]] = {PROCESSED: [[("written_at", 1)]]}
"""Read by the InfluxDB bridge's watermark query (``system/bridge``), which creates them when
it starts: the only reader, so nothing else pays for them."""
