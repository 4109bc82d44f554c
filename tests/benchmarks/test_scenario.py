"""Scenario files: the library validates, and bad files are explained all at once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from benchmarks.scenario.model import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_from_yaml,
)
from benchmarks.validate import validate_files
from reports.checker import CLASSES

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LIBRARY = sorted(SCENARIOS.glob("*.yaml"))

FIVE_MISTAKES = """\
name: five-mistakes
duration_s: 60
colour: blue
stack:
  partitions: 0
  workers: two
faults:
  - at_s: 10
    duration_s: 5
    link: spark-kafka
    toxic: latency
    attributes: {latency: 200, rate: 5}
  - at_s: 50
    duration_s: 20
    process: kafka
    action: pause
"""

JITTERED = """\
name: jittered
duration_s: 120
seed: {seed}
faults:
  - {{at_s: 20, jitter_s: 10, duration_s: 10, link: spark-kafka, toxic: latency,
      attributes: {{latency: 100}}}}
  - {{at_s: 60, jitter_s: 15, process: spark-driver, action: kill, restart_after_s: 5}}
  - {{at_s: 90, duration_s: 5, link: spark-mongo, toxic: down}}
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_yaml(text, "test.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_the_library_has_every_promised_scenario() -> None:
    names = {path.stem for path in LIBRARY}
    expected = {
        "quickstart", "baseline", "sweep-partitions", "sweep-workers", "rate-ramp",
        "mongo-partition", "kill-spark-driver", "kill-spark-worker", "kill-kafka", "kill-mongo",
        "load-and-chaos",
    }
    assert expected <= names
    toxics = {"latency", "bandwidth", "timeout", "reset_peer", "slow_close", "slicer",
              "limit_data"}
    covered = {
        fault.toxic for path in LIBRARY for fault in load_scenario(path).faults
        if hasattr(fault, "toxic")
    }
    assert toxics <= covered


def test_every_anomaly_class_has_a_scenario_that_breaks_it_on_purpose() -> None:
    # A check no scenario can make fire is a check nobody has seen fire. `reordered` is
    # proven on constructed histories only (tests/reports); see the README.
    expected = {
        metric.removeprefix("integrity.") for path in LIBRARY
        for metric, condition in load_scenario(path).expect.items()
        if metric.startswith("integrity.") and condition.replace(" ", "") == ">0"
    }
    assert set(CLASSES) - {"reordered"} <= expected


@pytest.mark.parametrize("path", LIBRARY, ids=[path.stem for path in LIBRARY])
def test_every_library_file_validates_and_is_explained(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.description
    assert path.read_text(encoding="utf-8").startswith("#"), "a comment says what it tests"
    for _point, point_scenario in scenario.expand_matrix():
        # Bounded: at most about half the capacity in benchmarks/results/pipeline.md (3,500).
        assert point_scenario.producer.peak_rate_eps() <= 2000


def test_quickstart_fits_in_two_minutes() -> None:
    quickstart = load_scenario(SCENARIOS / "quickstart.yaml")
    assert quickstart.planned_seconds() <= 120
    assert any(slo.metric == "integrity.lost" and slo.op == "==" for slo in quickstart.slo)


def test_five_mistakes_give_five_messages_with_key_paths() -> None:
    issues = issues_of(FIVE_MISTAKES)
    assert len(issues) == 5, issues
    by_path = {issue.split(" (line")[0]: issue for issue in issues}
    assert set(by_path) == {
        "colour", "stack.partitions", "stack.workers", "faults[0].attributes.rate", "faults[1]"
    }
    assert "unknown key 'colour'; allowed: name," in by_path["colour"]
    assert "must be ≥ 1, got 0" in by_path["stack.partitions"]
    assert "whole number, got 'two'" in by_path["stack.workers"]
    assert ("unknown attribute 'rate' for toxic 'latency'; allowed: latency, jitter"
            in by_path["faults[0].attributes.rate"])
    assert "after the run's duration_s 60" in by_path["faults[1]"]


def test_messages_name_the_line_of_the_mistake() -> None:
    issues = issues_of(FIVE_MISTAKES)
    assert any(issue.startswith("stack.partitions (line 5)") for issue in issues)
    assert any(issue.startswith("faults[0].attributes.rate (line 12)") for issue in issues)


def test_a_misspelt_attribute_is_one_message_with_a_suggestion() -> None:
    text = FIVE_MISTAKES.replace("{latency: 200, rate: 5}", "{latncy: 200}")
    issues = [issue for issue in issues_of(text) if issue.startswith("faults[0]")]
    assert issues == [
        "faults[0].attributes.latncy (line 12): unknown attribute 'latncy' for toxic 'latency'; "
        "allowed: latency, jitter; did you mean 'latency'?"
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    issues = issues_of("name: broken\nduration_s: 30\nstack: {partitions: 2\nfaults: []\n")
    assert len(issues) == 1
    assert "YAML syntax error at line" in issues[0]
    assert "line 3" in issues[0]


def test_a_key_given_twice_is_an_error() -> None:
    issues = issues_of("name: twice\nduration_s: 30\nduration_s: 40\n")
    assert issues == ["(top level) (line 3): YAML syntax error at line 3, column 1: "
                      "duplicate key 'duration_s'"]


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    def starts(seed: int) -> list[float]:
        scenario = scenario_from_yaml(JITTERED.format(seed=seed))
        return [item.start_s for item in scenario.fault_schedule()]

    assert starts(3) == starts(3)
    assert starts(3) != starts(4)
    for seed in range(20):
        first, second, third = starts(seed)
        assert 20 <= first <= 30 and 60 <= second <= 75 and third == 90


def test_schedule_heals_at_the_right_times() -> None:
    schedule = scenario_from_yaml(JITTERED.format(seed=1)).fault_schedule()
    latency, kill, down = schedule
    assert latency.heal_s == pytest.approx(latency.start_s + 10)
    assert kill.heal_s == pytest.approx(kill.start_s + 5)
    assert (down.start_s, down.end_s, down.label) == (90, 95, "down on spark-mongo")


def test_matrix_expands_to_the_cartesian_product_and_revalidates() -> None:
    scenario = load_scenario(SCENARIOS / "sweep-partitions.yaml")
    points = scenario.expand_matrix()
    assert [point for point, _ in points] == [
        {"stack.partitions": 1}, {"stack.partitions": 2}, {"stack.partitions": 4}
    ]
    assert [s.stack.partitions for _, s in points] == [1, 2, 4]
    assert all(s.matrix == {} and s.stack.worker_cores == 2 for _, s in points)

    two_by_three = scenario_from_yaml(
        "name: grid\nduration_s: 30\nmatrix:\n  stack.workers: [1, 2]\n"
        "  producer.rate_eps: [100, 200, 300]\n"
    )
    assert two_by_three.matrix_points() == 6
    assert len(two_by_three.expand_matrix()) == 6


def test_matrix_paths_and_values_are_checked() -> None:
    issues = issues_of(
        "name: grid\nduration_s: 30\nwarmup_s: 5\nmatrix:\n"
        "  stack.partitons: [1, 2]\n"
        "  stack.partitions: [2, 0]\n"
        "  warmup_s: [1, 40]\n"
    )
    assert len(issues) == 3, issues
    assert "no field 'partitons' in stack" in issues[0]
    assert issues[1].startswith("matrix.stack.partitions[1]")
    assert "must be ≥ 1, got 0" in issues[1]
    assert "warmup_s: must be less than duration_s" in issues[2]


def test_a_matrix_combination_can_be_invalid() -> None:
    issues = issues_of(
        "name: grid\nduration_s: 60\nwarmup_s: 5\nmatrix:\n"
        "  duration_s: [20, 60]\n  warmup_s: [5, 30]\n"
    )
    assert len(issues) == 1
    assert "point {duration_s: 20, warmup_s: 30} is invalid" in issues[0]


def test_cross_field_rules() -> None:
    issues = issues_of(
        "name: rules\nduration_s: 60\nwarmup_s: 60\n"
        "producer: {rate_eps: 100, profile: [{at_s: 0, rate_eps: 10}]}\n"
        "slo:\n"
        "  - {metric: api.p95_ms, op: '<=', threshold: 100}\n"
        "  - {metric: latency_ms.e2e.p98, op: '<=', threshold: 100}\n"
        "  - {metric: accuracy.zscore.f1, op: '>=', threshold: 0.5}\n"
        "faults:\n"
        "  - {at_s: -1, duration_s: 5, link: spark-kafka, toxic: slicer,\n"
        "     attributes: {average_size: 10, size_variation: 0}}\n"
    )
    text = "\n".join(issues)
    assert "warmup_s (line 3): must be less than duration_s (60)" in text
    assert "give rate_eps or profile, not both" in text
    assert "needs a 'load' section" in text
    assert "unknown figure 'latency_ms.e2e.p98'" in text
    assert "accuracy.zscore.f1 is never reported: stack.detector is 'threshold'" in text
    assert "faults[0].at_s (line 10): must be ≥ 0, got -1" in text
    assert "faults[0].attributes.size_variation (line 11): must be ≥ 1, got 0" in text


def test_process_faults_that_conflict_are_refused() -> None:
    issues = issues_of(
        "name: twice\nduration_s: 60\nfaults:\n"
        "  - {at_s: 10, process: kafka, action: kill, restart_after_s: 20}\n"
        "  - {at_s: 20, process: kafka, action: pause, duration_s: 5}\n"
    )
    assert len(issues) == 1
    assert "faults[1] (pause kafka) overlaps faults[0] (kill kafka)" in issues[0]


def test_model_validate_without_the_loader_still_checks_the_whole_scenario() -> None:
    with pytest.raises(ValueError, match="after the run's duration_s 10"):
        Scenario.model_validate({
            "name": "direct", "duration_s": 10,
            "faults": [{"at_s": 8, "duration_s": 5, "link": "spark-mongo", "toxic": "down"}],
        })


def test_validate_files_reports_ok_and_every_issue(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(FIVE_MISTAKES, encoding="utf-8")
    out = io.StringIO()
    assert validate_files([SCENARIOS / "sweep-partitions.yaml"], out=out) == 0
    assert out.getvalue().startswith(
        f"OK {SCENARIOS / 'sweep-partitions.yaml'}: sweep-partitions "
        "(3 matrix points × 2 repetitions, 0 faults)"
    )
    out = io.StringIO()
    assert validate_files([SCENARIOS / "quickstart.yaml", bad, tmp_path / "gone.yaml"],
                          out=out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("OK ")
    assert lines[1] == f"INVALID {bad}: 5 problems"
    assert sum(line.startswith("  ") for line in lines[2:7]) == 5
    assert any("gone.yaml" in line and "cannot read the file" in line for line in lines)


def test_every_field_of_every_model_is_documented() -> None:
    from pydantic import BaseModel

    from benchmarks.chaos import faults
    from benchmarks.scenario import kafka, sections, slo

    models = [
        value for module in (faults, sections, kafka, slo)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ] + [Scenario]
    undocumented = [
        f"{model.__name__}.{name}" for model in models
        for name, field in model.model_fields.items() if not field.description
    ]
    assert undocumented == []
    assert all(model.model_config.get("extra") == "forbid" for model in models)


def test_the_format_document_mentions_every_field() -> None:
    from pydantic import BaseModel

    from benchmarks.chaos import faults
    from benchmarks.scenario import kafka, sections, slo

    document = (Path(__file__).resolve().parents[2] / "README.md")
    text = document.read_text(encoding="utf-8")
    models = [
        value for module in (faults, sections, kafka, slo)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel)
    ] + [Scenario]
    missing = sorted({
        name for model in models for name in model.model_fields if f"`{name}`" not in text
    })
    assert missing == []


def test_expectations_name_known_figures_and_comparisons() -> None:
    base = {"name": "x", "duration_s": 30, "warmup_s": 5}
    scenario = Scenario.model_validate({**base, "expect": {"integrity.kafka_duplicates": "> 0"}})
    assert scenario.expect == {"integrity.kafka_duplicates": "> 0"}
    with pytest.raises(ValueError) as error:
        Scenario.model_validate({**base, "expect": {"integrity.duplicated": "> 0",
                                                    "integrity.lost": "more than 0"}})
    assert "integrity.duplicated: unknown figure" in str(error.value)
    assert "integrity.lost: expected '<op> <number>'" in str(error.value)


def test_a_check_the_idempotent_sink_makes_constant_is_refused() -> None:
    """An SLO or expectation that can never move measures nothing: refused, with the way out."""
    base = {"name": "x", "duration_s": 30,
            "slo": [{"metric": "integrity.storage_duplicates", "op": "==", "threshold": 0}],
            "expect": {"integrity.storage_duplicates": "> 0"}}
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(base)
    problems = [str(issue) for issue in refused.value.issues]
    assert len(problems) == 2 and all("can never fire" in p for p in problems), problems
    scenario = parse_scenario({**base, "stack": {"sink": {"mode": "append"}}})
    assert scenario.stack.sink.mode == "append"


def test_lose_checkpoint_is_only_for_the_spark_driver() -> None:
    issues = issues_of(
        "name: forget\nduration_s: 60\nfaults:\n"
        "  - {at_s: 10, process: kafka, action: kill, lose_checkpoint: true}\n"
        "  - {at_s: 30, process: spark-driver, action: pause, duration_s: 5,"
        " lose_checkpoint: true}\n"
        "  - {at_s: 50, process: spark-driver, action: kill, lose_checkpoint: true,"
        " restart_after_s: 2}\n"
    )
    assert len(issues) == 2, issues
    assert all("lose_checkpoint is for process: spark-driver" in issue for issue in issues)
