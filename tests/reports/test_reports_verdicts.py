"""Censored latency, sustainability, expectations and run status, end to end on run folders."""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from reports_factory import write_run_folder

import reports
from reports.latency import censored_quantile, censored_summary, hop_stats
from reports.sustainability import capacity_from_probes, judge


def test_censored_quantiles_match_numpy_where_defined() -> None:
    values = np.arange(1.0, 101.0)                     # 100 values, 5 of them never arrived
    seconds = np.concatenate([values[:95], [np.nan] * 5]) / 1000.0
    summary = censored_summary(seconds)
    assert summary["count"] == 100 and summary["stored"] == 95 and summary["censored"] == 5
    with_inf = np.concatenate([values[:95], [np.inf] * 5])
    assert summary["p50"] == pytest.approx(float(np.quantile(with_inf, 0.5)))
    # p95 sits at rank 94.05: between the last stored value and the first +inf → censored.
    assert summary["p95"] is None and summary["censored_above"]["p95"] is True
    assert summary["p99"] is None and summary["max"] is None
    assert summary["censored_above"]["p50"] is False
    assert summary["mean"] == pytest.approx(values[:95].mean())
    assert censored_quantile(np.array([1.0, 2.0]), 0, 1.0) == 2.0
    assert censored_quantile(np.array([]), 0, 0.5) is None


def test_negative_hop_samples_are_counted_not_averaged() -> None:
    summary = hop_stats(pd.Series([-0.002, 0.001, 0.002, 0.003]))
    assert summary["negative"] == 1 and summary["negative_min"] == pytest.approx(-2.0)
    assert summary["count"] == 3 and summary["min"] == pytest.approx(1.0)


def test_unstored_events_are_censored_in_the_run_report(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "lossy", events=2000, with_locust=False,
                               with_fault=False, missing=100)
    results = reports.build_report(run_dir).data
    e2e = results["latency_ms"]["e2e"]
    assert e2e["censored"] == 100
    assert e2e["p99"] is None and e2e["censored_above"]["p99"] is True
    assert results["latency_ms"]["e2e_stored"]["p99"] is not None
    assert results["integrity"]["lost_in_pipeline"] == 100
    sustainability = results["sustainability"]
    assert sustainability["sustainable"] is False
    failed = {c["name"] for c in sustainability["checks"] if not c["passed"]}
    assert {"no_loss", "e2e_p99"} <= failed
    assert "&gt; run (censored)" in (run_dir / "report.html").read_text()


def test_a_clean_run_is_sustainable_with_evidence(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "clean", with_locust=False, with_fault=False)
    results = reports.build_report(run_dir).data
    verdict = results["sustainability"]
    assert verdict["sustainable"] is True, verdict["reasons"]
    lag = next(c for c in verdict["checks"] if c["name"] == "lag_trend")
    assert lag["ci_excludes_limit"] is True and lag["ci_high"] < lag["limit"]
    assert results["throughput"]["sustainable"] is True
    assert results["latency_ms"]["visible"]["sampled"] > 0
    assert set(results["latency_ms"]["hops"]) == {
        "publish_delay", "send_to_append", "append_to_ack", "append_to_processing",
        "processing_to_stored", "stored_to_visible"}
    assert results["latency_ms"]["hops"]["processing_to_stored"]["p50"] == pytest.approx(50.0)


def test_the_rule_rejects_a_probe_with_loss() -> None:
    results = {"run": {"status": "completed"},
               "throughput": {"target_eps": 100.0, "achieved_ratio": 1.0},
               "lag": {"slope_eps": 0.0, "slope_low": -0.1, "slope_high": 0.1},
               "latency_ms": {"e2e": {"p99": 100.0}, "hops": {"publish_delay": {"p99": 1.0}}},
               "integrity": {"lost": 0, "lost_in_kafka": 0, "kafka_duplicates": 0,
                             "lost_in_pipeline": 0, "storage_duplicates": 0, "unexpected": 0,
                             "undrained": 0}, "slo": []}
    assert judge(results)["sustainable"] is True
    results["integrity"].update(lost=1, lost_in_kafka=1)
    verdict = judge(results)
    assert verdict["sustainable"] is False
    assert any("lost_in_kafka = 1" in reason for reason in verdict["reasons"])


def test_capacity_is_monotone() -> None:
    probes = [{"rate_eps": 100, "sustainable": True}, {"rate_eps": 200, "sustainable": True},
              {"rate_eps": 300, "sustainable": False}, {"rate_eps": 400, "sustainable": True},
              {"rate_eps": 200, "sustainable": True}]
    assert capacity_from_probes(probes)["capacity_eps"] == 200.0
    assert capacity_from_probes(probes)["first_unsustainable_eps"] == 300.0
    probes.append({"rate_eps": 200, "sustainable": False})     # one failed repetition
    assert capacity_from_probes(probes)["capacity_eps"] == 100.0
    assert capacity_from_probes([{"rate_eps": 50, "sustainable": False}])["capacity_eps"] is None


def test_sweep_report_capacity_agrees_with_the_probes(tmp_path: Path) -> None:
    """A non-monotone sweep: 50 ok, 100 lossy, 150 ok → capacity 50, never 150."""
    sweep_dir = tmp_path / "capacity"
    entries, probes = [], []
    for rate, missing in ((50, 0), (100, 30), (150, 0)):
        name = f"rate{rate}"
        write_run_folder(sweep_dir / name, events=int(rate * 30), rate_eps=rate,
                         with_locust=False, with_fault=False, missing=missing)
        entries.append({"run_dir": name, "repetition": 0, "point": {"producer.rate_eps": rate}})
    (sweep_dir / "sweep.json").write_text(json.dumps({"points": entries}))
    results = reports.build_sweep_report(sweep_dir).data
    for entry in entries:
        run = json.loads((sweep_dir / entry["run_dir"] / "results.json").read_text())
        probes.append({"rate_eps": entry["point"]["producer.rate_eps"],
                       "sustainable": judge(run)["sustainable"]})
    assert [p["sustainable"] for p in probes] == [True, False, True]
    assert results["capacity"][0]["capacity_eps"] == capacity_from_probes(probes)["capacity_eps"]
    assert results["capacity"][0]["capacity_eps"] == 50.0


def test_an_expected_anomaly_that_did_not_appear_fails_the_run(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "silent", with_locust=False, with_fault=False,
                               expect={"integrity.storage_duplicates": "> 0",
                                       "integrity.lost": "== 0"})
    results = reports.build_report(run_dir)
    verdicts = {v["metric"]: v for v in results.data["expectations"]}
    assert verdicts["integrity.storage_duplicates"]["passed"] is False
    assert verdicts["integrity.lost"]["passed"] is True
    assert results.data["expectations_passed"] is False and results.passed is False
    assert reports.report_main(run_dir) == 1
    root = ElementTree.parse(run_dir / "junit.xml").getroot()
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["expect integrity.storage_duplicates > 0"]
    assert "NOT MET" in (run_dir / "report.html").read_text()


@pytest.mark.parametrize("status", ["interrupted", "invalid-baseline"])
def test_a_run_that_did_not_complete_says_so_everywhere(tmp_path: Path, status: str) -> None:
    run_dir = write_run_folder(tmp_path / status, with_locust=False, with_fault=False,
                               status=status)
    results = reports.build_report(run_dir).data
    assert results["run"]["status"] == status
    assert results["integrity"]["partial"] is (status == "interrupted")
    assert results["sustainability"]["sustainable"] is False
    assert status in (run_dir / "report.html").read_text()
    assert status in (run_dir / "summary.md").read_text()
    root = ElementTree.parse(run_dir / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "run status")
    assert case.find("failure") is not None
    assert reports.report_main(run_dir) == 1
    if status == "interrupted":
        assert "partial" in (run_dir / "report.html").read_text()


def test_an_old_run_folder_without_topic_says_the_kafka_classes_are_unknown(
        tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "old", with_locust=False, with_topic=False)
    integrity = reports.build_report(run_dir).data["integrity"]
    assert integrity["topic_available"] is False
    assert integrity["lost_in_kafka"] is None and integrity["undrained"] is None
    assert integrity["lost"] == 0 and integrity["storage_duplicates"] == 0
    assert "unknown" in (run_dir / "report.html").read_text()


def test_lag_is_never_forward_filled(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "gap", with_locust=False, with_fault=False)
    lag = pd.read_csv(run_dir / "lag.csv")
    origin = 1_700_000_000.0
    lag = lag[~((lag["ts"] >= origin + 12) & (lag["ts"] < origin + 17))]
    lag.to_csv(run_dir / "lag.csv", index=False)
    analysis = reports.analyze_run(reports.load_run(run_dir))
    assert analysis.lag.loc[12:16, "total"].isna().all()
    assert not math.isnan(analysis.lag.loc[11, "total"])
    assert analysis.figures["lag"]["unknown_seconds"] == 5
