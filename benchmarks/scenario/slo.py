"""Service-level objectives and the one list of figure names they may use.

``KNOWN_METRICS`` is the contract between scenarios and reports: an SLO may only name a
figure that matches one of its templates, and reports publish figures under these names.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from benchmarks.scenario.base import Strict, context_value
from system.processor.detectors import DETECTORS

# --- reported figures (the names SLOs may use) -----------------------------------------

_STATS = "{count|mean|min|p50|p95|p99|p999|max}"
_SCORES = "{precision|recall|f1|accuracy|events}"
_DETECTORS = "{" + "|".join(DETECTORS) + "}"
_API = "{requests|failures|failure_ratio|rps|failures_per_s|mean_ms|max_ms|p50_ms|p95_ms|p99_ms}"

KNOWN_METRICS: dict[str, str] = {
    f"latency_ms.{{e2e|visible}}.{_STATS}":
        "event-time latency in ms over the measurement window, censored: e2e = stored − "
        "scheduled over every acked event (never stored = +inf, so a quantile in the censored "
        "tail is not reported); visible = seen by the dashboard probe − scheduled, over the "
        "probe's uniform sample",
    "latency_ms.e2e.{stored|censored|censored_ratio}": "how many acked events of the window "
        "were stored, and how many were censored (never stored)",
    "latency_ms.visible.{sampled|visible|censored|censored_ratio}":
        "the visibility probe's sample size, how many it saw, how many never appeared",
    f"latency_ms.{{e2e_stored|all_events}}.{_STATS}":
        "e2e over stored events only (the window; all_events = the whole run), uncensored",
    "latency_ms.hops.{publish_delay|send_to_append|append_to_ack|append_to_processing"
    f"|processing_to_stored|stored_to_visible}}.{{{_STATS[1:-1]}|negative}}":
        "one hop of the latency in ms, in causal order (publish_delay = send − scheduled); "
        "negative = samples below 0 (a clock problem), left out of the percentiles",
    "throughput.{target_eps|scheduled_eps|sent_eps|acked_eps|stored_eps|achieved_ratio"
    "|window_s|sustainable|lag_trend_ok|lag_slope_limit_eps}":
        "events per second in the measurement window; achieved_ratio = achieved / target; "
        "sustainable and lag_trend_ok are true/false (compare with == 1)",
    "sustainability.sustainable": "the one sustainability rule (lag trend, achieved rate, "
        "censored p99, zero loss in every class, every SLO met); true/false",
    "sustainability.rate_eps": "the rate the sustainability rule judged",
    "lag.{samples|max|mean|final|slope_eps|slope_low|slope_high|slope_stderr|slope_n"
    "|unknown_seconds}": "consumer lag in records, all partitions; slope of a least-squares "
        "fit after warm-up in records/s with its 95 % interval; unknown_seconds = seconds of "
        "the window without a lag sample",
    "lag.partitions.p<n>.{max|final}": "consumer lag of partition n",
    "integrity.{scheduled|sent|acked|unacked|send_errors|stored_rows|stored_unique"
    "|stored_unacked|dead_lettered|lost|duplicate_rows|dead_letters|delivered_ratio"
    "|lost_in_kafka|kafka_duplicates|lost_in_pipeline|replayed_writes|replayed_events"
    "|storage_duplicates|reordered|reordered_in_kafka|reordered_in_storage|unexpected"
    "|undrained|acked_without_offset}":
        "the history checker against the producer's ledger and the topic: lost = lost_in_kafka "
        "+ lost_in_pipeline; storage_duplicates = event ids stored more than once; "
        "undrained = still in Kafka when the drain timed out; unexpected = stored, never sent",
    "integrity.dead_letters_by_reason.<name>": "dead letters with one rejection reason",
    "recovery.<n>.{duration_s|baseline_lag|baseline_p99_ms|peak_lag|peak_p99_ms|recovered_at"
    "|recovery_s|unknown_seconds}":
        "fault n (in order of application): recovery_s = seconds from the heal's start until "
        "lag and p99 "
        "are back near the pre-fault baseline; not reported (so an SLO on it fails) if they "
        "never got back",
    f"accuracy.{_DETECTORS}.{_SCORES}": "anomaly detection against the producer's truth",
    f"accuracy.{_DETECTORS}.{{not_stored|garbage_total|garbage_rejected"
    "|garbage_dead_lettered}": "readings the detector never saw, and garbage handling",
    f"accuracy.{_DETECTORS}.confusion.{{tp|fp|fn|tn}}": "confusion matrix counts",
    f"accuracy.{_DETECTORS}.per_kind.{{spike|drift|stuck|garbage}}.{_SCORES}":
        "the same scores per anomaly kind",
    f"accuracy.{_DETECTORS}.fault_windows.{{inside|outside}}.{_SCORES}":
        "the same scores inside / outside fault windows",
    f"accuracy.{_DETECTORS}.detection_delay.{{episodes|detected|mean_s|p50_s|max_s"
    "|mean_readings|detection_latency_mean_s}": "how soon anomalous episodes are flagged",
    f"accuracy.{_DETECTORS}.nab.{{score|raw|windows|detected_windows|false_positives}}":
        "windowed score rewarding early detection (NAB-style; 100 = perfect, 0 = do nothing)",
    f"api.{_API}": "dashboard API under Locust, all endpoints (shortcut for api.total.*; "
        "needs a load section)",
    f"api.total.{_API}": "dashboard API, all endpoints (needs a load section)",
    f"api.endpoints.<name>.{_API}": "one endpoint, named '<METHOD> <name>' as Locust names it, "
        "e.g. 'GET /api/stats' (needs a load section)",
    "spark.{batches|input_rows}": "Spark micro-batches and rows read",
    "spark.trigger_ms.{mean|p50|p99|max}": "Spark micro-batch durations",
    "resources.<name>.{cpu_mean_percent|cpu_max_percent|rss_max_bytes}":
        "host resources per service (kafka, spark-driver, spark-worker-0, mongo, …)",
}
"""Every figure a report publishes in ``results.json``, as templates: ``{a|b}`` = one of a, b;
``<n>`` = a whole number; ``<name>`` = any text without a dot. SLO metrics must match one of
them; reports publish figures under exactly these dotted paths."""


def _template_regex(template: str) -> str:
    pieces = re.split(r"(\{[^}]*\}|<n>|<name>)", template)
    regex = ""
    for piece in pieces:
        if piece == "<n>":
            regex += r"\d+"
        elif piece == "<name>":
            regex += r"[^.]+"
        elif piece.startswith("{"):
            regex += "(?:" + "|".join(map(re.escape, piece[1:-1].split("|"))) + ")"
        else:
            regex += re.escape(piece)
    return regex


_METRIC_RE = re.compile("|".join(f"(?:{_template_regex(t)})" for t in KNOWN_METRICS))


def is_known_metric(name: str) -> bool:
    return _METRIC_RE.fullmatch(name) is not None


EXPECT_COMPARISON = re.compile(r"\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*")
"""The form of an expectation: "<op> <number>" (same as reports.expectations.COMPARISON)."""


CONSTANT_UNDER_IDEMPOTENT_SINK = ("integrity.storage_duplicates",)
"""Figures the idempotent sink makes constant (``_id = event_id``: no second document)."""


def cannot_fire(metric: str, sink_mode: str | None) -> str | None:
    """Why a check on ``metric`` could never move with this sink, or None."""
    if sink_mode == "idempotent" and metric in CONSTANT_UNDER_IDEMPOTENT_SINK:
        return (f"{metric} can never fire with stack.sink.mode idempotent (_id = event_id "
                "makes a second document impossible): check integrity.kafka_duplicates, "
                "integrity.reordered or integrity.replayed_writes, or use sink.mode append")
    return None


def check_expectations(value: dict[str, str], sink_mode: str | None = None) -> dict[str, str]:
    """``expect``: every key a known figure, every value a comparison; errors name the key."""
    problems = []
    for metric, comparison in value.items():
        constant = cannot_fire(metric, sink_mode)
        if not is_known_metric(metric):
            problems.append(f"{metric}: unknown figure (see KNOWN_METRICS / 'slo')")
        elif constant:
            problems.append(constant)
        elif not EXPECT_COMPARISON.fullmatch(str(comparison)):
            problems.append(f"{metric}: expected '<op> <number>' with op one of <=, <, >=, >, "
                            f"==, got {comparison!r}")
    if problems:
        raise ValueError("; ".join(problems))
    return value


# --- service-level objectives ----------------------------------------------------------

Comparison = Literal["<=", "<", ">=", ">", "=="]


class Slo(Strict):
    """A threshold on one reported figure; a failing SLO makes the run exit non-zero."""

    metric: str = Field(description="Dotted figure name, e.g. latency_ms.e2e.p99 "
                        "(see KNOWN_METRICS).")
    op: Comparison = Field(description="How the figure compares with the threshold.")
    threshold: float = Field(description="The bound.")
    name: str | None = Field(None, description="Test-case name; default '<metric> <op> <n>'.")

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if not is_known_metric(value):
            families = ", ".join(sorted({t.split(".")[0] for t in KNOWN_METRICS}))
            raise ValueError(f"unknown figure {value!r}; figures start with {families} "
                             f"(full list: README.md, Scenario files, 'slo')")
        return value

    @model_validator(mode="after")
    def _figure_is_reported(self, info: ValidationInfo) -> Slo:
        detector = context_value(info, "detector")
        family, _, rest = self.metric.partition(".")
        if family == "accuracy" and detector in DETECTORS:
            used = rest.split(".")[0]
            if used != detector:
                raise ValueError(f"{self.metric} is never reported: stack.detector is "
                                 f"{detector!r}")
        faults = context_value(info, "fault_count")
        if family == "recovery" and isinstance(faults, int):
            index = int(rest.split(".")[0])
            if index >= faults:
                raise ValueError(f"{self.metric} is never reported: the scenario has "
                                 f"{faults} fault{'s' if faults != 1 else ''}")
        if family == "api" and context_value(info, "has_load") is False:
            raise ValueError(f"{self.metric} needs a 'load' section (api figures come from Locust)")
        constant = cannot_fire(self.metric, context_value(info, "sink_mode"))
        if constant:
            raise ValueError(constant)
        return self

    def label(self) -> str:
        return self.name or f"{self.metric} {self.op} {self.threshold:g}"

    def passed(self, value: float) -> bool:
        return {
            "<=": value <= self.threshold,
            "<": value < self.threshold,
            ">=": value >= self.threshold,
            ">": value > self.threshold,
            "==": value == self.threshold,
        }[self.op]
