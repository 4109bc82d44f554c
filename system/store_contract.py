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

INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    # Recent-N by time, per device, anomalies only: the shape of ad-hoc queries on a large
    # collection. No query of ours reads them today (the dashboard's recent-N reads use
    # recent_events, because FerretDB v1 pushes no sort down), and each insert pays their
    # upkeep: whether they earn it is to be measured, not assumed.
    PROCESSED: [[("event_time", -1)], [("device_id", 1), ("event_time", -1)],
                [("is_anomaly", 1), ("event_time", -1)]],
    # Newest dead letters first (likewise read by no query of ours today).
    DEAD_LETTER: [[("stored_at", -1)]],
}
"""Secondary indexes; every other read is by ``_id``. The processor creates them before its
first batch and the dashboard again at start-up (whichever starts first on an empty store)."""
