"""Write a synthetic but consistent run folder (the raw-file contract of DESIGN.md).

Events are scheduled evenly at ``rate_eps`` from ``ORIGIN``; every hop has a fixed delay except
inside the fault window, where Spark falls behind (extra processing delay and growing lag) and
catches up a few seconds after the heal. Thermostats carry anomaly episodes of every kind; the
primary detector ``zscore`` flags the truth except for a known set of mistakes, ``iforest``
flags nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ORIGIN = 1_700_000_000.0
PUBLISH_DELAY = 0.001
SEND_TO_APPEND = 0.003
APPEND_TO_ACK = 0.001
APPEND_TO_PROCESSING = 0.2
PROCESSING_TO_STORED = 0.05
STORED_TO_VISIBLE = 0.1
PROBE_EVERY = 10

DEFAULT_SLO = [
    {"metric": "latency_ms.e2e.p99", "op": "<=", "threshold": 10000},
    {"metric": "integrity.lost", "op": "==", "threshold": 0},
    {"metric": "accuracy.zscore.f1", "op": ">=", "threshold": 0.5},
]


def ledger_frame(count: int, rate_eps: float = 50.0, devices: int = 5) -> pd.DataFrame:
    """``count`` events, device ``d-0`` is a motion sensor, the others thermostats."""
    index = np.arange(count)
    scheduled = ORIGIN + index / rate_eps
    device_number = index % devices
    seq = index // devices
    device_type = np.where(device_number == 0, "motion", "thermostat")
    truth_kind = np.array([None] * count, dtype=object)
    for i in range(count):
        if device_type[i] != "thermostat":
            continue
        phase = seq[i] % 40
        if phase == 10:
            truth_kind[i] = "spike"
        elif 20 <= phase < 24:
            truth_kind[i] = "drift"
        elif phase in (30, 31):
            truth_kind[i] = "stuck"
        elif phase == 35 and device_number[i] == 1:
            truth_kind[i] = "garbage"
    send = scheduled + PUBLISH_DELAY
    ack = send + SEND_TO_APPEND + APPEND_TO_ACK
    partition = (device_number % 2).astype("int64")
    offset = pd.Series(partition).groupby(partition).cumcount().to_numpy()
    return pd.DataFrame({
        "event_id": [f"e{i:06d}" for i in index],
        "device_id": [f"d-{d}" for d in device_number],
        "device_type": device_type,
        "seq": seq.astype("int64"),
        "truth_anomaly": np.array([k is not None for k in truth_kind]),
        "truth_kind": truth_kind,
        "scheduled_ts": scheduled,
        "send_ts": send,
        "ack_ts": ack,
        "partition": partition,
        "offset": offset.astype("float64"),
        "error": [None] * count,
    })


def topic_frame(ledger: pd.DataFrame) -> pd.DataFrame:
    """What Kafka holds: every acked event at its ledger coordinates (LogAppendTime)."""
    acked = ledger[ledger["ack_ts"].notna()]
    return pd.DataFrame({
        "partition": acked["partition"].astype("int32").to_numpy(),
        "offset": acked["offset"].astype("int64").to_numpy(),
        "kafka_ts": (acked["send_ts"] + SEND_TO_APPEND).to_numpy(),
        "event_id": acked["event_id"].to_numpy(),
        "device_id": acked["device_id"].to_numpy(),
        "seq": acked["seq"].astype("int64").to_numpy(),
    }).sort_values(["partition", "offset"]).reset_index(drop=True)


def stored_frame(ledger: pd.DataFrame, fault: tuple[float, float] | None = None,
                 missing: int = 0, duplicated: int = 0) -> pd.DataFrame:
    """The store: every acked non-garbage event, minus ``missing``, plus ``duplicated`` copies."""
    keep = ledger[ledger["ack_ts"].notna() & (ledger["truth_kind"] != "garbage")]
    kafka = keep["send_ts"].to_numpy() + SEND_TO_APPEND
    processing = kafka + APPEND_TO_PROCESSING
    if fault is not None:
        start, heal = fault
        scheduled = keep["scheduled_ts"].to_numpy()
        behind = (scheduled >= start) & (scheduled < heal + 3)
        processing = processing + np.where(behind, np.maximum(0.0, heal + 3 - scheduled), 0.0)
    truth = keep["truth_anomaly"].to_numpy()
    stored = pd.DataFrame({
        "event_id": keep["event_id"].to_numpy(),
        "device_id": keep["device_id"].to_numpy(),
        "device_type": keep["device_type"].to_numpy(),
        "seq": keep["seq"].to_numpy(),
        "is_anomaly": truth.copy(),
        "detector": "zscore",
        "anomaly_score": np.where(truth, 5.0, 0.5),
        "kafka_partition": keep["partition"].astype("int64").to_numpy(),
        "kafka_offset": keep["offset"].astype("int64").to_numpy(),
        "kafka_ts": kafka,
        "processing_start_ts": processing,
        "stored_ts": processing + PROCESSING_TO_STORED,
        "is_anomaly_zscore": truth.copy(),
        "is_anomaly_iforest": np.zeros(len(keep), dtype=bool),
    })
    if missing:
        stored = stored.drop(index=stored.index[-missing - 1:-1]).reset_index(drop=True)
    if duplicated:
        copies = stored.iloc[:duplicated].copy()
        copies["stored_ts"] = copies["stored_ts"] + 1.0
        stored = pd.concat([stored, copies], ignore_index=True)
    return stored


def empty_replays() -> pd.DataFrame:
    return pd.DataFrame({"event_id": pd.Series([], dtype="object"),
                         "kafka_partition": pd.Series([], dtype="int64"),
                         "kafka_offset": pd.Series([], dtype="int64"),
                         "collection": pd.Series([], dtype="object"),
                         "at_ts": pd.Series([], dtype="float64")})


def lag_frame(duration_s: int, fault: tuple[float, float] | None) -> pd.DataFrame:
    rows = []
    for second in range(duration_s):
        ts = ORIGIN + second + 0.5
        lag = 5.0
        if fault is not None and fault[0] <= ts < fault[1] + 3:
            lag = 5.0 + 40.0 * (ts - fault[0])
        for partition in (0, 1):
            rows.append({"ts": ts, "partition": partition, "end_offset": 100 * second + lag,
                         "processed_offset": 100 * second, "lag": lag, "source": "timer"})
            # A micro-batch commit a quarter second later: lag just after processing.
            rows.append({"ts": ts + 0.25, "partition": partition,
                         "end_offset": 100 * second + lag, "processed_offset": 100 * second,
                         "lag": lag, "source": "commit"})
    return pd.DataFrame(rows)


def write_locust(run_dir: Path) -> None:
    percentiles = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%",
                   "100%"]
    stats_columns = ["Type", "Name", "Request Count", "Failure Count", "Median Response Time",
                     "Average Response Time", "Min Response Time", "Max Response Time",
                     "Average Content Size", "Requests/s", "Failures/s", *percentiles]
    values = [12, 14, 15, 16, 18, 20, 25, 30, 40, 45, 50]
    stats = pd.DataFrame([
        ["GET", "/api/latest", 900, 9, 12, 13.5, 3, 50, 512, 30.0, 0.3, *values],
        ["GET", "/api/stats", 100, 0, 20, 22.0, 5, 80, 256, 3.3, 0.0, *[v + 5 for v in values]],
        ["", "Aggregated", 1000, 9, 13, 14.4, 3, 80, 486, 33.3, 0.3, *values],
    ], columns=stats_columns)
    stats.to_csv(run_dir / "locust_stats.csv", index=False)
    history_columns = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s",
                       *percentiles, "Total Request Count", "Total Failure Count",
                       "Total Median Response Time", "Total Average Response Time",
                       "Total Min Response Time", "Total Max Response Time",
                       "Total Average Content Size"]
    history = pd.DataFrame([
        [int(ORIGIN) + s, 10, "", "Aggregated", 33.0, 0.3 if s > 10 else 0.0, *values,
         33 * s, s // 4, 13, 14.0, 3, 80, 486]
        for s in range(2, 30)
    ], columns=history_columns)
    history.to_csv(run_dir / "locust_stats_history.csv", index=False)


def write_run_folder(run_dir: Path, *, events: int = 2000, rate_eps: float = 50.0,
                     slo: list[dict[str, Any]] | None = None, with_fault: bool = True,
                     with_locust: bool = True, missing: int = 0,
                     extra_delay_s: float = 0.0, with_topic: bool = True,
                     status: str = "completed", expect: dict[str, str] | None = None) -> Path:
    """Write every raw file of a run folder into ``run_dir`` and return it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    duration = int(events / rate_eps)
    fault = (ORIGIN + 15.0, ORIGIN + 20.0) if with_fault else None
    ledger = ledger_frame(events, rate_eps)
    stored = stored_frame(ledger, fault, missing=missing)
    stored["processing_start_ts"] += extra_delay_s
    stored["stored_ts"] += extra_delay_s
    garbage = ledger[ledger["truth_kind"] == "garbage"]
    dead_letter = pd.DataFrame({
        "reason": "invalid_value", "reason_kind": "invalid value",
        "raw": [json.dumps({"event_id": e, "device_id": d, "temperature": "NaN?"})
                for e, d in zip(garbage["event_id"], garbage["device_id"], strict=True)],
        "kafka_partition": garbage["partition"].to_numpy(),
        "kafka_offset": garbage["offset"].to_numpy(),
        "kafka_ts": garbage["ack_ts"].to_numpy(),
        "stored_ts": garbage["ack_ts"].to_numpy() + 0.3,
    })
    ledger.to_parquet(run_dir / "ledger.parquet", index=False)
    stored.to_parquet(run_dir / "stored.parquet", index=False)
    dead_letter.to_parquet(run_dir / "dead_letter.parquet", index=False)
    if with_topic:
        topic_frame(ledger).to_parquet(run_dir / "topic.parquet", index=False)
        empty_replays().to_parquet(run_dir / "replays.parquet", index=False)
    lag_frame(duration + 2, fault).to_csv(run_dir / "lag.csv", index=False)
    visible = stored.iloc[::PROBE_EVERY]
    pd.DataFrame({"event_id": visible["event_id"],
                  "sampled_ts": visible["kafka_ts"] + 0.01,
                  "visible_ts": visible["stored_ts"] + STORED_TO_VISIBLE}
                 ).to_csv(run_dir / "probe.csv", index=False)
    pd.DataFrame([{"ts": ORIGIN + s, "service": service, "cpu_percent": 10.0 + s % 3,
                   "rss_bytes": 1e8 + s} for s in range(duration) for service in
                  ("kafka", "spark-driver")]).to_csv(run_dir / "resources.csv", index=False)
    with (run_dir / "spark_progress.jsonl").open("w") as handle:
        for batch in range(duration):
            handle.write(json.dumps({"batchId": batch, "timestamp": "2023-11-14T22:13:20.000Z",
                                     "numInputRows": int(rate_eps), "durationMs":
                                     {"triggerExecution": 200 + batch}}) + "\n")
    if with_locust:
        write_locust(run_dir)
    end = ORIGIN + duration + 2
    scenario = {
        "name": "synthetic", "seed": 7, "duration_s": duration, "warmup_s": 5,
        "drain_timeout_s": 10,
        "stack": {"partitions": 2, "workers": 1, "worker_cores": 2, "detector": "zscore"},
        "producer": {"rate_eps": rate_eps}, "faults": [], "load": None,
        "slo": DEFAULT_SLO if slo is None else slo, "expect": expect or {},
    }
    faults = []
    if fault is not None:
        faults.append({"id": "f1", "target": "spark-kafka", "kind": "latency",
                       "attributes": {"latency": 1000}, "scheduled_start": fault[0],
                       "scheduled_end": fault[1], "applied_at": fault[0],
                       "heal_started_at": fault[1], "healed_at": fault[1], "error": None})
    journal = {
        "run_id": run_dir.name, "status": status, "started_at": ORIGIN - 10,
        "produce_started_at": ORIGIN,
        "drain": {"complete": True, "undrained": 0},
        "probe": {"sample_every": PROBE_EVERY, "poll_interval_s": 0.2, "max_pending": 1000,
                  "source": "topic"},
        "ended_at": end,
        "phases": [{"name": "stack", "start": ORIGIN - 10, "end": ORIGIN},
                   {"name": "warmup", "start": ORIGIN, "end": ORIGIN + 5},
                   {"name": "steady", "start": ORIGIN + 5, "end": ORIGIN + duration},
                   {"name": "drain", "start": ORIGIN + duration, "end": end},
                   {"name": "export", "start": end, "end": end}],
        "faults": faults,
        "settings": {"detectors": ["zscore", "iforest"], "detector": "zscore"},
        "versions": {"kafka": "4.1.0", "spark": "4.2.0"},
    }
    (run_dir / "scenario.resolved.json").write_text(json.dumps(scenario, indent=2))
    (run_dir / "journal.json").write_text(json.dumps(journal, indent=2))
    return run_dir
