"""The sink in Spark's real-time mode (``trigger(realTime=…)``): a ``foreach`` writer.

Real-time mode runs one long task per Kafka partition for the whole batch duration and
hands its rows to a ``ForeachWriter`` (``foreachBatch`` is not allowed there). Our writer
keeps a partition's rows of one epoch and writes them at ``close`` as one slice through
:func:`system.processor.sink.write_partition` — the same validation, detectors, dead letters
and idempotent writes as the micro-batch path; a failed task is retried and its rewrite
changes nothing.

Why rows arrive no sooner than that: Spark's ``PythonForeachWriter`` (sql/core,
``execution/python/PythonForeachWriter.scala``) streams the rows to the Python worker
through ``SerDeUtil.AutoBatchedPickler``, which collects ``batch`` rows before it pickles
them, doubling ``batch`` from 1 while a pickled batch is under 1 MB, or ends at the end of
the input (the epoch's close). With 300-byte readings the batch soon exceeds what a
partition receives in a real-time batch, so the Python side sees a partition's rows only
when the epoch ends: a reading waits up to ``batch_s``. No setting changes that batch size;
the batch duration is the only lever (``stack.trigger.batch_s``).
"""

from __future__ import annotations

from typing import Any

from system.processor.sink import SinkConfig, write_partition


class SliceWriter:
    """``DataStreamWriter.foreach`` writer: one Kafka partition's rows of one epoch."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.rows: list[Any] = []

    def open(self, partition_id: int, epoch_id: int) -> bool:
        self.rows = []
        return True

    def process(self, row: Any) -> None:
        self.rows.append(row)

    def close(self, error: BaseException | None) -> None:
        rows, self.rows = self.rows, []
        if error is None and rows:
            write_partition(rows, self.config)
