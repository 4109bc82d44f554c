"""Delivery knobs and detector names from the scenario to the processes' command lines
(no stack: the arguments are parsed by the producer's own CLI parser)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from benchmarks.provider import Target
from benchmarks.runner import Run
from benchmarks.scenario.model import ScenarioError, parse_scenario
from system.processor.detectors import DETECTORS
from system.producer.cli import add_arguments


def _scenario(producer: dict[str, Any], **stack: Any):
    return parse_scenario({"name": "knobs", "seed": 9, "duration_s": 30,
                           "stack": {"partitions": 2, **stack},
                           "producer": {"devices": 4, "rate_eps": 50, **producer}})


def _run(scenario: Any, tmp_path: Path) -> Run:
    target = Target("native", "127.0.0.1:9092", "127.0.0.1:9093", "127.0.0.1:19092",
                    "spark://127.0.0.1:7077", "mongodb://127.0.0.1:27018",
                    "mongodb://127.0.0.1:27017", None, None)
    return Run(scenario, tmp_path, target=target, run_id="20260101-000000-knobs",
               show_progress=False)


def _producer_cli(run: Run) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(run._producer_args())


def test_defaults_are_acks_all_with_idempotence_and_the_run_id(tmp_path: Path) -> None:
    args = _producer_cli(_run(_scenario({}), tmp_path))
    assert (args.acks, args.idempotence) == ("all", True)
    assert args.run_id == "20260101-000000-knobs" and args.seed == 9


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_acks_and_idempotence_reach_the_producer(acks: Any, tmp_path: Path) -> None:
    args = _producer_cli(_run(_scenario({"acks": acks, "idempotence": False}), tmp_path))
    assert (args.acks, args.idempotence) == (str(acks), False)


@pytest.mark.parametrize("acks", [0, 1])
def test_idempotence_needs_acks_all_and_the_message_names_both_keys(acks: int) -> None:
    with pytest.raises(ScenarioError) as info:
        _scenario({"acks": acks})
    text = str(info.value)
    assert "producer.idempotence: true requires producer.acks: all" in text
    assert f"got acks: {acks}" in text


def test_acks_must_be_0_1_or_all() -> None:
    with pytest.raises(ScenarioError, match="acks"):
        _scenario({"acks": 2, "idempotence": False})


@pytest.mark.parametrize("detector", [*DETECTORS, "all", "both"])
def test_every_detector_is_reported_and_one_sets_is_anomaly(detector: str,
                                                            tmp_path: Path) -> None:
    run = _run(_scenario({}, detector=detector), tmp_path)
    settings = run._settings()
    assert settings["detectors"] == list(DETECTORS)
    primary = detector if detector in DETECTORS else "threshold"
    assert settings["detector"] == primary
    args = run._processor_args()
    assert args[args.index("--detector") + 1] == primary
