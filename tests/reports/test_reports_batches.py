"""The per-batch breakdown joins Spark's progress with the sink's slice timings."""

from __future__ import annotations

import pytest

from reports.batches import batch_breakdown, breakdown_summary


def _progress(batch_id: int, rows: int, add_batch: float, trigger: float) -> dict:
    return {"batchId": batch_id, "numInputRows": rows,
            "durationMs": {"latestOffset": 10, "queryPlanning": 20, "getBatch": 1,
                           "walCommit": 30, "commitOffsets": 40, "addBatch": add_batch,
                           "triggerExecution": trigger}}


def _slice(started: float, total_ms: float, rows: int, **steps: float) -> dict:
    return {"partition": 0, "rows": rows, "dead": 0, "started": started, "total_ms": total_ms,
            "steps": {k.replace("__", "."): {"calls": 1, "ms": v} for k, v in steps.items()}}


def test_sequential_slices_add_up_to_the_batch() -> None:
    progress = [_progress(0, 0, 5, 110), _progress(1, 30, 600, 701)]
    timings = [{"batchId": 1, "started": 100.0, "ended": 100.6, "slices": [
        _slice(100.05, 200, 10, read=50, processed_data__insert_many=150),
        _slice(100.30, 300, 20, read=100, recent_events__find=200)]}]
    frame = batch_breakdown(progress, timings)
    assert list(frame["batch"]) == [1], "a batch without slice timings is left out"
    row = frame.iloc[0]
    assert row["spark.task_overhead"] == pytest.approx(600 - 500)
    assert row["read"] == 150 and row["read#calls"] == 2
    assert row["unaccounted"] == pytest.approx(701 - (101 + 100 + 500))
    summary = breakdown_summary(frame)
    assert summary["components"]["recent_events.find"]["calls_per_batch"] == 1
    assert summary["covered_median"] == pytest.approx(1.0)
    assert list(summary["components"])[:6] == [
        "spark.latestOffset", "spark.queryPlanning", "spark.getBatch", "spark.walCommit",
        "spark.commitOffsets", "spark.task_overhead"]


def test_parallel_slices_count_their_overlap_once_in_the_task_overhead() -> None:
    progress = [_progress(3, 20, 400, 501)]
    timings = [{"batchId": 3, "started": 0.0, "ended": 0.4, "slices": [
        _slice(0.0, 300, 10, read=300), _slice(0.1, 300, 10, read=300)]}]
    row = batch_breakdown(progress, timings).iloc[0]
    assert row["spark.task_overhead"] == pytest.approx(400 - 400)  # union 0.0 … 0.4 s
    assert row["unaccounted"] < 0, "overlapping steps sum to more than the wall time"


def test_no_timings_is_an_empty_breakdown() -> None:
    assert batch_breakdown([_progress(0, 5, 1, 2)], []).empty
    assert breakdown_summary(batch_breakdown([], [])) == {"batches": 0, "components": {}}
