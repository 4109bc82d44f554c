"""A scenario file: one experiment, described as data and validated before anything starts.

    from benchmarks.scenario.model import load_scenario, ScenarioError
    try:
        scenario = load_scenario(Path("scenarios/quickstart.yaml"))
    except ScenarioError as error:
        for issue in error.issues: print(issue)   # every problem, each with its key path

Every model forbids unknown keys. The file format is documented field by field in
the README (Scenario files). The sections live in ``sections`` (stack, producer,
load), ``kafka`` and ``slo``; the faults in :mod:`benchmarks.chaos.faults`; error wording
in ``errors``.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from benchmarks.chaos.faults import (
    DiskFullFault,
    Fault,
    LinkFault,
    ScheduledFault,
    Strict,
    context_value,
    overlap_problems,
    schedule_faults,
)
from benchmarks.scenario.errors import (
    Issue,
    LineFinder,
    PathPart,
    ScenarioError,
    format_path,
    is_model,
    issues_from_validation,
    parse_path,
    read_yaml,
    tagged_union,
    unwrap,
)
from benchmarks.scenario.sections import Load, Producer, Stack
from benchmarks.scenario.slo import KNOWN_METRICS, Slo, check_expectations

__all__ = [
    "KNOWN_METRICS", "Issue", "Scenario", "ScenarioError", "ScheduledFault",
    "load_scenario", "parse_scenario", "scenario_from_yaml",
]

MAX_MATRIX_POINTS = 1000
"""A larger sweep is almost certainly a typo (and would run for days)."""
KAFKA_PYTHON_EPS_PER_PROCESS = 3_000
"""Above this a kafka-python producer process measures itself: ~80 % of the one-process
ceiling recorded by ``python -m benchmarks.producer_ceiling --client both`` (3,940 events/s,
benchmarks/results/producer-clients.json, 2026-12-03)."""


class Scenario(Strict):
    """One experiment: the stack, the load on it, the faults, and what counts as passing."""

    name: str = Field(description="Short identifier; names the run folder.")
    description: str = Field("", description="What the scenario tests, for people and reports.")
    seed: int = Field(1, description="Seeds the producer's data and truth and the fault jitter.")
    duration_s: float = Field(gt=0, le=86_400, description="How long the producer produces.")
    warmup_s: float = Field(
        10.0, ge=0, description="Start of the measured window; must be < duration_s."
    )
    drain_timeout_s: float = Field(
        60.0, ge=0, description="After producing stops, wait at most this long for every "
        "acked event to be stored.",
    )
    stack: Stack = Field(default_factory=Stack, description="The system under test.")
    producer: Producer = Field(default_factory=Producer, description="The device simulator.")
    faults: list[Fault] = Field(default_factory=list, description="Faults to inject, in time.")
    load: Load | None = Field(None, description="Locust load on the dashboard API.")
    slo: list[Slo] = Field(default_factory=list, description="Thresholds on reported figures.")
    expect: dict[str, str] = Field(
        default_factory=dict, description="Outcomes the scenario is built to provoke: figure → "
        "comparison, e.g. {integrity.storage_duplicates: '> 0'}; an unmet one fails the run.",
    )
    matrix: dict[str, list[Any]] = Field(
        default_factory=dict, description="Sweep: dotted field path → values; the cartesian "
        "product of all entries is run.",
    )
    repetitions: int = Field(1, ge=1, le=100, description="Runs per matrix point.")

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
            raise ValueError(f"use up to 64 letters, digits, '.', '_' or '-' (it names the run "
                             f"folder), got {value!r}")
        return value

    @field_validator("warmup_s")
    @classmethod
    def _warmup_inside_run(cls, value: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration_s")
        if duration is not None and value >= duration:
            raise ValueError(f"must be less than duration_s ({duration:g}), got {value:g}")
        return value

    @field_validator("expect")
    @classmethod
    def _expectations_are_figures(cls, value: dict[str, str],
                                  info: ValidationInfo) -> dict[str, str]:
        return check_expectations(value, context_value(info, "sink_mode"))

    @field_validator("faults")
    @classmethod
    def _no_conflicting_faults(cls, value: list[Any]) -> list[Any]:
        problems = overlap_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("matrix")
    @classmethod
    def _matrix_shape(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [path for path, values in value.items() if not values]
        if empty:
            raise ValueError(f"every matrix entry needs at least one value: {', '.join(empty)}")
        points = 1
        for values in value.values():
            points *= len(values)
        if points > MAX_MATRIX_POINTS:
            raise ValueError(f"{points} matrix points; at most {MAX_MATRIX_POINTS}")
        return value

    @model_validator(mode="after")
    def _whole_scenario_checks(self, info: ValidationInfo) -> Scenario:
        # parse_scenario passes a context so cross-field checks run next to the field checks;
        # a bare model_validate() has none, so run the same checks here.
        if not context_value(info, "iotbench"):
            _, issues = collect_issues(self.model_dump(exclude_unset=True))
            if issues:
                raise ValueError("; ".join(str(issue) for issue in issues))
        return self

    # --- derived views ----------------------------------------------------------------

    def matrix_points(self) -> int:
        points = 1
        for values in self.matrix.values():
            points *= len(values)
        return points

    def small_disks(self) -> tuple[tuple[str, ...], int]:
        """The brokers whose log dir the stack must put on a small disk (``disk_full``
        faults), and that disk's size in MB (the largest asked for)."""
        asked = [f.disk_full for f in self.faults if isinstance(f, DiskFullFault)]
        return (tuple(sorted({a.service for a in asked})),
                max((a.size_mb for a in asked), default=256))

    def fault_schedule(self) -> list[ScheduledFault]:
        """The faults with their actual start/heal times; the same seed gives the same list."""
        return schedule_faults(list(self.faults), self.seed, self.duration_s)

    def matrix_data(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(point, raw data of that point) for every matrix point, in file order."""
        base = self.model_dump(exclude_unset=True, exclude={"matrix"})
        paths = list(self.matrix)
        for values in itertools.product(*(self.matrix[path] for path in paths)):
            point = dict(zip(paths, values, strict=True))
            data = base
            for path, value in point.items():
                data = with_value(data, parse_path(path), value)
            yield point, data

    def expand_matrix(self) -> list[tuple[dict[str, Any], Scenario]]:
        """Every matrix point (cartesian product, in file order) as a re-validated scenario
        without a matrix; ``[({}, self)]`` when there is no matrix. A point that fails raises
        :class:`ScenarioError`."""
        if not self.matrix:
            return [({}, self)]
        return [
            (point, parse_scenario(data, source=f"{self.name} at {_point_text(point)}"))
            for point, data in self.matrix_data()
        ]

    def planned_seconds(self) -> float:
        """Upper bound of producing + draining over all points and repetitions (no setup)."""
        return (self.duration_s + self.drain_timeout_s) * self.matrix_points() * self.repetitions

    def notes(self) -> list[str]:
        """Advice that does not make the file invalid."""
        notes: list[str] = []
        producer = self.producer
        per_process = producer.peak_rate_eps() / producer.processes
        if producer.client == "kafka-python" and per_process > KAFKA_PYTHON_EPS_PER_PROCESS:
            notes.append(f"producer: {per_process:g} events/s per kafka-python process is near "
                         f"its ceiling; raise processes or use client: confluent-kafka")
        for index, fault in enumerate(self.faults):
            if fault.at_s < self.warmup_s:
                notes.append(f"faults[{index}] starts inside the warm-up ({fault.at_s:g} s < "
                             f"warmup_s {self.warmup_s:g}): no baseline to measure recovery")
        if self.stack.provider == "external" and any(
            isinstance(fault, LinkFault) for fault in self.faults
        ):
            notes.append("link faults on an external stack need a Toxiproxy in front of it "
                         "(stack.external.toxiproxy_url or $IOTBENCH_TOXIPROXY_URL)")
        return notes


# --- parsing ---------------------------------------------------------------------------


def _validation_context(data: dict[str, Any]) -> dict[str, Any]:
    """Whole-scenario values the nested checks need, read leniently from the raw data."""
    duration: float | None = None
    raw = data.get("duration_s")
    if not isinstance(raw, bool):
        try:
            duration = float(raw) if raw is not None else None
        except (TypeError, ValueError):
            duration = None
    stack = data.get("stack") if isinstance(data.get("stack"), dict) else {}
    kafka = stack.get("kafka") if isinstance(stack.get("kafka"), dict) else {}
    brokers, partitions = kafka.get("brokers", 1), stack.get("partitions", 2)
    return {
        "brokers": brokers if isinstance(brokers, int) and not isinstance(brokers, bool)
        else None,
        "partitions": partitions if isinstance(partitions, int) else None,
        "iotbench": True,
        "duration_s": duration if duration and duration > 0 else None,
        "provider": stack.get("provider", "native"),
        "detector": stack.get("detector", "threshold"),
        "has_load": data.get("load") is not None,
        "fault_count": len(data["faults"]) if isinstance(data.get("faults"), list) else 0,
        "sink_mode": (stack.get("sink") or {}).get("mode", "idempotent")
        if isinstance(stack.get("sink"), dict) or stack.get("sink") is None else None,
    }


def _validate(
    data: dict[str, Any], line_of: LineFinder | None
) -> tuple[Scenario | None, list[Issue]]:
    try:
        return Scenario.model_validate(data, context=_validation_context(data)), []
    except ValidationError as error:
        return None, issues_from_validation(error, Scenario, line_of, data)


def collect_issues(
    data: Any, line_of: LineFinder | None = None
) -> tuple[Scenario | None, list[Issue]]:
    """Validate raw data (as loaded from YAML); return the scenario or every problem."""
    if data is None:
        return None, [Issue("", "the file is empty; a scenario needs at least name and "
                                "duration_s")]
    if not isinstance(data, dict):
        return None, [Issue("", f"the top level must be a mapping (name: …, duration_s: …), "
                                f"got {type(data).__name__}")]
    scenario, issues = _validate(data, line_of)
    matrix = data.get("matrix")
    if isinstance(matrix, dict):
        issues += _matrix_issues(data, matrix, issues, line_of)
        if scenario is not None and not issues:
            issues += _matrix_point_issues(scenario)
    issues.sort(key=lambda issue: issue.line if issue.line is not None else float("inf"))
    return (scenario if not issues else None), issues


def parse_scenario(
    data: Any, source: str | None = None, line_of: LineFinder | None = None
) -> Scenario:
    """Raw data → :class:`Scenario`, or :class:`ScenarioError` listing every problem."""
    scenario, issues = collect_issues(data, line_of)
    if scenario is None:
        raise ScenarioError(issues, source)
    return scenario


def scenario_from_yaml(text: str, source: str = "<scenario>") -> Scenario:
    data, line_of = read_yaml(text, source)
    return parse_scenario(data, source, line_of)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; :class:`ScenarioError` lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError([Issue("", f"cannot read the file: {error}")], str(path)) from None
    return scenario_from_yaml(text, str(path))


# --- the matrix ------------------------------------------------------------------------


def with_value(data: dict[str, Any], parts: list[PathPart], value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``value`` at ``parts``, creating missing sections."""
    result = copy.deepcopy(data)
    node: Any = result
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(part, int):
            if last:
                node[part] = value
            node = node[part]
        elif last:
            node[part] = value
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
    return result


def matrix_path_problem(path: str, data: dict[str, Any]) -> str | None:
    """Why ``path`` does not name a field of this scenario, or ``None`` if it does."""
    try:
        parts = parse_path(path)
    except ValueError:
        return "write a dotted path such as stack.partitions or faults[0].duration_s"
    if parts[0] in ("matrix", "repetitions"):
        return f"cannot sweep over {parts[0]}"
    tp: Any = Scenario
    node: Any = data
    for position, part in enumerate(parts):
        where = format_path(parts[:position]) or "the top level"
        tp = unwrap(tp)
        tagged = tagged_union(tp)
        if tagged is not None:
            discriminator, members = tagged
            tag = discriminator.discriminator(node)  # type: ignore[operator]
            if tag not in members:
                return f"{where} is not a valid entry, so its fields are unknown"
            tp = members[tag]
        if is_model(tp):
            if part not in tp.model_fields:
                return f"no field {part!r} in {where}; it has: {', '.join(tp.model_fields)}"
            tp = tp.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
        elif get_origin(tp) is list:
            items = node if isinstance(node, list) else []
            if not isinstance(part, int):
                return f"{where} is a list; name an entry as {where}[0]"
            if part >= len(items):
                return f"{where} has {len(items)} entries; no index {part}"
            tp, node = get_args(tp)[0], items[part]
        elif get_origin(tp) is dict:
            tp, node = get_args(tp)[1], node.get(part) if isinstance(node, dict) else None
        else:
            return f"{where} is a value, not a section; nothing named {part!r} inside it"
    return None


def _matrix_issues(
    data: dict[str, Any], matrix: dict[Any, Any], base: list[Issue],
    line_of: LineFinder | None,
) -> list[Issue]:
    """Paths that name nothing, and values that fail where they would be put."""
    issues: list[Issue] = []
    known = {(issue.path, issue.message) for issue in base}
    plain = {key: value for key, value in data.items() if key != "matrix"}
    for path, values in matrix.items():
        line = line_of(["matrix", str(path)]) if line_of else None
        problem = matrix_path_problem(str(path), plain)
        if problem:
            issues.append(Issue(f"matrix.{path}", problem, line))
            continue
        for index, value in enumerate(values if isinstance(values, list) else []):
            _, found = _validate(with_value(plain, parse_path(str(path)), value), None)
            new = [issue for issue in found if (issue.path, issue.message) not in known]
            if new:
                detail = "; ".join(f"{issue.path}: {issue.message}" for issue in new)
                issues.append(Issue(f"matrix.{path}[{index}]",
                                    f"value {value!r} is not valid here: {detail}", line))
    return issues


def _point_text(point: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{path}: {value!r}" for path, value in point.items()) + "}"


def _matrix_point_issues(scenario: Scenario, limit: int = 3) -> list[Issue]:
    """Combinations that fail although each value alone is fine (e.g. warm-up vs duration)."""
    issues: list[Issue] = []
    for point, data in scenario.matrix_data():
        _, found = _validate(data, None)
        if found:
            detail = "; ".join(f"{issue.path}: {issue.message}" for issue in found)
            issues.append(Issue("matrix", f"point {_point_text(point)} is invalid: {detail}"))
            if len(issues) == limit:
                break
    return issues
