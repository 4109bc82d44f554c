"""Anomaly-detection accuracy per detector, against the producer's truth.

Population scored: **thermostat** ledger events that reached the store (their first stored
copy carries the prediction). Motion events are not scored. Events that never reached the store
are integrity failures and are not scored either; among them, ``garbage`` readings (malformed by
design, expected to be rejected to the dead-letter collection) are counted separately as
``garbage_rejected`` (and ``garbage_dead_lettered`` when the dead letter names the event), never
as misses.

Prediction of detector ``d`` = stored column ``is_anomaly_<d>``; for the primary detector,
``is_anomaly`` when that column is absent.

- confusion: tp, fp, fn, tn; precision = tp/(tp+fp), recall = tp/(tp+fn), F1 = 2PR/(P+R)
  (None when a denominator is 0).
- per truth_kind k: the same over {events of kind k} ∪ {normal events} (so the false positives
  are shared by every kind).
- episode: a maximal run of consecutive scored readings of one device (ordered by ``seq``) that
  are all anomalous with the same truth_kind. Its *window* is the episode followed by as many
  further readings of that device as the episode has (tolerance for detectors that react a
  reading late), cut at the next episode.
- detection delay of a detected episode: scheduled time of the first flagged reading in the
  window − scheduled time of the episode's first reading (``delay_s``, event time), and stored
  time of that flagged reading − the same start (``detection_latency_s``).
- NAB-style score (Lavin & Ahmad 2015, standard profile): each window contributes
  ``A_TP·σ(y)`` for its first flagged reading at position ``pos`` of ``n`` readings, with
  ``y = pos/(n−1) − 1`` (−1 at the window's first reading, 0 at its last; y = −1 when n = 1)
  and ``σ(y) = 2/(1+e^{5y}) − 1``, or ``A_FN`` if no reading in it is flagged; every flagged
  reading outside all windows adds ``A_FP``. A_TP = 1, A_FN = −1, A_FP = −0.11.
  Normalised score = 100·(S − S_null)/(S_perfect − S_null), S_null = A_FN·windows (flag
  nothing), S_perfect = A_TP·σ(−1)·windows (flag every window at its first reading).
  100 is perfect, 0 equals the do-nothing detector, negative is worse.
- inside vs outside faults: the confusion split by whether the event was scheduled inside any
  fault window (applied → healed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .rundir import FaultWindow
from .stats import ratio

NAB_A_TP = 1.0
NAB_A_FN = -1.0
NAB_A_FP = -0.11


def nab_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid σ(y) = 2/(1+e^{5y}) − 1."""
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def prediction_column(stored: pd.DataFrame, detector: str, primary: str) -> str | None:
    column = f"is_anomaly_{detector}"
    if column in stored.columns:
        return column
    if detector == primary and "is_anomaly" in stored.columns:
        return "is_anomaly"
    return None


def scored_events(events: pd.DataFrame, first_copies: pd.DataFrame,
                  column: str) -> pd.DataFrame:
    """Thermostat events that were stored, with ``truth``, ``kind`` and ``predicted``."""
    predictions = first_copies[["event_id", column]].rename(columns={column: "predicted"})
    thermostat = events[events["device_type"] == "thermostat"]
    scored = thermostat.merge(predictions, on="event_id", how="inner")
    scored = scored[scored["stored_ts"].notna()].copy()
    scored["predicted"] = scored["predicted"].fillna(False).astype(bool)
    scored["truth"] = scored["truth_anomaly"].astype(bool)
    scored["kind"] = scored["truth_kind"].astype("object").where(scored["truth"], None)
    return scored.sort_values(["device_id", "seq"], kind="mergesort").reset_index(drop=True)


def confusion(truth: pd.Series, predicted: pd.Series) -> dict[str, int]:
    truth = truth.astype(bool).to_numpy()
    predicted = predicted.astype(bool).to_numpy()
    return {
        "tp": int((truth & predicted).sum()),
        "fp": int((~truth & predicted).sum()),
        "fn": int((truth & ~predicted).sum()),
        "tn": int((~truth & ~predicted).sum()),
    }


def classification_scores(matrix: dict[str, int]) -> dict[str, Any]:
    """precision, recall, F1 and accuracy of a confusion matrix, with the matrix itself."""
    precision = ratio(matrix["tp"], matrix["tp"] + matrix["fp"])
    recall = ratio(matrix["tp"], matrix["tp"] + matrix["fn"])
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    total = sum(matrix.values())
    return {"confusion": dict(matrix), "precision": precision, "recall": recall, "f1": f1,
            "accuracy": ratio(matrix["tp"] + matrix["tn"], total), "events": total}


def per_kind_scores(scored: pd.DataFrame) -> dict[str, dict[str, Any]]:
    normal = scored[~scored["truth"]]
    result: dict[str, dict[str, Any]] = {}
    for kind in sorted(scored["kind"].dropna().astype(str).unique()):
        subset = pd.concat([scored[scored["kind"] == kind], normal])
        result[kind] = classification_scores(confusion(subset["truth"], subset["predicted"]))
    return result


def anomaly_windows(scored: pd.DataFrame) -> pd.DataFrame:
    """Episodes and their NAB windows as row positions into ``scored`` (sorted by device, seq).

    Columns: device_id, kind, first, last (episode rows), window_end (inclusive).
    """
    rows: list[dict[str, Any]] = []
    for device_id, device in scored.groupby("device_id", sort=True):
        positions = device.index.to_numpy()
        truth = device["truth"].to_numpy()
        kinds = device["kind"].to_numpy()
        episodes: list[tuple[int, int, Any]] = []
        start = None
        for i in range(len(device) + 1):
            boundary = (i == len(device) or not truth[i]
                        or (start is not None and kinds[i] != kinds[start]))
            if start is not None and boundary:
                episodes.append((start, i - 1, kinds[start]))
                start = None
            if i < len(device) and truth[i] and start is None:
                start = i
        for index, (first, last, kind) in enumerate(episodes):
            limit = episodes[index + 1][0] - 1 if index + 1 < len(episodes) else len(device) - 1
            window_end = min(last + (last - first + 1), limit)
            rows.append({"device_id": device_id, "kind": kind, "first": int(positions[first]),
                         "last": int(positions[last]), "window_end": int(positions[window_end])})
    return pd.DataFrame(rows, columns=["device_id", "kind", "first", "last", "window_end"])


def episode_detections(scored: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Per episode: detected?, position of the first flag in the window, delays in seconds."""
    predicted = scored["predicted"].to_numpy()
    scheduled = scored["scheduled_ts"].to_numpy(dtype="float64")
    stored = scored["stored_ts"].to_numpy(dtype="float64")
    records = []
    for window in windows.itertuples(index=False):
        flagged = np.flatnonzero(predicted[window.first:window.window_end + 1])
        record = {"device_id": window.device_id, "kind": window.kind,
                  "length": window.last - window.first + 1,
                  "window_length": window.window_end - window.first + 1,
                  "detected": bool(flagged.size), "position": None,
                  "delay_s": None, "detection_latency_s": None}
        if flagged.size:
            hit = window.first + int(flagged[0])
            record.update(position=int(flagged[0]),
                          delay_s=float(scheduled[hit] - scheduled[window.first]),
                          detection_latency_s=float(stored[hit] - scheduled[window.first]))
        records.append(record)
    return pd.DataFrame(records, columns=["device_id", "kind", "length", "window_length",
                                          "detected", "position", "delay_s",
                                          "detection_latency_s"])


def nab_score(scored: pd.DataFrame, windows: pd.DataFrame,
              detections: pd.DataFrame) -> dict[str, Any]:
    """Windowed early-detection score; see the module docstring for the formula."""
    in_window = np.zeros(len(scored), dtype=bool)
    for window in windows.itertuples(index=False):
        in_window[window.first:window.window_end + 1] = True
    false_positives = int((scored["predicted"].to_numpy() & ~in_window
                           & ~scored["truth"].to_numpy()).sum())
    raw = NAB_A_FP * false_positives
    for detection in detections.itertuples(index=False):
        if detection.detected:
            n = detection.window_length
            y = detection.position / (n - 1) - 1.0 if n > 1 else -1.0
            raw += NAB_A_TP * nab_sigmoid(y)
        else:
            raw += NAB_A_FN
    count = len(windows)
    null, perfect = NAB_A_FN * count, NAB_A_TP * nab_sigmoid(-1.0) * count
    normalised = 100.0 * (raw - null) / (perfect - null) if count else None
    return {"score": normalised, "raw": raw, "windows": count,
            "detected_windows": int(detections["detected"].sum()) if count else 0,
            "false_positives": false_positives}


def delay_summary(detections: pd.DataFrame) -> dict[str, Any]:
    detected = detections.loc[detections["detected"].astype(bool)]
    delays = detected["delay_s"].astype("float64")
    latencies = detected["detection_latency_s"].astype("float64")
    positions = detected["position"].astype("float64")
    return {
        "episodes": int(len(detections)),
        "detected": int(len(detected)),
        "mean_s": float(delays.mean()) if len(delays) else None,
        "p50_s": float(delays.median()) if len(delays) else None,
        "max_s": float(delays.max()) if len(delays) else None,
        "mean_readings": float(positions.mean()) if len(positions) else None,
        "detection_latency_mean_s": float(latencies.mean()) if len(latencies) else None,
    }


def inside_fault_mask(scheduled_ts: pd.Series, faults: list[FaultWindow],
                      run_end: float) -> pd.Series:
    mask = pd.Series(False, index=scheduled_ts.index)
    for fault in faults:
        healed = fault.healed_at if not math.isnan(fault.healed_at) else run_end
        mask |= (scheduled_ts >= fault.applied_at) & (scheduled_ts < healed)
    return mask


def garbage_counts(events: pd.DataFrame, dead_lettered_ids: set[str]) -> dict[str, int]:
    thermostat = events[events["device_type"] == "thermostat"]
    garbage = thermostat[thermostat["truth_kind"].astype("object") == "garbage"]
    rejected = garbage[garbage["stored_ts"].isna()]
    return {"garbage_total": int(len(garbage)), "garbage_rejected": int(len(rejected)),
            "garbage_dead_lettered": int(rejected["event_id"].isin(dead_lettered_ids).sum())}


def detector_accuracy(events: pd.DataFrame, first_copies: pd.DataFrame, column: str,
                      faults: list[FaultWindow], run_end: float) -> dict[str, Any]:
    """Every accuracy figure of one detector (prediction column ``column``)."""
    scored = scored_events(events, first_copies, column)
    result = classification_scores(confusion(scored["truth"], scored["predicted"]))
    result["per_kind"] = per_kind_scores(scored)
    windows = anomaly_windows(scored)
    detections = episode_detections(scored, windows)
    result["detection_delay"] = delay_summary(detections)
    result["detection_delay_per_kind"] = {
        str(kind): delay_summary(group)
        for kind, group in detections.groupby("kind", sort=True)
    }
    result["nab"] = nab_score(scored, windows, detections)
    inside = inside_fault_mask(scored["scheduled_ts"], faults, run_end)
    result["fault_windows"] = {
        "inside": classification_scores(confusion(scored.loc[inside, "truth"],
                                                  scored.loc[inside, "predicted"])),
        "outside": classification_scores(confusion(scored.loc[~inside, "truth"],
                                                   scored.loc[~inside, "predicted"])),
    }
    thermostat = events[events["device_type"] == "thermostat"]
    result["not_stored"] = int(thermostat["stored_ts"].isna().sum())
    return result
