"""The cluster timeline of a 3-broker run (``cluster.csv``) and what each broker fault did.

``cluster.csv`` has one row per partition of the run's topic per sample (about once a second):
its leader (-1 = none), replica and ISR counts, and the active controller (-1 = none). A
second without a row is unknown: the admin read failed (e.g. the broker it asked was down).

Per broker fault — a process fault on ``kafka-N``, ``kafka-leader`` or ``kafka-controller``
(the journal records the broker it resolved to), an ``isolate``, or a link fault on one
broker's proxies — the table gives, from the samples:

- ``leader_back_s``: from the fault until no partition is led by that broker or by nobody
  (for a kill, metadata keeps naming the dead leader until the controller fences it, so
  "led again" means led by a live broker); 0 when it led nothing;
- ``isr_full_s``: from when the heal began until every partition's ISR is full again;
- ``controller_moved_s`` (the broker was the active controller): until another one is;
- the producer's sends during the fault window: how many, how many were never acknowledged,
  how many failed with an error (from the ledger).

``None`` means it did not happen while the run was sampled.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

CLUSTER_COLUMNS = ["ts", "partition", "leader", "replicas", "isr", "controller"]
BROKER = re.compile(r"^(?:producer-|spark-)?kafka-(\d+)(?:-replication|-controller)?$")


def cluster_per_sample(cluster: pd.DataFrame) -> pd.DataFrame:
    """One row per sample (epoch ``ts``): partitions, offline, under_replicated, controller."""
    if cluster.empty:
        return pd.DataFrame(columns=["ts", "partitions", "offline", "under_replicated",
                                     "controller"])
    frame = cluster.assign(offline=cluster["leader"] < 0,
                           under=cluster["isr"] < cluster["replicas"])
    grouped = frame.groupby("ts", sort=True)
    return pd.DataFrame({
        "partitions": grouped["partition"].count(),
        "offline": grouped["offline"].sum().astype(int),
        "under_replicated": grouped["under"].sum().astype(int),
        "controller": grouped["controller"].first().astype(int),
    }).reset_index()


def fault_broker(entry: dict[str, Any]) -> int | None:
    """The broker id a journal fault hit, or None when it was not a broker fault."""
    for name in (entry.get("resolved"), entry.get("target")):
        match = BROKER.match(str(name or ""))
        if match:
            return int(match.group(1))
    return None


def _first_at_or_after(samples: pd.DataFrame, since: float, ok: pd.Series) -> float | None:
    hits = samples.loc[(samples["ts"] >= since) & ok, "ts"]
    return None if hits.empty else round(float(hits.iloc[0]) - since, 3)


def broker_fault_table(faults: list[dict[str, Any]], cluster: pd.DataFrame,
                       ledger: pd.DataFrame, end: float,
                       samples: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """One row per broker fault of the journal (see the module docstring); ``samples`` is
    :func:`cluster_per_sample` of ``cluster`` when the caller has it already."""
    if cluster.empty:
        return []
    samples = cluster_per_sample(cluster) if samples is None else samples
    rows = []
    for entry in faults:
        broker, applied = fault_broker(entry), entry.get("applied_at")
        if broker is None or applied is None:
            continue
        healed = entry.get("healed_at") or end
        heal_began = entry.get("heal_started_at") or entry.get("healed_at")
        # per sample: some partition led by this broker, or by nobody
        stuck = (cluster.assign(bad=(cluster["leader"] == broker) | (cluster["leader"] < 0))
                 .groupby("ts", sort=True)["bad"].any().to_numpy())
        was_controller = bool((samples.loc[samples["ts"] <= applied, "controller"]
                               .tail(1) == broker).any())
        sends = ledger[(ledger["send_ts"] >= applied) & (ledger["send_ts"] < healed)]
        rows.append({
            "id": entry.get("id"), "label": entry.get("label"), "kind": entry.get("kind"),
            "target": entry.get("target"), "broker": broker,
            "window_s": round(float(healed) - float(applied), 3),
            "leader_back_s": _first_at_or_after(samples, applied,
                                                pd.Series(~stuck, index=samples.index)),
            "isr_full_s": (None if heal_began is None else _first_at_or_after(
                samples, heal_began, samples["under_replicated"] == 0)),
            "controller_moved_s": (_first_at_or_after(
                samples, applied, ~samples["controller"].isin([broker, -1]))
                if was_controller else None),
            "max_offline": int(samples.loc[samples["ts"] >= applied, "offline"].max() or 0),
            "max_under_replicated": int(samples.loc[samples["ts"] >= applied,
                                                    "under_replicated"].max() or 0),
            "sends": int(len(sends)),
            "unacked_sends": int(sends["ack_ts"].isna().sum()),
            "errored_sends": int(sends["error"].notna().sum()) if "error" in sends else 0,
        })
    return rows


def cluster_summary(faults: list[dict[str, Any]], cluster: pd.DataFrame,
                    ledger: pd.DataFrame, end: float) -> dict[str, Any]:
    """``results.json``'s ``cluster``: empty when the run sampled no cluster (one broker)."""
    if cluster.empty:
        return {}
    samples = cluster_per_sample(cluster)
    gaps = samples["ts"].diff().dropna()
    return {
        "samples": int(len(samples)),
        "longest_gap_s": None if gaps.empty else round(float(gaps.max()), 3),
        "controllers_seen": sorted(int(c) for c in samples["controller"].unique() if c >= 0),
        "max_offline": int(samples["offline"].max()),
        "max_under_replicated": int(samples["under_replicated"].max()),
        "faults": broker_fault_table(faults, cluster, ledger, end, samples),
    }
