"""Analysis functions on constructed raw data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from reports_factory import ORIGIN, ledger_frame

from reports.accuracy import (
    NAB_A_FP,
    anomaly_windows,
    classification_scores,
    confusion,
    detector_accuracy,
    episode_detections,
    nab_score,
    nab_sigmoid,
    scored_events,
)
from reports.integrity import integrity_summary
from reports.lag import lag_per_partition, lag_summary
from reports.latency import hop_summary, latency_summary
from reports.recovery import RecoveryTolerance, fault_recovery
from reports.rundir import DEAD_LETTER_COLUMNS, FaultWindow, TimeWindow
from reports.slo import NOT_REPORTED, evaluate_slo, lookup
from reports.stats import mean_ci95, summarize, t_critical_95
from reports.throughput import throughput_per_second, throughput_summary

EMPTY_DEAD_LETTER = pd.DataFrame(columns=DEAD_LETTER_COLUMNS)


def store_everything(ledger: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"event_id": ledger["event_id"], "device_id": ledger["device_id"],
                         "is_anomaly": False, "detector": "zscore", "anomaly_score": 0.0,
                         "kafka_partition": ledger["partition"],
                         "kafka_offset": ledger["offset"],
                         "kafka_ts": ledger["ack_ts"],
                         "processing_start_ts": ledger["ack_ts"] + 0.1,
                         "stored_ts": ledger["ack_ts"] + 0.2})


def test_ledger_of_1000_with_3_missing_and_2_duplicated() -> None:
    ledger = ledger_frame(1000)
    stored = store_everything(ledger)
    stored = stored.drop(index=[10, 500, 999])
    stored = pd.concat([stored, stored.iloc[[0, 1]]], ignore_index=True)
    figures = integrity_summary(ledger, stored, EMPTY_DEAD_LETTER)
    assert figures["sent"] == 1000
    assert figures["acked"] == 1000
    assert figures["stored_unique"] == 997
    assert figures["lost"] == 3
    assert figures["storage_duplicates"] == 2
    assert figures["duplicate_rows"] == 2
    assert figures["examples"]["storage_duplicates"] == ["e000000", "e000001"]
    # No topic.parquet: the classes that need it are unknown, not 0.
    assert figures["topic_available"] is False
    assert figures["lost_in_kafka"] is None and figures["undrained"] is None
    assert figures["unexpected"] == 0
    assert figures["unacked"] == 0


def test_unexpected_unacked_replays_and_dead_letters() -> None:
    ledger = ledger_frame(100)
    ledger.loc[ledger.index[:4], "ack_ts"] = np.nan
    stored = store_everything(ledger).iloc[2:].copy()
    first = stored.iloc[0]
    # The sink absorbed two replayed writes of the first stored record's offset.
    replays = pd.DataFrame({"event_id": [first["event_id"]] * 2,
                            "kafka_partition": [first["kafka_partition"]] * 2,
                            "kafka_offset": [first["kafka_offset"]] * 2,
                            "collection": "processed_data", "at_ts": [1.0, 2.0]})
    stranger = stored.iloc[[0]].assign(event_id="not-in-ledger", kafka_offset=10_000)
    stored = pd.concat([stored, stranger], ignore_index=True)
    dropped = stored["event_id"] == ledger["event_id"].iloc[50]
    stored = stored[~dropped]
    dead_letter = pd.DataFrame({"reason": ["invalid_value", "unparseable"],
                                "raw": [f'{{"event_id": "{ledger["event_id"].iloc[50]}"}}',
                                        "garbage"],
                                "kafka_partition": [0, 1], "kafka_offset": [1, 2],
                                "kafka_ts": [1.0, 2.0], "stored_ts": [1.5, 2.5]})
    figures = integrity_summary(ledger, stored, dead_letter, replays=replays)
    assert figures["acked"] == 96
    assert figures["unacked"] == 4
    assert figures["stored_unacked"] == 2          # ids 2 and 3 stored without an ack
    assert figures["unexpected"] == 1
    assert figures["dead_lettered"] == 1
    assert figures["lost"] == 0                    # the dead-lettered one is accounted for
    assert figures["replayed_events"] == 1
    assert figures["replayed_writes"] == 2
    assert figures["dead_letters_by_reason"] == {"invalid_value": 1, "unparseable": 1}


def test_known_latencies_give_exact_percentiles() -> None:
    # e2e latencies 1, 2, …, 100 ms. Linear interpolation (numpy/pandas default):
    # q-quantile at rank q·(n−1): p50 = 50.5, p95 = 95.05, p99 = 99.01, p99.9 = 99.901.
    # Small timestamps keep the arithmetic exact (float64 epochs resolve ~0.24 µs).
    scheduled = np.arange(100, dtype="float64")
    events = pd.DataFrame({"scheduled_ts": scheduled, "send_ts": scheduled,
                           "ack_ts": scheduled, "kafka_ts": scheduled,
                           "processing_start_ts": scheduled,
                           "stored_ts": scheduled + np.arange(1, 101)[::-1] / 1000.0,
                           "visible_ts": np.nan})
    e2e = latency_summary(events)["e2e"]
    assert e2e["count"] == 100
    assert e2e["p50"] == pytest.approx(50.5, abs=1e-6)
    assert e2e["p95"] == pytest.approx(95.05, abs=1e-6)
    assert e2e["p99"] == pytest.approx(99.01, abs=1e-6)
    assert e2e["p999"] == pytest.approx(99.901, abs=1e-6)
    assert e2e["max"] == pytest.approx(100.0, abs=1e-6)
    assert e2e["mean"] == pytest.approx(50.5, abs=1e-6)
    assert latency_summary(events)["visible"]["count"] == 0
    hops = hop_summary(events)
    assert hops["processing_to_stored"]["p99"] == pytest.approx(99.01, abs=1e-6)
    assert hops["processing_to_stored"]["negative"] == 0
    assert hops["publish_delay"]["max"] == 0.0


def test_summary_matches_pandas_default_quantile() -> None:
    values = pd.Series(np.random.default_rng(1).exponential(10.0, 997))
    summary = summarize(values)
    for key, q in {"p50": 0.5, "p95": 0.95, "p99": 0.99, "p999": 0.999}.items():
        assert summary[key] == pytest.approx(values.quantile(q), rel=1e-12)


def test_known_confusion_matrix_gives_exact_scores() -> None:
    truth = pd.Series([True] * 50 + [False] * 50)
    predicted = pd.Series([True] * 30 + [False] * 20 + [True] * 10 + [False] * 40)
    matrix = confusion(truth, predicted)
    assert matrix == {"tp": 30, "fp": 10, "fn": 20, "tn": 40}
    scores = classification_scores(matrix)
    assert scores["precision"] == pytest.approx(0.75)
    assert scores["recall"] == pytest.approx(0.6)
    assert scores["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert scores["accuracy"] == pytest.approx(0.7)
    assert classification_scores({"tp": 0, "fp": 0, "fn": 0, "tn": 5})["precision"] is None


def _device_events(truth_kinds: list[str | None], flags: list[bool]) -> tuple[pd.DataFrame,
                                                                               pd.DataFrame]:
    count = len(truth_kinds)
    events = pd.DataFrame({
        "event_id": [f"x{i}" for i in range(count)], "device_id": "d-1",
        "device_type": "thermostat", "seq": range(count),
        "truth_anomaly": [k is not None for k in truth_kinds], "truth_kind": truth_kinds,
        "scheduled_ts": ORIGIN + np.arange(count, dtype="float64"),
        "stored_ts": ORIGIN + np.arange(count, dtype="float64") + 0.5,
    })
    stored = pd.DataFrame({"event_id": events["event_id"], "is_anomaly": flags})
    return events, stored


def test_episodes_detection_delay_and_nab_score() -> None:
    kinds = [None, "drift", "drift", None, None, None, "spike", None, None, None]
    flags = [False, False, True, False, False, False, False, False, True, False]
    events, stored = _device_events(kinds, flags)
    scored = scored_events(events, stored, "is_anomaly")
    windows = anomaly_windows(scored)
    # drift episode rows 1-2, window 1..4; spike row 6, window 6..7
    assert windows[["first", "last", "window_end"]].values.tolist() == [[1, 2, 4], [6, 6, 7]]
    detections = episode_detections(scored, windows)
    assert detections["detected"].tolist() == [True, False]
    assert detections.loc[0, "delay_s"] == 1.0           # flagged one reading (1 s) late
    assert detections.loc[0, "detection_latency_s"] == 1.5
    nab = nab_score(scored, windows, detections)
    raw = nab_sigmoid(-1 + 1 / 3) - 1.0 + NAB_A_FP       # hit at pos 1 of 4, a miss, one FP
    assert nab["raw"] == pytest.approx(raw)
    null, perfect = -2.0, 2 * nab_sigmoid(-1.0)
    assert nab["score"] == pytest.approx(100 * (raw - null) / (perfect - null))
    assert nab["false_positives"] == 1


def test_garbage_rejected_is_not_a_miss() -> None:
    kinds = [None, "spike", None, "garbage", None]
    events, stored = _device_events(kinds, [False, True, False, False, False])
    events.loc[3, "stored_ts"] = np.nan                   # garbage went to dead letter
    stored = stored.drop(index=3)
    figures = detector_accuracy(events, stored, "is_anomaly", [], ORIGIN + 10)
    assert figures["confusion"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 3}
    assert figures["recall"] == 1.0
    assert figures["not_stored"] == 1


def test_accuracy_inside_and_outside_fault_windows() -> None:
    kinds = [None, "spike", None, None, "spike", None]
    events, stored = _device_events(kinds, [False, True, False, True, False, False])
    fault = FaultWindow("f", "spark-kafka", "latency", ORIGIN + 3, ORIGIN + 5, None)
    figures = detector_accuracy(events, stored, "is_anomaly", [fault], ORIGIN + 10)
    assert figures["fault_windows"]["inside"]["confusion"] == {"tp": 0, "fp": 1, "fn": 1, "tn": 0}
    assert figures["fault_windows"]["outside"]["confusion"] == {"tp": 1, "fp": 0, "fn": 0,
                                                                "tn": 3}


def test_lag_series_with_known_slope() -> None:
    seconds = np.arange(60)
    rows = []
    for second in seconds:
        total = 1000.0 if second < 10 else 3.0 * second + 7.0
        for partition in (0, 1):
            rows.append({"ts": ORIGIN + second + 0.25, "partition": partition,
                         "end_offset": 0, "processed_offset": 0, "lag": total / 2})
    wide = lag_per_partition(pd.DataFrame(rows), ORIGIN)
    assert list(wide.columns) == ["p0", "p1", "total"]
    summary = lag_summary(wide, TimeWindow(ORIGIN + 10, ORIGIN + 60), ORIGIN, pd.DataFrame(rows))
    assert summary["slope_eps"] == pytest.approx(3.0)
    assert summary["slope_n"] == 50
    assert summary["slope_low"] == pytest.approx(3.0)
    assert summary["slope_high"] == pytest.approx(3.0)
    assert summary["final"] == pytest.approx(3.0 * 59 + 7.0)
    assert summary["max"] == 1000.0


def _recovery_series(back_at: int) -> tuple[pd.Series, pd.Series]:
    index = pd.RangeIndex(0, 60)
    lag = pd.Series([10.0 if (s < 20 or s >= back_at) else 500.0 for s in index], index=index)
    p99 = pd.Series([100.0 if (s < 20 or s >= back_at) else 4000.0 for s in index], index=index)
    return lag, p99


def test_recovery_time_on_constructed_series() -> None:
    lag, p99 = _recovery_series(back_at=36)
    fault = FaultWindow("f1", "spark-mongo", "down", ORIGIN + 20.0, ORIGIN + 30.0, None)
    result = fault_recovery(fault, lag, p99, ORIGIN, ORIGIN + 60, None, RecoveryTolerance())
    assert result["status"] == "recovered"
    assert result["recovery_s"] == pytest.approx(6.0)
    assert result["baseline_lag"] == 10.0
    assert result["baseline_p99_ms"] == 100.0
    assert result["peak_lag"] == 500.0


def test_not_recovered_and_not_healed() -> None:
    lag, p99 = _recovery_series(back_at=58)              # only 2 good seconds before the end
    fault = FaultWindow("f1", "kafka", "pause", ORIGIN + 20.0, ORIGIN + 30.0, None)
    result = fault_recovery(fault, lag, p99, ORIGIN, ORIGIN + 59.9, None)
    assert result["status"] == "not recovered"
    assert result["recovery_s"] is None
    never = FaultWindow("f2", "kafka", "kill", ORIGIN + 20.0, math.nan, None)
    assert fault_recovery(never, lag, p99, ORIGIN, ORIGIN + 59.9, None)["status"] == "not healed"


def test_throughput_per_second_and_rates() -> None:
    ledger = ledger_frame(200, rate_eps=20.0)
    events = ledger.assign(stored_ts=ledger["ack_ts"] + 0.5)
    table = throughput_per_second(events, ORIGIN)
    assert table["scheduled"].iloc[:10].tolist() == [20] * 10
    assert table["stored"].iloc[0] == 10 and table["stored"].iloc[10] == 10
    summary = throughput_summary(events, TimeWindow(ORIGIN + 2, ORIGIN + 8), target_eps=20.0)
    assert summary["scheduled_eps"] == pytest.approx(20.0)
    assert summary["stored_eps"] == pytest.approx(20.0)
    assert summary["achieved_ratio"] == pytest.approx(1.0)


def test_student_t_confidence_interval() -> None:
    ci = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert ci["mean"] == 2.5
    assert ci["ci95"] == pytest.approx(3.18244631 * math.sqrt(5 / 3) / 2)
    assert mean_ci95([5.0])["ci95"] is None
    assert t_critical_95(40) == pytest.approx(2.021075, abs=1e-5)
    assert t_critical_95(120) == pytest.approx(1.979930, abs=1e-5)


def test_lookup_and_missing_metric_fails_slo() -> None:
    results = {"latency_ms": {"e2e": {"p99": 120.0}}, "recovery": [{"recovery_s": 4.0}]}
    assert lookup(results, "latency_ms.e2e.p99") == 120.0
    assert lookup(results, "recovery.0.recovery_s") == 4.0
    assert lookup(results, "latency_ms.e2e.p42") is None
    verdict = evaluate_slo({"metric": "throughput.stored_eps", "op": ">=", "threshold": 1},
                           results)
    assert verdict["passed"] is False and verdict["message"] == NOT_REPORTED
    passing = evaluate_slo({"metric": "latency_ms.e2e.p99", "op": "<", "threshold": 200},
                           results)
    assert passing["passed"] is True and passing["value"] == 120.0


def test_recovery_counts_from_the_heal_start_and_says_when_it_saw_nothing() -> None:
    lag, p99 = _recovery_series(back_at=36)
    lag.loc[30:33] = np.nan                       # a broker restart: no lag sample for 4 s
    fault = FaultWindow("f1", "kafka", "kill", ORIGIN + 20.0, ORIGIN + 30.0, None,
                        heal_started_at=ORIGIN + 28.0)
    result = fault_recovery(fault, lag, p99, ORIGIN, ORIGIN + 60, None, RecoveryTolerance())
    assert result["status"] == "recovered"
    assert result["recovery_s"] == pytest.approx(8.0)       # 36 − 28, not 36 − 30
    assert result["unknown_seconds"] == 4 and result["spans_unknown"] is True
    assert result["heal_started_at"] == ORIGIN + 28.0
