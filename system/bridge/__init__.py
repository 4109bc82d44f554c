"""The optional Mongo → InfluxDB bridge (the seed's ``bridge/``, compose profile ``influx``).

It copies processed events from ``iot_db.processed_data`` into InfluxDB as points of the
measurement ``iot_event``, polling by a ``written_at`` watermark::

    python -m system.bridge --mongo-uri 'mongodb://127.0.0.1:27017/?directConnection=true' \\
        --influx-url http://127.0.0.1:8086 --database iot

Writes are idempotent: a point's identity (measurement, tags, timestamp) is derived from the
event alone, so copying an event twice overwrites the same point. That lets every poll re-read
a safety overlap behind the watermark (writes that became visible late are not missed) and
lets a restarted bridge resume from the newest ``stored_ms`` already in InfluxDB.
"""
