"""Read one run folder into pandas, and nothing else.

Every report number is computed from the frames loaded here, so a report can be rebuilt later
from the raw files alone. A missing optional file gives an empty frame with the documented
columns, so analysis code never has to special-case "file absent".

Time conventions (shared by every module of ``reports``):

- all timestamps are float epoch seconds (UTC); missing values are NaN;
- the *origin* of a run's timelines is the first ``scheduled_ts`` of the ledger
  (fallback: the journal's ``started_at``); timeline x axes are seconds since the origin;
- the *measurement window* is the journal's ``steady`` phase; without one it is
  ``[origin + warmup_s, last scheduled_ts]``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cluster import CLUSTER_COLUMNS

LEDGER_COLUMNS = [
    "event_id", "device_id", "device_type", "seq", "truth_anomaly", "truth_kind",
    "scheduled_ts", "send_ts", "ack_ts", "partition", "offset", "error",
]
STORED_COLUMNS = [
    "event_id", "device_id", "device_type", "seq", "is_anomaly", "detector", "anomaly_score",
    "kafka_partition", "kafka_offset", "kafka_ts", "processing_start_ts", "stored_ts",
]
TOPIC_COLUMNS = ["partition", "offset", "kafka_ts", "event_id", "device_id", "seq"]
REPLAY_COLUMNS = ["event_id", "kafka_partition", "kafka_offset", "collection", "at_ts"]
DEAD_LETTER_COLUMNS = ["reason", "reason_kind", "raw", "kafka_partition", "kafka_offset",
                       "kafka_ts", "stored_ts"]
LAG_COLUMNS = ["ts", "partition", "end_offset", "processed_offset", "lag", "source"]
PROBE_COLUMNS = ["event_id", "sampled_ts", "visible_ts"]
RESOURCES_COLUMNS = ["ts", "service", "cpu_percent", "rss_bytes"]

FLOAT_TIME_COLUMNS = ("scheduled_ts", "send_ts", "ack_ts", "kafka_ts", "processing_start_ts",
                      "stored_ts", "sampled_ts", "visible_ts", "ts", "at_ts")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval ``[start, end)`` in epoch seconds."""

    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end - self.start)

    def contains(self, ts: pd.Series) -> pd.Series:
        return (ts >= self.start) & (ts < self.end)


@dataclass(frozen=True)
class FaultWindow:
    """One journal fault, with the interval it was active (applied → healed)."""

    fault_id: str
    target: str
    kind: str
    applied_at: float
    healed_at: float
    error: str | None
    heal_started_at: float = math.nan

    @property
    def recovery_from(self) -> float:
        """Recovery is measured from when the heal began (a restart's time counts)."""
        return self.healed_at if math.isnan(self.heal_started_at) else self.heal_started_at

    @property
    def label(self) -> str:
        return f"{self.fault_id}: {self.kind} @ {self.target}"


@dataclass
class RunData:
    """Everything in one run folder, as frames and dicts."""

    run_dir: Path
    scenario: dict[str, Any]
    journal: dict[str, Any]
    ledger: pd.DataFrame
    stored: pd.DataFrame
    dead_letter: pd.DataFrame
    topic: pd.DataFrame
    replays: pd.DataFrame
    lag: pd.DataFrame
    spark_progress: list[dict[str, Any]]
    probe: pd.DataFrame
    resources: pd.DataFrame
    locust_stats: pd.DataFrame | None = None
    locust_history: pd.DataFrame | None = None
    cluster: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CLUSTER_COLUMNS))
    """``cluster.csv`` of a 3-broker run (leader, ISR, controller per sample); else empty."""
    batch_timings: list[dict[str, Any]] = field(default_factory=list)
    """``batch_timings.jsonl``: per micro-batch, the sink slices' steps (see reports.batches)."""
    extra: dict[str, Any] = field(default_factory=dict)
    has_topic: bool = True
    """False for run folders written before topic.parquet existed (Kafka classes unknown)."""

    @property
    def status(self) -> str:
        return str(self.journal.get("status") or "unknown")

    @property
    def drain(self) -> dict[str, Any]:
        return self.journal.get("drain") or {}

    @property
    def origin(self) -> float:
        if len(self.ledger) and self.ledger["scheduled_ts"].notna().any():
            return float(self.ledger["scheduled_ts"].min())
        return _as_float(self.journal.get("started_at"), 0.0)

    @property
    def end(self) -> float:
        """The last moment any raw observation was taken (bounds recovery searches)."""
        candidates = [
            self.ledger.get("scheduled_ts"), self.stored.get("stored_ts"),
            self.lag.get("ts"), self.probe.get("visible_ts"),
        ]
        values = [float(c.max()) for c in candidates if c is not None and c.notna().any()]
        ended_at = _as_float(self.journal.get("ended_at"), math.nan)
        if not math.isnan(ended_at):
            values.append(ended_at)
        return max(values) if values else self.origin

    def phase(self, name: str) -> TimeWindow | None:
        for phase in self.journal.get("phases") or []:
            if phase.get("name") == name:
                start = _as_float(phase.get("start"), math.nan)
                end = _as_float(phase.get("end"), math.nan)
                if not math.isnan(start):
                    return TimeWindow(start, end if not math.isnan(end) else self.end)
        return None

    @property
    def measurement_window(self) -> TimeWindow:
        steady = self.phase("steady")
        if steady is not None:
            return steady
        warmup_s = _as_float(self.scenario.get("warmup_s"), 0.0)
        last_scheduled = (float(self.ledger["scheduled_ts"].max())
                          if len(self.ledger) else self.end)
        return TimeWindow(self.origin + warmup_s, last_scheduled + 1e-9)

    @property
    def faults(self) -> list[FaultWindow]:
        return fault_windows(self.journal, self.end)

    @property
    def detectors(self) -> list[str]:
        """Detector names: ``journal.settings.detectors``, else the stored ``detector`` column."""
        listed = (self.journal.get("settings") or {}).get("detectors")
        if listed:
            return [str(name) for name in listed]
        return [self.primary_detector]

    @property
    def primary_detector(self) -> str:
        settings = self.journal.get("settings") or {}
        if settings.get("detector"):
            return str(settings["detector"])
        if "detector" in self.stored and self.stored["detector"].notna().any():
            return str(self.stored["detector"].dropna().mode().sort_values().iloc[0])
        return str((self.scenario.get("stack") or {}).get("detector") or "primary")


def fault_windows(journal: dict[str, Any], run_end: float) -> list[FaultWindow]:
    """Faults as applied: ``applied_at`` (fallback scheduled_start) → ``healed_at`` (fallback
    scheduled_end, then the end of the run). Faults that were never applied are skipped."""
    windows: list[FaultWindow] = []
    for index, fault in enumerate(journal.get("faults") or []):
        applied = _as_float(fault.get("applied_at"), math.nan)
        if math.isnan(applied):
            if fault.get("error"):
                continue
            applied = _as_float(fault.get("scheduled_start"), math.nan)
        if math.isnan(applied):
            continue
        healed = _as_float(fault.get("healed_at"), math.nan)
        heal_started = _as_float(fault.get("heal_started_at"), math.nan)
        windows.append(FaultWindow(
            fault_id=str(fault.get("id") or f"fault-{index}"),
            target=str(fault.get("target") or "?"),
            kind=str(fault.get("kind") or "?"),
            applied_at=applied,
            healed_at=healed,
            error=fault.get("error") or None,
            heal_started_at=heal_started,
        ))
    return windows


def _as_float(value: Any, default: float) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(result) else result


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        if column not in frame.columns:
            frame[column] = np.nan
    for column in FLOAT_TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=columns)
    return _with_columns(frame, columns)


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return _with_columns(pd.DataFrame(columns=columns), columns)
    return _with_columns(pd.read_csv(path), columns)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _read_optional_csv(path: Path) -> pd.DataFrame | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    return pd.read_csv(path)


def _normalise_ledger(ledger: pd.DataFrame) -> pd.DataFrame:
    ledger["event_id"] = ledger["event_id"].astype("object").where(ledger["event_id"].notna())
    ledger["truth_anomaly"] = ledger["truth_anomaly"].fillna(False).astype(bool)
    return ledger.sort_values(["scheduled_ts", "event_id"], kind="mergesort").reset_index(drop=True)


def _normalise_stored(stored: pd.DataFrame) -> pd.DataFrame:
    stored["is_anomaly"] = stored["is_anomaly"].fillna(False).astype(bool)
    return stored.sort_values(["stored_ts", "event_id"], kind="mergesort").reset_index(drop=True)


def load_run(run_dir: Path | str) -> RunData:
    """Load a run folder (see DESIGN.md, "A run folder") into a :class:`RunData`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder not found: {run_dir}")
    topic = _read_parquet(run_dir / "topic.parquet", TOPIC_COLUMNS)
    return RunData(
        run_dir=run_dir,
        scenario=_read_json(run_dir / "scenario.resolved.json"),
        journal=_read_json(run_dir / "journal.json"),
        ledger=_normalise_ledger(_read_parquet(run_dir / "ledger.parquet", LEDGER_COLUMNS)),
        stored=_normalise_stored(_read_parquet(run_dir / "stored.parquet", STORED_COLUMNS)),
        dead_letter=_read_parquet(run_dir / "dead_letter.parquet", DEAD_LETTER_COLUMNS),
        topic=topic.sort_values(["partition", "offset"], kind="mergesort").reset_index(drop=True),
        replays=_read_parquet(run_dir / "replays.parquet", REPLAY_COLUMNS),
        lag=_read_csv(run_dir / "lag.csv", LAG_COLUMNS),
        spark_progress=_read_jsonl(run_dir / "spark_progress.jsonl"),
        batch_timings=_read_jsonl(run_dir / "batch_timings.jsonl"),
        probe=_read_csv(run_dir / "probe.csv", PROBE_COLUMNS),
        resources=_read_csv(run_dir / "resources.csv", RESOURCES_COLUMNS),
        cluster=_read_csv(run_dir / "cluster.csv", CLUSTER_COLUMNS),
        locust_stats=_read_optional_csv(run_dir / "locust_stats.csv"),
        locust_history=_read_optional_csv(run_dir / "locust_stats_history.csv"),
        has_topic=(run_dir / "topic.parquet").exists(),
    )
