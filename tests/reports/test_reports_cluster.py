"""The cluster timeline's per-broker-fault figures, on a constructed history with known
answers: broker 2 (leader of partition 0 and the active controller) is killed at t = 10."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.cluster import broker_fault_table, cluster_per_sample, cluster_summary, fault_broker


def _cluster() -> pd.DataFrame:
    rows = []
    for t in range(0, 41):
        if t in (15, 16):
            continue  # the admin read failed: unknown, never filled
        for partition, leader in ((0, 2), (1, 1), (2, 3)):
            # the controller fences broker 2 at 19: partition 0 moves to broker 1
            now_leader = 1 if (partition == 0 and t >= 19) else leader
            shrunk = 19 <= t < 31  # without broker 2 until it has caught up (heal at 25)
            rows.append((float(t), partition, now_leader, 3, 2 if shrunk else 3,
                         2 if t < 12 else (-1 if t < 14 else 3)))
    return pd.DataFrame(rows, columns=["ts", "partition", "leader", "replicas", "isr",
                                       "controller"])


def _ledger() -> pd.DataFrame:
    send = np.arange(0.0, 40.0, 0.5)
    ack = np.where((send >= 10) & (send < 19), np.nan, send + 0.01)
    error = np.where((send >= 10) & (send < 12), "KafkaTimeoutError", None)
    return pd.DataFrame({"send_ts": send, "ack_ts": ack, "error": error})


KILL = {"id": 0, "label": "kill kafka-leader", "kind": "kill", "target": "kafka-leader",
        "resolved": "kafka-2", "applied_at": 10.0, "heal_started_at": 25.0, "healed_at": 27.0}


def test_each_broker_fault_gets_its_times_and_the_producers_failed_sends() -> None:
    (row,) = broker_fault_table([KILL], _cluster(), _ledger(), end=40.0)
    assert row["broker"] == 2
    assert row["leader_back_s"] == 9.0        # fenced at 19: partition 0 led by broker 1
    assert row["isr_full_s"] == 6.0           # heal began at 25, ISR full at 31
    assert row["controller_moved_s"] == 4.0   # none at 12-13, broker 3 from 14
    assert row["max_offline"] == 0 and row["max_under_replicated"] == 3
    assert (row["sends"], row["unacked_sends"], row["errored_sends"]) == (34, 18, 4)


def test_only_broker_faults_count_and_gaps_stay_unknown() -> None:
    faults = [KILL, {"id": 1, "target": "spark-mongo", "kind": "latency", "applied_at": 5.0},
              {"id": 2, "target": "kafka-3-replication", "kind": "latency", "applied_at": 30.0,
               "heal_started_at": 35.0, "healed_at": 35.0}]
    summary = cluster_summary(faults, _cluster(), _ledger(), end=40.0)
    assert [f["id"] for f in summary["faults"]] == [0, 2]
    slow_follower = summary["faults"][1]
    assert slow_follower["broker"] == 3 and slow_follower["controller_moved_s"] is None
    assert summary["longest_gap_s"] == 3.0 and summary["samples"] == 39
    assert summary["controllers_seen"] == [2, 3]
    samples = cluster_per_sample(_cluster())
    assert not ((samples["ts"] == 15) | (samples["ts"] == 16)).any()


def test_a_one_broker_run_has_no_cluster_figures() -> None:
    empty = pd.DataFrame(columns=["ts", "partition", "leader", "replicas", "isr", "controller"])
    assert cluster_summary([KILL], empty, _ledger(), end=40.0) == {}
    assert fault_broker({"target": "kafka"}) is None
    assert fault_broker({"target": "isolate", "resolved": None}) is None
    assert fault_broker({"target": "kafka-2"}) == 2
