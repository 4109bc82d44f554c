"""The sections of a scenario besides faults and SLOs: ``stack``, ``producer`` and ``load``.

Checks that need a whole-scenario value (the run's ``duration_s``, the detector, whether
there is a ``load`` section) read it from the validation context that
:func:`benchmarks.scenario.parse_scenario` passes down, so they run — and are reported —
even when other parts of the file are wrong.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from benchmarks.scenario.base import Strict, context_value
from benchmarks.scenario.kafka import KafkaSettings
from system.processor.detectors import DETECTORS
from system.producer.clients import DEFAULT_CLIENT

# --- stack -----------------------------------------------------------------------------

EXTERNAL_ENV = {
    "bootstrap_servers": "IOTBENCH_BOOTSTRAP_SERVERS",
    "producer_bootstrap": "IOTBENCH_PRODUCER_BOOTSTRAP",
    "spark_bootstrap": "IOTBENCH_SPARK_BOOTSTRAP",
    "admin_bootstrap": "IOTBENCH_ADMIN_BOOTSTRAP",
    "spark_master": "IOTBENCH_SPARK_MASTER",
    "mongo_uri": "IOTBENCH_MONGO_URI",
    "sink_mongo_uri": "IOTBENCH_SINK_MONGO_URI",
    "dashboard_url": "IOTBENCH_DASHBOARD_URL",
    "driver_host": "IOTBENCH_DRIVER_HOST",
    "toxiproxy_url": "IOTBENCH_TOXIPROXY_URL",
}
"""Environment variables that fill in ``stack.external`` fields the file leaves out."""


class ExternalEndpoints(Strict):
    """Addresses of a cluster the harness does not start (provider: external)."""

    bootstrap_servers: str | None = Field(
        None, description="Kafka bootstrap servers, host:port[,host:port…], for every client "
        "the three settings below leave out; default $IOTBENCH_BOOTSTRAP_SERVERS.",
    )
    producer_bootstrap: str | None = Field(
        None, description="Where the producer bootstraps (e.g. through a proxy); default "
        "$IOTBENCH_PRODUCER_BOOTSTRAP, else bootstrap_servers.",
    )
    spark_bootstrap: str | None = Field(
        None, description="Where the Spark query reads Kafka; default $IOTBENCH_SPARK_BOOTSTRAP, "
        "else bootstrap_servers.",
    )
    admin_bootstrap: str | None = Field(
        None, description="Topic admin, lag and cluster sampling (should bypass any proxy, so "
        "faults do not blind the harness); default $IOTBENCH_ADMIN_BOOTSTRAP, else "
        "bootstrap_servers.",
    )
    spark_master: str | None = Field(
        None, description="Spark master URL (spark://host:7077); default $IOTBENCH_SPARK_MASTER."
    )
    driver_host: str | None = Field(
        None, description="The address the Spark driver (run here by the harness) advertises to "
        "the cluster's executors; default $IOTBENCH_DRIVER_HOST, else 127.0.0.1. Any other "
        "address makes the driver listen on every interface.",
    )
    mongo_uri: str | None = Field(
        None, description="mongodb:// URI of the store, for the export and the checks; default "
        "$IOTBENCH_MONGO_URI.",
    )
    sink_mongo_uri: str | None = Field(
        None, description="The URI the Spark sink writes through (e.g. a proxy); default "
        "$IOTBENCH_SINK_MONGO_URI, else mongo_uri.",
    )
    dashboard_url: str | None = Field(
        None, description="The dashboard's base URL (visibility probe, Locust); default "
        "$IOTBENCH_DASHBOARD_URL; none = no probe.",
    )
    toxiproxy_url: str | None = Field(
        None, description="Toxiproxy API URL (needed for link faults); "
        "default $IOTBENCH_TOXIPROXY_URL.",
    )

    @field_validator("bootstrap_servers", "producer_bootstrap", "spark_bootstrap",
                     "admin_bootstrap")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.\-]+:\d+(,[\w.\-]+:\d+)*", value):
            raise ValueError(f"must be host:port[,host:port…], got {value!r}")
        return value

    @field_validator("spark_master")
    @classmethod
    def _spark_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("spark://", "k8s://", "yarn", "local")):
            raise ValueError(f"must be a Spark master URL such as spark://host:7077, got {value!r}")
        return value

    @field_validator("mongo_uri", "sink_mongo_uri")
    @classmethod
    def _mongo_uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(f"must start with mongodb:// or mongodb+srv://, got {value!r}")
        return value

    @field_validator("toxiproxy_url", "dashboard_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// URL, got {value!r}")
        return value

    def resolved(self, env: dict[str, str] | None = None) -> ExternalEndpoints:
        """Fields left out of the file, taken from the environment."""
        env = dict(os.environ) if env is None else env
        values = {key: getattr(self, key) or env.get(var) for key, var in EXTERNAL_ENV.items()}
        return ExternalEndpoints(**values)


class Sink(Strict):
    """How the processor writes to MongoDB."""

    mode: Literal["idempotent", "append"] = Field(
        "idempotent", description="idempotent: _id = event_id, a replayed micro-batch changes "
        "nothing; append: the seed's plain inserts, so a replay stores events twice (the "
        "history checker reports storage_duplicates).",
    )


class Trigger(Strict):
    """When the Spark query processes what arrived: micro-batches every ``interval_ms``, or
    Spark's real-time mode with batches of ``batch_s`` (a foreach writer; every partition's
    task runs for the whole batch)."""

    mode: Literal["microbatch", "realtime"] = Field(
        "microbatch", description="microbatch (foreachBatch, one write per partition per "
        "micro-batch) or realtime (Spark's real-time mode through a foreach writer; see "
        "system/processor/realtime.py for why a reading still waits up to batch_s).")
    interval_ms: int | None = Field(
        None, ge=0, description="microbatch only: the trigger interval (as stack.trigger_ms).")
    batch_s: float | None = Field(
        None, gt=0, le=600, description="realtime only: the real-time batch duration "
        "(default 5); offsets are committed at its end.")

    @model_validator(mode="after")
    def _own_keys(self) -> Trigger:
        if self.mode == "microbatch" and self.batch_s is not None:
            raise ValueError("batch_s is for mode: realtime; a micro-batch trigger takes "
                             "interval_ms")
        if self.mode == "realtime" and self.interval_ms is not None:
            raise ValueError("interval_ms is for mode: microbatch; a real-time trigger takes "
                             "batch_s")
        return self


def memory_mb(text: str) -> int:
    number, unit = int(text[:-1]), text[-1].lower()
    return number * {"k": 1, "m": 1024, "g": 1024**2, "t": 1024**3}[unit] // 1024


class Stack(Strict):
    """The system under test: where it runs and how it is sized."""

    provider: Literal["native", "docker", "external"] = Field(
        "native", description="native = real processes here; docker = real images; "
        "external = a running cluster (nothing is started).",
    )
    partitions: int = Field(2, ge=1, le=256, description="Partitions of the run's Kafka topic.")
    workers: int = Field(1, ge=1, le=64, description="Spark standalone workers.")
    worker_cores: int = Field(1, ge=1, le=64, description="Cores per Spark worker.")
    worker_memory: str = Field("1g", description="Memory per Spark worker (512m, 1g, …).")
    mongo: Literal["auto", "ferretdb-sqlite", "ferretdb-postgres", "mongod"] = Field(
        "auto", description="The MongoDB-wire server (native stack): ferretdb-sqlite = "
        "FerretDB v1 on SQLite files; ferretdb-postgres = FerretDB v1 on a private PostgreSQL "
        "cluster the stack starts (needs `apt-get install postgresql`); mongod = a real mongod "
        "from PATH; auto = mongod when one is on PATH, else ferretdb-postgres when PostgreSQL "
        "is installed and its user can reach the state folder, else ferretdb-sqlite. docker "
        "always runs a real mongod; external uses external.mongo_uri.",
    )
    trigger_ms: int = Field(
        1000, ge=0, description="Micro-batch trigger interval in ms; 0 = as fast as possible."
    )
    trigger: Trigger | None = Field(
        None, description="mode (microbatch | realtime) with interval_ms or batch_s; the "
        "long form of trigger_ms, which it replaces (give one of them).")
    starting_offsets: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a query restarted without its checkpoint (a fault "
        "with lose_checkpoint) starts reading the topic (Spark startingOffsets); latest skips "
        "whatever arrived while no query ran. The first query always reads the run's new "
        "topic from its start.",
    )
    max_offsets_per_trigger: int | None = Field(
        None, ge=1, description="Cap on records per micro-batch (Spark maxOffsetsPerTrigger)."
    )
    shuffle_partitions: int | None = Field(
        None, ge=1, description="spark.sql.shuffle.partitions; default = partitions "
        "(Spark's own default of 200 is far too many for a small stack).",
    )
    detector: Literal[(*DETECTORS, "all", "both")] = Field(  # type: ignore[valid-type]
        "threshold", description=f"Detector whose verdict sets is_anomaly (every detector "
        f"runs: {', '.join(DETECTORS)}); all (or both, its old name) = every one reported, "
        f"threshold sets is_anomaly."
    )
    threshold: float = Field(
        35.0, description="Temperature (°C) above which the threshold detector flags a reading."
    )
    sink: Sink = Field(default_factory=Sink, description="The processor's Mongo writes.")
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings, description="Brokers and replication of the run's topic."
    )
    external: ExternalEndpoints | None = Field(
        None, description="Addresses of an external cluster (provider: external only)."
    )

    @property
    def primary_detector(self) -> str:
        """The detector whose verdict is ``is_anomaly``."""
        return self.detector if self.detector in DETECTORS else DETECTORS[0]

    @field_validator("worker_memory")
    @classmethod
    def _spark_memory(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[kKmMgGtT]", value):
            raise ValueError(f"must be a Spark memory size such as 512m or 1g, got {value!r}")
        if memory_mb(value) < 512:
            raise ValueError(f"must be at least 512m (Spark refuses executors under ~450 MB), "
                             f"got {value!r}")
        return value

    @model_validator(mode="after")
    def _external_only_for_external(self) -> Stack:
        if self.external is not None and self.provider != "external":
            raise ValueError(f"'external' addresses are only used with provider: external "
                             f"(provider is {self.provider!r})")
        return self

    @model_validator(mode="after")
    def _mongo_only_for_native(self) -> Stack:
        allowed = {"native": None, "docker": ("auto", "mongod"), "external": ("auto",)}
        only = allowed[self.provider]
        if only is not None and self.mongo not in only:
            where = ("its image runs a real mongod" if self.provider == "docker"
                     else "set external.mongo_uri to the server to use")
            raise ValueError(f"mongo: {self.mongo} needs provider: native (provider "
                             f"{self.provider!r}: {where})")
        return self

    @model_validator(mode="after")
    def _brokers_only_for_native(self) -> Stack:
        if self.kafka.brokers != 1 and self.provider != "native":
            raise ValueError(f"kafka.brokers: {self.kafka.brokers} needs provider: native "
                             f"(provider {self.provider!r} runs or names its own Kafka)")
        return self

    @model_validator(mode="after")
    def _one_trigger(self) -> Stack:
        t = self.trigger
        if t is None:
            return self
        if "trigger_ms" in self.model_fields_set:
            raise ValueError("give stack.trigger or stack.trigger_ms, not both")
        if t.mode == "microbatch" and t.interval_ms is not None:
            self.trigger_ms = t.interval_ms
        if t.mode == "realtime":
            slots = self.workers * self.worker_cores
            if slots < self.partitions:
                raise ValueError(
                    f"trigger mode realtime runs every partition's task at once for the whole "
                    f"batch: {self.partitions} partitions need workers × worker_cores ≥ "
                    f"{self.partitions} (have {slots})")
            if self.max_offsets_per_trigger is not None:
                raise ValueError("max_offsets_per_trigger caps micro-batches; real-time mode "
                                 "reads what arrives")
        return self

    @property
    def realtime_batch_s(self) -> float | None:
        """The real-time batch duration, or None for micro-batches."""
        t = self.trigger
        if t is None or t.mode != "realtime":
            return None
        return t.batch_s or 5.0

    @property
    def effective_shuffle_partitions(self) -> int:
        return self.shuffle_partitions or self.partitions


# --- producer --------------------------------------------------------------------------


class RateStep(Strict):
    """From ``at_s`` on, produce at a constant ``rate_eps``."""

    at_s: float = Field(ge=0, description="Seconds after producing starts.")
    rate_eps: float = Field(ge=0, le=1_000_000, description="Events per second (0 = pause).")


class RateRamp(Strict):
    """From ``at_s``, go linearly from ``from_eps`` to ``to_eps`` over ``over_s``, then hold."""

    at_s: float = Field(ge=0, description="Seconds after producing starts.")
    from_eps: float = Field(ge=0, le=1_000_000, description="Rate at the start of the ramp.")
    to_eps: float = Field(ge=0, le=1_000_000, description="Rate at the end of the ramp.")
    over_s: float = Field(gt=0, description="Length of the ramp in seconds.")


def _profile_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    keys = set(value) if isinstance(value, dict) else set()
    if "rate_eps" in keys:
        return "step"
    return "ramp" if keys & {"from_eps", "to_eps", "over_s"} else None


ProfileEntry = Annotated[
    Annotated[RateStep, Tag("step")] | Annotated[RateRamp, Tag("ramp")],
    Discriminator(
        _profile_tag,
        custom_error_type="profile_entry",
        custom_error_message="a profile entry is a step {at_s, rate_eps} or a ramp "
        "{at_s, from_eps, to_eps, over_s}",
    ),
]


class AnomalyMix(Strict):
    """Relative weights of the anomaly kinds the producer injects (any scale; normalised)."""

    spike: float = Field(0.4, ge=0, description="Sudden temperature jump (the seed's > 35 °C).")
    drift: float = Field(0.2, ge=0, description="Slow climb away from the device's normal.")
    stuck: float = Field(0.2, ge=0, description="Sensor repeats one value.")
    garbage: float = Field(0.2, ge=0, description="Malformed reading; should be dead-lettered.")

    def normalised(self) -> dict[str, float]:
        total = self.spike + self.drift + self.stuck + self.garbage
        return {kind: getattr(self, kind) / total for kind in type(self).model_fields}


DEFAULT_DEVICES = 10
DEFAULT_RATE_EPS = 100.0


class Producer(Strict):
    """The device simulator that publishes readings to Kafka."""

    devices: int | None = Field(
        None, ge=1, description=f"Simulated devices, half thermostats, half motion sensors "
        f"(default {DEFAULT_DEVICES}). Or give thermostats/motion_sensors instead.",
    )
    thermostats: int | None = Field(None, ge=0, description="Thermostat devices.")
    motion_sensors: int | None = Field(None, ge=0, description="Motion-sensor devices.")
    rate_eps: float | None = Field(
        None, gt=0, le=1_000_000, description=f"Constant rate, events per second (default "
        f"{DEFAULT_RATE_EPS:g} if no profile). Give rate_eps or profile, not both.",
    )
    profile: list[ProfileEntry] | None = Field(
        None, min_length=1, description="Rate over time: steps and ramps, first at_s 0."
    )
    anomaly_rate: float = Field(
        0.10, ge=0, le=1, description="Share of thermostat readings made anomalous."
    )
    anomaly_mix: AnomalyMix = Field(default_factory=AnomalyMix, description="Kinds of anomaly.")
    processes: int = Field(1, ge=1, le=64, description="Producer processes sharing the rate.")
    client: Literal["kafka-python", "confluent-kafka"] = Field(
        DEFAULT_CLIENT,
        description="Kafka client library; the default uses half of kafka-python's CPU "
        "per event (side by side in benchmarks/results/producer-clients.json).",
    )
    acks: Literal[0, 1, "all"] = Field(
        "all", description="Acknowledgement the producer waits for: 0 none (fire and forget; "
        "the ledger records offset -1), 1 the partition leader, all every in-sync replica.",
    )
    idempotence: bool = Field(
        True, description="Idempotent producer: the broker drops a retried batch it already "
        "has (no Kafka duplicates from retries). Needs acks: all.",
    )
    sync_send: bool = Field(
        False, description="Wait for each record's acknowledgement before the next send: one "
        "request per record, the naive design (scenarios/seed-baseline.yaml).",
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Producer:
        problems: list[str] = []
        split = (self.thermostats, self.motion_sensors)
        if self.devices is not None and split != (None, None):
            problems.append("give devices or thermostats/motion_sensors, not both")
        elif split != (None, None) and sum(n or 0 for n in split) < 1:
            problems.append("thermostats + motion_sensors must be ≥ 1")
        if self.rate_eps is not None and self.profile is not None:
            problems.append("give rate_eps or profile, not both")
        if self.idempotence and self.acks != "all":
            problems.append(f"producer.idempotence: true requires producer.acks: all (got "
                            f"acks: {self.acks}); set idempotence: false to use acks 0 or 1")
        if self.anomaly_rate > 0 and sum(self.anomaly_mix.model_dump().values()) == 0:
            problems.append("anomaly_mix weights are all 0 but anomaly_rate > 0")
        if self.profile:
            problems += _profile_problems(self.profile, context_value(info, "duration_s"))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def device_counts(self) -> tuple[int, int]:
        """(thermostats, motion sensors)."""
        if self.thermostats is not None or self.motion_sensors is not None:
            return self.thermostats or 0, self.motion_sensors or 0
        devices = self.devices or DEFAULT_DEVICES
        return devices - devices // 2, devices // 2

    def rate_at(self, t_s: float) -> float:
        """Target rate (events/s) at ``t_s`` seconds after producing starts."""
        if not self.profile:
            return self.rate_eps or DEFAULT_RATE_EPS
        current = [entry for entry in self.profile if entry.at_s <= t_s][-1:] or self.profile[:1]
        entry = current[0]
        if isinstance(entry, RateStep):
            return entry.rate_eps
        progress = min(max((t_s - entry.at_s) / entry.over_s, 0.0), 1.0)
        return entry.from_eps + (entry.to_eps - entry.from_eps) * progress

    def peak_rate_eps(self) -> float:
        if not self.profile:
            return self.rate_at(0)
        return max(_entry_rates(self.profile))


def _entry_rates(profile: list[RateStep | RateRamp]) -> list[float]:
    rates: list[float] = []
    for entry in profile:
        rates += [entry.rate_eps] if isinstance(entry, RateStep) else [entry.from_eps, entry.to_eps]
    return rates


def _profile_problems(profile: list[RateStep | RateRamp], duration: Any) -> list[str]:
    problems: list[str] = []
    if profile[0].at_s != 0:
        problems.append(f"profile[0].at_s must be 0 (the rate from the start), "
                        f"got {profile[0].at_s:g}")
    for index, (entry, following) in enumerate(itertools.pairwise(profile)):
        end = entry.at_s + (entry.over_s if isinstance(entry, RateRamp) else 0)
        if following.at_s <= entry.at_s or following.at_s < end:
            problems.append(f"profile[{index + 1}].at_s ({following.at_s:g}) must come after "
                            f"profile[{index}] ends ({end:g} s)")
    if isinstance(duration, (int, float)):
        for index, entry in enumerate(profile):
            end = entry.at_s + (entry.over_s if isinstance(entry, RateRamp) else 0)
            if entry.at_s >= duration or end > duration:
                problems.append(f"profile[{index}] ends at {end:g} s, after the run's "
                                f"duration_s {duration:g}")
    if max(_entry_rates(profile)) == 0:
        problems.append("the profile never produces anything (every rate is 0)")
    return problems


# --- load (Locust against the dashboard API) -------------------------------------------


class LoadStep(Strict):
    """shape: steps — from ``at_s`` (after load starts) on, run ``users`` users."""

    at_s: float = Field(ge=0, description="Seconds after the load starts.")
    users: int = Field(ge=0, le=10_000, description="Concurrent users from then on.")


class LoadSpike(Strict):
    """shape: spike — jump to ``users`` at ``at_s`` for ``duration_s``, then back."""

    at_s: float = Field(ge=0, description="Seconds after the load starts.")
    duration_s: float = Field(gt=0, description="How long the spike lasts.")
    users: int = Field(ge=1, le=10_000, description="Concurrent users during the spike.")


class UserWeights(Strict):
    """Relative weights of Locust's user classes."""

    dashboard: float = Field(3.0, ge=0, description="Browser-like: page + chart/stats polling.")
    api: float = Field(1.0, ge=0, description="API client: data, anomalies, per-device queries.")


class Load(Strict):
    """Locust users hitting the dashboard while the scenario runs."""

    users: int = Field(10, ge=1, le=10_000, description="Users (constant; base level for spike).")
    spawn_rate: float = Field(5.0, gt=0, description="Users started per second.")
    shape: Literal["constant", "steps", "spike"] = Field(
        "constant", description="constant = users throughout; steps = the steps list; "
        "spike = users with one spike.",
    )
    steps: list[LoadStep] | None = Field(
        None, min_length=1, description="shape: steps only; first at_s 0, increasing."
    )
    spike: LoadSpike | None = Field(None, description="shape: spike only.")
    start_s: float = Field(0.0, ge=0, description="Seconds after producing starts.")
    duration_s: float | None = Field(
        None, gt=0, description="How long the load runs; default = until the run's end."
    )
    user_weights: UserWeights = Field(
        default_factory=UserWeights, description="Mix of user classes."
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Load:
        problems: list[str] = []
        for shape in ("steps", "spike"):
            given = getattr(self, shape) is not None
            if shape == self.shape and not given:
                problems.append(f"shape {shape} needs '{shape}'")
            elif shape != self.shape and given:
                problems.append(f"'{shape}' is only used with shape: {shape} "
                                f"(shape is {self.shape})")
        if self.steps:
            if self.steps[0].at_s != 0:
                problems.append(f"steps[0].at_s must be 0, got {self.steps[0].at_s:g}")
            for index, (one, two) in enumerate(itertools.pairwise(self.steps)):
                if two.at_s <= one.at_s:
                    problems.append(f"steps[{index + 1}].at_s must be after steps[{index}].at_s")
        if self.user_weights.dashboard + self.user_weights.api == 0:
            problems.append("user_weights are all 0")
        duration = context_value(info, "duration_s")
        if isinstance(duration, (int, float)):
            window = self.duration_s if self.duration_s is not None else duration - self.start_s
            if self.start_s >= duration or self.start_s + window > duration:
                problems.append(f"ends at {self.start_s + window:g} s, after the run's "
                                f"duration_s {duration:g}")
            if self.spike and self.spike.at_s + self.spike.duration_s > window:
                problems.append(f"the spike ends {self.spike.at_s + self.spike.duration_s:g} s "
                                f"after the load starts, after the load's {window:g} s")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def users_at(self, t_s: float) -> int:
        """Target users ``t_s`` seconds after the load starts (for a Locust LoadTestShape)."""
        if self.shape == "steps" and self.steps:
            return ([s.users for s in self.steps if s.at_s <= t_s] or [0])[-1]
        spike = self.spike if self.shape == "spike" else None
        if spike and spike.at_s <= t_s < spike.at_s + spike.duration_s:
            return spike.users
        return self.users
