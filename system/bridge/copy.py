"""One poll of the bridge: read processed events newer than the watermark, write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from system.bridge.influx import Influx
from system.bridge.lines import epoch_ms, line
from system.store_contract import BRIDGE_INDEXES

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class PollResult:
    read: int
    written: int
    skipped: int
    watermark_ms: int | None


class Bridge:
    """Copies ``processed_data`` to InfluxDB by a ``written_at`` watermark.

    Each poll re-reads ``overlap_s`` behind the watermark: the processor stamps ``written_at``
    just before its insert, so a slow write can become visible after a later one was already
    copied. Re-copied events overwrite their own points (see ``lines.py``), so the overlap
    costs bandwidth, never duplicates. An event whose write becomes visible more than
    ``overlap_s`` after its ``written_at`` is not copied.
    """

    def __init__(self, collection: Any, influx: Influx, *, overlap_s: float = 10.0,
                 chunk: int = 5000) -> None:
        self.collection = collection
        self.influx = influx
        self.overlap = timedelta(seconds=overlap_s)
        self.chunk = chunk
        self.watermark_ms: int | None = None

    def ensure_indexes(self) -> None:
        """The indexes the watermark query reads (``BRIDGE_INDEXES``): only the bridge reads
        them, so only a running bridge makes the store keep them."""
        for keys in BRIDGE_INDEXES.get(self.collection.name, []):
            self.collection.create_index(keys)

    def resume(self) -> int | None:
        """Start from what InfluxDB already holds (1.x); None = copy everything."""
        self.watermark_ms = self.influx.newest_stored_ms()
        return self.watermark_ms

    def _since(self) -> datetime:
        if self.watermark_ms is None:
            return EPOCH
        return EPOCH + timedelta(milliseconds=self.watermark_ms) - self.overlap

    def poll(self) -> PollResult:
        """Copy every event with ``written_at >= watermark − overlap``, oldest first; the
        watermark advances after each written chunk, so a failure loses no progress."""
        cursor = (self.collection.find({"written_at": {"$gte": self._since()}})
                  .sort([("written_at", 1), ("_id", 1)]).batch_size(self.chunk))
        read = written = skipped = 0
        pending: list[str] = []
        newest: int | None = None
        for event in cursor:
            read += 1
            text = line(event)
            if text is None:
                skipped += 1
            else:
                pending.append(text)
            stored = event.get("written_at")
            if isinstance(stored, datetime):
                newest = max(newest or 0, epoch_ms(stored))
            if len(pending) >= self.chunk:
                written += self._flush(pending, newest)
        written += self._flush(pending, newest)
        return PollResult(read, written, skipped, self.watermark_ms)

    def _flush(self, pending: list[str], newest: int | None) -> int:
        sent = self.influx.write(pending) if pending else 0
        pending.clear()
        if newest is not None and (self.watermark_ms is None or newest > self.watermark_ms):
            self.watermark_ms = newest
        return sent
