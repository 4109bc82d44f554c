"""Full report on a constructed run folder: four files, sections, images, JUnit, determinism."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import matplotlib.image
import pytest
from reports_factory import write_run_folder

import reports
from reports.render_html import RUN_SECTIONS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, reports.Results]:
    run_dir = write_run_folder(tmp_path_factory.mktemp("runs") / "run-001")
    return run_dir, reports.build_report(run_dir)


def test_writes_all_four_outputs(built_run: tuple[Path, reports.Results]) -> None:
    run_dir, results = built_run
    for name in ("results.json", "report.html", "summary.md", "junit.xml"):
        assert (run_dir / name).stat().st_size > 0, name
    assert results.passed


def test_results_json_has_the_stable_keys(built_run: tuple[Path, reports.Results]) -> None:
    run_dir, _ = built_run
    results = json.loads((run_dir / "results.json").read_text())
    for key in ("p50", "p95", "p99", "p999", "max"):
        assert isinstance(reports.lookup(results, f"latency_ms.e2e.{key}"), float)
    assert reports.lookup(results, "throughput.stored_eps") > 0
    for key in ("sent", "acked", "stored_unique", "lost", "storage_duplicates", "unexpected",
                "lost_in_kafka", "kafka_duplicates", "lost_in_pipeline", "replayed_writes",
                "reordered", "undrained"):
        assert isinstance(reports.lookup(results, f"integrity.{key}"), int)
    for detector in ("zscore", "iforest"):
        assert set(results["accuracy"][detector]) >= {"precision", "recall", "f1"}
    assert results["integrity"]["lost"] == 0
    assert results["integrity"]["dead_lettered"] == 10
    assert results["accuracy"]["zscore"]["f1"] == 1.0
    assert results["recovery"][0]["status"] == "recovered"
    assert results["api"]["total"]["requests"] == 1000
    for verdict in results["slo"]:
        assert set(verdict) >= {"name", "threshold", "value", "passed"}


def test_html_has_every_section_and_decodable_images(
        built_run: tuple[Path, reports.Results]) -> None:
    run_dir, _ = built_run
    page = (run_dir / "report.html").read_text()
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings == RUN_SECTIONS
    assert "http://" not in page and "https://" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 7
    for encoded in images:
        png = base64.b64decode(encoded)
        assert png.startswith(PNG_SIGNATURE)
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50


def test_summary_md_and_junit(built_run: tuple[Path, reports.Results]) -> None:
    run_dir, _ = built_run
    summary = (run_dir / "summary.md").read_text()
    assert "all SLOs passed" in summary and "| figure | value |" in summary
    root = ElementTree.parse(run_dir / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases][0] == "run status"
    assert len(cases) == 1 + 3                  # the run's status, then the 3 SLOs
    assert not root.findall(".//failure")


def test_failing_slo_is_marked_failed(tmp_path: Path) -> None:
    slos = [{"metric": "latency_ms.e2e.p99", "op": "<=", "threshold": 1},
            {"metric": "integrity.lost", "op": "==", "threshold": 0},
            {"metric": "no.such.metric", "op": ">", "threshold": 0, "name": "made-up"}]
    run_dir = write_run_folder(tmp_path / "run-slow", slo=slos, with_locust=False)
    assert reports.report_main(run_dir) == 1
    root = ElementTree.parse(run_dir / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases["latency_ms.e2e.p99 <= 1"].find("failure") is not None
    assert cases["integrity.lost == 0"].find("failure") is None
    assert cases["made-up"].find("failure").get("message") == "metric not reported"
    assert root.find("testsuite").get("failures") == "2"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["slo_passed"] is False
    assert results["api"] is None
    assert "Locust did not run" in (run_dir / "report.html").read_text()


def test_rebuild_on_copied_folder_is_byte_identical(
        built_run: tuple[Path, reports.Results], tmp_path: Path) -> None:
    run_dir, _ = built_run
    copy = tmp_path / "run-001"
    shutil.copytree(run_dir, copy)
    (copy / "results.json").unlink()
    assert reports.report_main(copy) == 0
    assert (copy / "results.json").read_bytes() == (run_dir / "results.json").read_bytes()


def test_minimal_folder_without_optional_files(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "run-min", with_fault=False, with_locust=False)
    for name in ("lag.csv", "probe.csv", "resources.csv", "spark_progress.jsonl",
                 "dead_letter.parquet"):
        (run_dir / name).unlink()
    results = reports.build_report(run_dir).data
    assert results["lag"]["slope_eps"] is None
    assert results["latency_ms"]["visible"]["count"] == 0
    assert results["recovery"] == []
    assert results["integrity"]["lost"] == 10   # the garbage readings: no dead letter names them


def test_run_without_raw_data_still_reports_and_fails_its_slos(tmp_path: Path) -> None:
    source = write_run_folder(tmp_path / "source", with_locust=False)
    empty = tmp_path / "run-empty"
    empty.mkdir()
    for name in ("journal.json", "scenario.resolved.json"):
        shutil.copy(source / name, empty / name)
    assert reports.report_main(empty) == 1
    results = json.loads((empty / "results.json").read_text())
    assert results["latency_ms"]["e2e"]["count"] == 0
    failed = {v["metric"]: v["message"] for v in results["slo"] if not v["passed"]}
    assert failed["latency_ms.e2e.p99"] == "metric not reported"
    assert results["recovery"][0]["status"] == "no baseline"


def test_api_shortcut_keys(built_run: tuple[Path, reports.Results]) -> None:
    _, results = built_run
    assert results.lookup("api.p99_ms") == results.lookup("api.total.p99_ms") == 30.0
    assert results.lookup("api.endpoints.GET /api/latest.failures") == 9
