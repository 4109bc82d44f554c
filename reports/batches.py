"""Where each micro-batch's time went: Spark's phases and the sink's own steps, per batch.

Two raw files of the run folder, joined by ``batchId``:

- ``spark_progress.jsonl``: Spark's ``durationMs`` per batch — ``latestOffset``,
  ``queryPlanning``, ``getBatch``, ``walCommit``, ``addBatch`` (our ``foreachBatch``, which
  runs the sink tasks), ``commitOffsets`` — and ``triggerExecution``, the batch's duration;
- ``batch_timings.jsonl`` (written by the processor's driver): per partition slice, its wall
  time and its steps (``read`` = rows pulled from Spark's Kafka reader, ``validate``,
  ``detect``, and one step per MongoDB operation, ``<collection>.<operation>``, with calls).

Per batch, the components are Spark's phases except ``addBatch``; ``addBatch`` is split into
the slices' steps and ``spark.task_overhead`` (``addBatch`` minus the time slices ran: job
scheduling, shipping rows to the Python worker, collecting results). ``unaccounted`` is
``triggerExecution`` minus all components: near 0 when the slices ran one after another
(1 core); negative when slices ran in parallel, because their steps then overlap.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

SPARK_PHASES = ("latestOffset", "queryPlanning", "getBatch", "walCommit", "commitOffsets")
"""Spark's own phases of a batch besides ``addBatch`` (Spark 3.x/4.x progress names)."""

SINK_STEPS_FIRST = ("read", "validate", "detect")


def _slices_wall_ms(slices: list[dict[str, Any]]) -> float:
    """Length of the union of the slices' [started, started + total] intervals, in ms."""
    intervals = sorted((s["started"], s["started"] + s["total_ms"] / 1000) for s in slices)
    wall, end = 0.0, float("-inf")
    for start, stop in intervals:
        if start > end:
            wall += stop - start
            end = stop
        elif stop > end:
            wall += stop - end
            end = stop
    return wall * 1000


def batch_breakdown(progress: list[dict[str, Any]],
                    timings: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per batch that has both records: ``batch``, ``start`` (epoch s), ``rows``,
    ``duration_ms`` (triggerExecution), one ``ms`` column per component, ``unaccounted``."""
    by_batch = {t["batchId"]: t for t in timings}
    rows = []
    for p in progress:
        batch_id = p.get("batchId")
        timing = by_batch.get(batch_id)
        durations = p.get("durationMs") or {}
        if timing is None or "triggerExecution" not in durations:
            continue
        row: dict[str, Any] = {"batch": batch_id, "start": timing["started"],
                               "rows": int(p.get("numInputRows") or 0),
                               "duration_ms": float(durations["triggerExecution"])}
        for phase in SPARK_PHASES:
            row[f"spark.{phase}"] = float(durations.get(phase, 0.0))
        slices = timing.get("slices") or []
        row["spark.task_overhead"] = (float(durations.get("addBatch", 0.0))
                                      - _slices_wall_ms(slices))
        for s in slices:
            for step, figures in s["steps"].items():
                row[step] = row.get(step, 0.0) + float(figures["ms"])
                row[f"{step}#calls"] = row.get(f"{step}#calls", 0) + int(figures["calls"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    components = component_columns(frame)
    frame[components] = frame[components].fillna(0.0)
    frame["unaccounted"] = frame["duration_ms"] - frame[components].sum(axis=1)
    return frame.sort_values("batch").reset_index(drop=True)


def component_columns(frame: pd.DataFrame) -> list[str]:
    """The breakdown's component columns in display order: Spark, then the sink's steps."""
    spark = [c for c in frame.columns if c.startswith("spark.")]
    steps = [c for c in frame.columns if c not in spark and "#" not in c
             and c not in ("batch", "start", "rows", "duration_ms", "unaccounted")]
    first = [c for c in SINK_STEPS_FIRST if c in steps]
    return spark + first + sorted(set(steps) - set(first))


def breakdown_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Per component: mean ms per batch, share of the mean batch duration, calls per batch;
    and how much of the batch duration the components cover (median over batches)."""
    if frame.empty:
        return {"batches": 0, "components": {}}
    mean_duration = float(frame["duration_ms"].mean())
    components = {}
    for column in component_columns(frame):
        calls = frame.get(f"{column}#calls")
        components[column] = {
            "mean_ms": round(float(frame[column].mean()), 3),
            "share": round(float(frame[column].mean()) / mean_duration, 4)
            if mean_duration else None,
            "calls_per_batch": round(float(calls.fillna(0).mean()), 2)
            if calls is not None else None,
        }
    covered = (frame["duration_ms"] - frame["unaccounted"]) / frame["duration_ms"]
    return {
        "batches": int(len(frame)),
        "mean_batch_ms": round(mean_duration, 3),
        "mean_rows": round(float(frame["rows"].mean()), 1),
        "covered_median": round(float(covered.median()), 4),
        "components": components,
    }
