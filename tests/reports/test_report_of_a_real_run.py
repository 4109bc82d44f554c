"""The report of a real short run on the real stack: every section with decodable plots, a
page Chromium renders, JUnit that parses, a failing SLO that fails `iotbench run`, and
`iotbench report` reproducing results.json byte for byte from a copied folder."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import matplotlib.image
import pytest

from benchmarks.provider import native_target
from benchmarks.runner import EXIT_SLO_FAILED, Run, RunOutcome
from benchmarks.scenario.model import parse_scenario
from reports.render_html import RUN_SECTIONS
from system.stack.native import NativeStack

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def real_run(stack: NativeStack, tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    stack.links.reset()
    scenario = parse_scenario({
        # The fault comes after a fresh Spark app's 20-35 s of first micro-batches, so the
        # steady-state gate sees a settled baseline.
        "name": "report-check", "seed": 3, "duration_s": 55, "warmup_s": 35,
        "drain_timeout_s": 60, "stack": {"partitions": 2, "trigger_ms": 500},
        "producer": {"devices": 6, "rate_eps": 80},
        "faults": [{"at_s": 40, "duration_s": 5, "link": "spark-mongo", "toxic": "latency",
                    "attributes": {"latency": 200}}],
        "slo": [{"metric": "integrity.lost", "op": "==", "threshold": 0},
                # Impossible on purpose: the run must then exit non-zero.
                {"metric": "throughput.stored_eps", "op": ">=", "threshold": 1_000_000}],
    })
    target = native_target(stack, started_here=False)
    return Run(scenario, tmp_path_factory.mktemp("runs"), target=target,
               show_progress=False).execute()


def test_failing_slo_fails_the_run(real_run: RunOutcome) -> None:
    assert real_run.status == "completed"
    assert real_run.exit_code == EXIT_SLO_FAILED
    assert len(real_run.failed_slos) == 1 and "throughput.stored_eps" in real_run.failed_slos[0]
    verdicts = {v["metric"]: v["passed"] for v in real_run.results["slo"]}
    assert verdicts == {"integrity.lost": True, "throughput.stored_eps": False}


def test_report_has_every_section_and_decodable_plots(real_run: RunOutcome) -> None:
    page = (real_run.run_dir / "report.html").read_text()
    assert re.findall(r"<h2>([^<]+)</h2>", page) == RUN_SECTIONS
    assert "http://" not in page and "https://" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 7
    for encoded in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(encoded)), format="png")
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50
    results = json.loads((real_run.run_dir / "results.json").read_text())
    assert results["integrity"]["acked"] == 80 * 55  # rate_eps × duration_s
    assert results["integrity"]["lost"] == 0
    assert results["latency_ms"]["e2e"]["p50"] > 0
    assert results["recovery"][0]["target"] == "spark-mongo"


def test_junit_has_the_run_status_and_one_case_per_slo(real_run: RunOutcome) -> None:
    root = ElementTree.parse(real_run.run_dir / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases][0] == "run status"
    assert len(cases) == 1 + 2
    assert sum(1 for c in cases if c.find("failure") is not None) == 1


def test_report_rebuilds_identically_from_a_copy(real_run: RunOutcome, tmp_path: Path) -> None:
    copy = tmp_path / real_run.run_dir.name
    shutil.copytree(real_run.run_dir, copy)
    (copy / "results.json").unlink()
    done = subprocess.run([sys.executable, "-m", "benchmarks.cli", "report", str(copy)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # the impossible SLO still fails
    assert (copy / "results.json").read_bytes() == \
        (real_run.run_dir / "results.json").read_bytes()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_report_renders_in_chromium(real_run: RunOutcome, artifacts: Path,
                                    tmp_path: Path) -> None:
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1400,3000", f"--screenshot={shot}",
         (real_run.run_dir / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1400)
    assert pixels.std() > 0.05, "the screenshot is blank"
