"""The producer's ledger: one row per scheduled event, with the truth, written as Parquet.

Rows live in memory while their send is in flight. Once settled (acked or failed) they are
buffered and flushed to a part file (``ledger-parts/<prefix>-NNNNN.parquet``) every
``flush_rows`` rows or ``flush_interval_s`` seconds, so a crash loses at most the last
seconds. ``close()`` writes every row still in flight with error
``"unacked: no ack before close"``; ``merge_ledger(run_dir)`` merges the parts of every
writer (every worker process) into ``ledger.parquet`` and removes them.
``read_ledger(run_dir)`` also reads the parts a crashed run left behind.

Columns (times are epoch seconds, float64):

=============== ========= ====================================================
event_id        string    uuid4 hex, also in the Kafka message
device_id       string    ``thermostat-01``, ``motion-sensor-01``
device_type     string    ``thermostat`` | ``motion``
seq             int64     per device, from 1
truth_anomaly   bool      the producer made this reading anomalous
truth_kind      string    spike | drift | stuck | garbage | null
truth_detail    string    e.g. ``drift +0.71/reading 3/9``, ``garbage string``
scheduled_ts    float64   the rate schedule's time (the message's ``timestamp``)
send_ts         float64   just before ``send()``
ack_ts          float64   in the acknowledgement callback; NaN if never acked
partition       int32     null if unacked
offset          int64     null if unacked; -1 with ``acks=0`` (see below)
error           string    null, or ``unacked: <reason>``
=============== ========= ====================================================

With ``acks=0`` the broker never answers: kafka-python calls the acknowledgement callback as
soon as the request is written to the socket. The row keeps that ``ack_ts`` (the send was
"acknowledged" locally) and offset -1 (``clients.NO_OFFSET``: the clients replace the
library's placeholder — kafka-python 3 makes up 0, 1, 2… — so it cannot pass for a real
one); a reader treats an offset below 0 as "acked without an offset", and the topic itself
says whether the record arrived.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from system.producer.errors import ProducerError

LEDGER_FILE = "ledger.parquet"
PARTS_DIR = "ledger-parts"
NO_ACK_BEFORE_CLOSE = "unacked: no ack before close"

SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("device_id", pa.string()),
    ("device_type", pa.string()),
    ("seq", pa.int64()),
    ("truth_anomaly", pa.bool_()),
    ("truth_kind", pa.string()),
    ("truth_detail", pa.string()),
    ("scheduled_ts", pa.float64()),
    ("send_ts", pa.float64()),
    ("ack_ts", pa.float64()),
    ("partition", pa.int32()),
    ("offset", pa.int64()),
    ("error", pa.string()),
])

SentRow = tuple[str, str, str, int, bool, "str | None", "str | None", float, float]
"""The first nine columns, known at send time."""


class LedgerWriter:
    """Collects the rows of one sending process; thread-safe for the client's callbacks."""

    def __init__(self, run_dir: Path, *, prefix: str = "w0", flush_rows: int = 50_000,
                 flush_interval_s: float = 5.0) -> None:
        self.run_dir = Path(run_dir)
        self.parts_dir = self.run_dir / PARTS_DIR
        try:
            self.parts_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProducerError(f"cannot create the ledger folder {self.parts_dir}: {exc}"
                                ) from exc
        self.prefix = prefix
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._in_flight: dict[int, SentRow] = {}
        self._settled: deque[tuple[Any, ...]] = deque()
        self._next_token = 0
        self._parts = 0
        self._last_flush: float | None = None
        self._lock = threading.Lock()
        self.acked = 0
        self.failed = 0
        self.closed = False

    # -------------------------------------------------------------- the hot path

    def sent(self, row: SentRow) -> int:
        """Register an event whose send was just called; returns its token for the
        callbacks."""
        token = self._next_token
        self._next_token += 1
        self._in_flight[token] = row
        return token

    def acked_at(self, token: int, ack_ts: float, partition: int, offset: int) -> None:
        row = self._in_flight.pop(token, None)
        if row is not None:
            self.acked += 1
            self._settled.append((*row, ack_ts, partition, offset, None))

    def failed_with(self, token: int, reason: str) -> None:
        row = self._in_flight.pop(token, None)
        if row is not None:
            self.failed += 1
            self._settled.append((*row, math.nan, None, None, f"unacked: {reason}"))

    # -------------------------------------------------------------- flushing

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def maybe_flush(self, now: float) -> None:
        if self._last_flush is None:
            self._last_flush = now
        if (len(self._settled) >= self.flush_rows
                or now - self._last_flush >= self.flush_interval_s):
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Write the settled rows to a new part file."""
        with self._lock:
            rows = []
            while self._settled:
                rows.append(self._settled.popleft())
            if not rows:
                return
            path = self.parts_dir / f"{self.prefix}-{self._parts:05d}.parquet"
            self._parts += 1
            tmp = path.with_suffix(".tmp")
            try:
                pq.write_table(rows_to_table(rows), tmp)
                tmp.replace(path)
            except OSError as exc:
                raise ProducerError(f"cannot write the ledger part {path}: {exc}") from exc

    def close(self, reason: str = NO_ACK_BEFORE_CLOSE) -> None:
        """Write every row, the ones still in flight as unacked. Idempotent."""
        if self.closed:
            return
        for token in list(self._in_flight):
            row = self._in_flight.pop(token, None)
            if row is not None:
                self.failed += 1
                self._settled.append((*row, math.nan, None, None, reason))
        self.flush()
        self.closed = True


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(column, type=f.type) for column, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA)


def _part_files(run_dir: Path) -> list[Path]:
    return sorted((Path(run_dir) / PARTS_DIR).glob("*.parquet"))


def merge_ledger(run_dir: Path) -> Path:
    """Merge every part file (and an existing ledger) into ``ledger.parquet``, sorted by
    scheduled time, then remove the parts."""
    run_dir = Path(run_dir)
    target = run_dir / LEDGER_FILE
    parts = _part_files(run_dir)
    tables = [pq.read_table(p, schema=SCHEMA) for p in parts]
    if target.exists():
        tables.insert(0, pq.read_table(target, schema=SCHEMA))
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    if table.num_rows:
        table = table.sort_by([("scheduled_ts", "ascending"), ("device_id", "ascending"),
                               ("seq", "ascending")])
    tmp = target.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(target)
    for part in parts:
        part.unlink()
    parts_dir = run_dir / PARTS_DIR
    if parts_dir.exists() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return target


def read_ledger(run_dir: Path) -> pa.Table:
    """The ledger of a run folder, including the parts a crashed run left unmerged."""
    run_dir = Path(run_dir)
    tables = [pq.read_table(p, schema=SCHEMA) for p in _part_files(run_dir)]
    if (run_dir / LEDGER_FILE).exists():
        tables.insert(0, pq.read_table(run_dir / LEDGER_FILE, schema=SCHEMA))
    if not tables:
        raise ProducerError(f"no ledger in {run_dir}")
    return pa.concat_tables(tables)


def summarize(table: pa.Table, elapsed_s: float) -> dict[str, Any]:
    """Counts, achieved rate and latency percentiles of a ledger."""
    import numpy as np

    scheduled = table.column("scheduled_ts").to_numpy()
    send = table.column("send_ts").to_numpy()
    ack = table.column("ack_ts").to_numpy()
    acked = ~np.isnan(ack)
    publish_delay_ms = (send - scheduled) * 1000.0
    ack_latency_ms = (ack[acked] - send[acked]) * 1000.0

    def pct(values: Any, q: float) -> float | None:
        return round(float(np.percentile(values, q)), 3) if len(values) else None

    return {
        "scheduled": table.num_rows,
        "sent": int(np.count_nonzero(~np.isnan(send))),
        "acked": int(np.count_nonzero(acked)),
        "failed": int(table.num_rows - np.count_nonzero(acked)),
        "elapsed_s": round(elapsed_s, 3),
        "achieved_eps": round(table.num_rows / elapsed_s, 1) if elapsed_s > 0 else None,
        "publish_delay_ms": {"p50": pct(publish_delay_ms, 50), "p99": pct(publish_delay_ms, 99),
                             "max": pct(publish_delay_ms, 100)},
        "ack_latency_ms": {"p50": pct(ack_latency_ms, 50), "p99": pct(ack_latency_ms, 99),
                           "max": pct(ack_latency_ms, 100)},
    }
