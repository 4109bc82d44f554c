"""Faults a scenario injects: network toxics on one link, a signal to one process, or a
resource fault beside the stack.

A fault in the file is told apart by its keys: ``link`` + ``toxic`` is a network fault (one
model per toxic, so each toxic accepts exactly its own attributes), ``process`` + ``action``
is a process fault, ``isolate`` cuts a broker off, ``cpu_hog``, ``clock_skew`` and
``disk_full`` are resource faults. Times are seconds from the start of the
run (the start of producing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

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
from system.stack import names
from system.stack.names import BROKER_ROLES, BROKERS, SHARED_LINKS, TOXICS

LinkName = Literal[names.LINKS]
BrokerName = Literal[names.BROKERS]
ToxicName = Literal[names.TOXICS]
ProcessName = Literal[names.PROCESSES]
ProcessAction = Literal["kill", "pause", "restart"]

# Processes the harness can signal when it did not start the stack (provider: external):
# only the Spark driver, which the harness itself submits.
EXTERNAL_PROCESSES = ("spark-driver",)


# --- toxic attributes (Toxiproxy v2 names and units) ------------------------------------


class ToxicAttributes(Strict):
    toxic_name: ClassVar[str] = ""


class LatencyAttributes(ToxicAttributes):
    """``latency`` toxic: delays data on the link."""

    toxic_name: ClassVar[str] = "latency"
    latency: int = Field(ge=0, le=3_600_000, description="Added delay in milliseconds.")
    jitter: int = Field(0, ge=0, le=3_600_000, description="± random variation of the delay, ms.")


class BandwidthAttributes(ToxicAttributes):
    """``bandwidth`` toxic: caps throughput."""

    toxic_name: ClassVar[str] = "bandwidth"
    rate: int = Field(ge=1, description="Maximum rate in KB/s.")


class TimeoutAttributes(ToxicAttributes):
    """``timeout`` toxic: stops all data; closes the connection after ``timeout``."""

    toxic_name: ClassVar[str] = "timeout"
    timeout: int = Field(0, ge=0, description="Milliseconds before closing; 0 = hold until healed.")


class ResetPeerAttributes(ToxicAttributes):
    """``reset_peer`` toxic: resets connections (TCP RST) after ``timeout``."""

    toxic_name: ClassVar[str] = "reset_peer"
    timeout: int = Field(0, ge=0, description="Milliseconds before the reset; 0 = at once.")


class SlowCloseAttributes(ToxicAttributes):
    """``slow_close`` toxic: delays the closing of connections."""

    toxic_name: ClassVar[str] = "slow_close"
    delay: int = Field(ge=0, description="Milliseconds to delay the close.")


class SlicerAttributes(ToxicAttributes):
    """``slicer`` toxic: cuts data into small packets, optionally delaying each."""

    toxic_name: ClassVar[str] = "slicer"
    average_size: int = Field(ge=2, description="Average packet size in bytes.")
    size_variation: int = Field(
        ge=1,
        description="± bytes of variation; 1 ≤ size_variation < average_size (Toxiproxy's "
        "slicer calls rand.Intn(2·size_variation), which panics the server at 0).",
    )
    delay: int = Field(0, ge=0, description="Microseconds to wait between packets.")

    @model_validator(mode="after")
    def _variation_below_average(self) -> SlicerAttributes:
        if self.size_variation >= self.average_size:
            raise ValueError(
                f"size_variation ({self.size_variation}) must be less than "
                f"average_size ({self.average_size})"
            )
        return self


class LimitDataAttributes(ToxicAttributes):
    """``limit_data`` toxic: closes the connection after ``bytes`` have passed."""

    toxic_name: ClassVar[str] = "limit_data"
    bytes: int = Field(ge=0, description="Bytes let through before the connection is closed.")


class DownAttributes(ToxicAttributes):
    """``down``: the proxy is disabled (a network partition). Takes no attributes."""

    toxic_name: ClassVar[str] = "down"


# --- fault models ----------------------------------------------------------------------


class FaultTiming(Strict):
    at_s: float = Field(ge=0, description="Start, seconds after producing starts.")
    jitter_s: float = Field(
        0.0,
        ge=0,
        description="If > 0 the start is drawn uniformly from [at_s, at_s + jitter_s] by a "
        "generator seeded with the scenario's seed: the same file gives the same schedule.",
    )
    label: str | None = Field(
        None, description="Name in the journal and report; default e.g. 'latency on spark-kafka'."
    )

    def latest_end_s(self) -> float | None:
        """Worst-case end (jitter at its maximum); ``None`` = lasts until the run ends."""
        window = self.window_s()
        return None if window is None else self.at_s + self.jitter_s + window

    def window_s(self) -> float | None:
        raise NotImplementedError

    def default_label(self) -> str:
        raise NotImplementedError

    def journal_target(self) -> str:
        """What the fault hits, as the journal names it (a link, a process, a broker…)."""
        raise NotImplementedError

    def journal_kind(self) -> str:
        """What it does: the toxic, the process action, isolate, cpu_hog, clock_skew."""
        raise NotImplementedError

    def journal_attributes(self) -> dict[str, Any]:
        return {}

    @model_validator(mode="after")
    def _ends_within_run(self, info: ValidationInfo) -> FaultTiming:
        duration = context_value(info, "duration_s")
        end = self.latest_end_s()
        if isinstance(duration, (int, float)) and end is not None and end > duration:
            jitter = f" + jitter_s {self.jitter_s:g}" if self.jitter_s else ""
            raise ValueError(
                f"ends at {end:g} s (at_s {self.at_s:g}{jitter} + {self.window_s():g} s), "
                f"after the run's duration_s {duration:g}; faults must end while producing"
            )
        return self


def _needs_three_brokers(what: str, info: ValidationInfo) -> None:
    brokers = context_value(info, "brokers")
    if brokers is not None and brokers == 1:
        raise ValueError(f"{what} needs stack.kafka.brokers: 3 (one broker here)")


class LinkFaultBase(FaultTiming):
    link: LinkName = Field(description="The proxied link the fault hits.")
    duration_s: float = Field(gt=0, description="How long the toxic stays before it is healed.")

    def window_s(self) -> float | None:
        return self.duration_s

    @model_validator(mode="after")
    def _link_exists(self, info: ValidationInfo) -> LinkFaultBase:
        if self.link not in SHARED_LINKS:
            _needs_three_brokers(f"link: {self.link}", info)
        return self

    def default_label(self) -> str:
        return f"{getattr(self, 'toxic', '?')} on {self.link}"

    def journal_target(self) -> str:
        return self.link

    def journal_kind(self) -> str:
        return str(getattr(self, "toxic", "?"))

    def journal_attributes(self) -> dict[str, Any]:
        attrs = getattr(self, "attributes", None)
        if attrs is None:
            return {}
        return attrs.model_dump() if isinstance(attrs, BaseModel) else dict(attrs)


class ToxicFaultBase(LinkFaultBase):
    stream: Literal["upstream", "downstream"] = Field(
        "downstream", description="upstream = client→server, downstream = server→client."
    )
    toxicity: float = Field(
        1.0, ge=0, le=1, description="Share of connections affected (drawn per connection)."
    )


class LatencyFault(ToxicFaultBase):
    toxic: Literal["latency"] = Field(description="Toxic name.")
    attributes: LatencyAttributes = Field(description="latency, jitter (ms).")


class BandwidthFault(ToxicFaultBase):
    toxic: Literal["bandwidth"] = Field(description="Toxic name.")
    attributes: BandwidthAttributes = Field(description="rate (KB/s).")


class TimeoutFault(ToxicFaultBase):
    toxic: Literal["timeout"] = Field(description="Toxic name.")
    attributes: TimeoutAttributes = Field(TimeoutAttributes(), description="timeout (ms).")


class ResetPeerFault(ToxicFaultBase):
    toxic: Literal["reset_peer"] = Field(description="Toxic name.")
    attributes: ResetPeerAttributes = Field(ResetPeerAttributes(), description="timeout (ms).")


class SlowCloseFault(ToxicFaultBase):
    toxic: Literal["slow_close"] = Field(description="Toxic name.")
    attributes: SlowCloseAttributes = Field(description="delay (ms).")


class SlicerFault(ToxicFaultBase):
    toxic: Literal["slicer"] = Field(description="Toxic name.")
    attributes: SlicerAttributes = Field(
        description="average_size, size_variation (bytes), delay (µs)."
    )


class LimitDataFault(ToxicFaultBase):
    toxic: Literal["limit_data"] = Field(description="Toxic name.")
    attributes: LimitDataAttributes = Field(description="bytes.")


class DownFault(LinkFaultBase):
    """The proxy is disabled: a partition. No stream or toxicity: both directions, all clients."""

    toxic: Literal["down"] = Field(description="Toxic name.")
    attributes: DownAttributes = Field(DownAttributes(), description="None.")


class UnknownToxicFault(ToxicFaultBase):
    """Catches a misspelt or missing toxic so its other fields are still checked."""

    toxic: ToxicName = Field(description="Toxic name.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Unchecked.")


class ProcessFault(FaultTiming):
    process: ProcessName = Field(description="The process to signal.")
    action: ProcessAction = Field(
        description="kill = SIGKILL; pause = SIGSTOP, SIGCONT at the end; "
        "restart = graceful stop (SIGTERM) then start again."
    )
    duration_s: float | None = Field(
        None,
        gt=0,
        description="The fault's window (shaded in reports). Required for pause; for kill "
        "and restart it defaults to restart_after_s.",
    )
    mid_batch: bool = Field(
        False, description="spark-driver kill only: wait (up to 30 s) until a micro-batch has "
        "written part of its rows and not committed them, then kill — so the restarted "
        "driver really replays a half-written batch.",
    )
    lose_checkpoint: bool = Field(
        False, description="spark-driver kill/restart only: delete the query's checkpoint "
        "before it starts again, as when a driver is rescheduled on a host without its "
        "checkpoint volume; the new query starts at stack.starting_offsets.",
    )
    partition: int | None = Field(
        None, ge=0, description="process: kafka-leader only: the partition of the run's "
        "topic whose leader is hit (the broker leading it when the fault fires).",
    )
    restart_after_s: float | None = Field(
        None,
        ge=0,
        description="kill/restart: seconds after the stop at which the harness starts the "
        "process again (kill: default = duration_s, else never during the run; "
        "restart: default 0). Not allowed for pause.",
    )

    @model_validator(mode="after")
    def _action_fields(self, info: ValidationInfo) -> ProcessFault:
        if self.action == "pause":
            if self.duration_s is None:
                raise ValueError("pause needs duration_s (how long the process stays stopped)")
            if self.restart_after_s is not None:
                raise ValueError("restart_after_s is for kill/restart; pause ends after duration_s")
        elif (
            self.duration_s is not None
            and self.restart_after_s is not None
            and self.restart_after_s > self.duration_s
        ):
            raise ValueError(
                f"restart_after_s ({self.restart_after_s:g}) must not exceed "
                f"duration_s ({self.duration_s:g}): the restart happens inside the window"
            )
        if self.mid_batch and (self.process, self.action) != ("spark-driver", "kill"):
            raise ValueError("mid_batch is for process: spark-driver with action: kill")
        if self.lose_checkpoint and (self.process != "spark-driver" or self.action == "pause"):
            raise ValueError("lose_checkpoint is for process: spark-driver with action: kill "
                             "or restart")
        self._check_broker(info)
        if self.process == "producer" and (self.action == "restart"
                                           or self.restart_after_s is not None):
            raise ValueError("the producer can be killed or paused, not restarted: a second "
                             "producer would start the schedule (and its event ids) again")
        provider = context_value(info, "provider")
        if provider == "external" and self.process not in EXTERNAL_PROCESSES:
            raise ValueError(
                f"cannot {self.action} {self.process!r} on an external stack the harness did not "
                f"start; external scenarios take link faults, spark-driver process faults and "
                f"clock_skew of the producer"
            )
        return self

    def _check_broker(self, info: ValidationInfo) -> None:
        if (self.process == "kafka-leader") != (self.partition is not None):
            raise ValueError("partition is for process: kafka-leader, which needs it (the "
                             "partition of the run's topic whose leader is hit)")
        brokers, partitions = context_value(info, "brokers"), context_value(info, "partitions")
        if brokers is None:
            return
        if self.process == "kafka" and brokers > 1:
            raise ValueError(f"on {brokers} brokers name the broker: kafka-1..kafka-{brokers}, "
                             "kafka-leader (with partition) or kafka-controller")
        if (self.process in BROKERS or self.process in BROKER_ROLES) and brokers == 1:
            raise ValueError(f"process: {self.process} needs stack.kafka.brokers: 3 (one broker "
                             "here: use process: kafka)")
        if (self.partition is not None and isinstance(partitions, int)
                and self.partition >= partitions):
            raise ValueError(f"partition {self.partition} does not exist: the run's topic has "
                             f"{partitions} (0..{partitions - 1})")

    def restart_delay_s(self) -> float | None:
        """Seconds from the stop until the process is started again (``None`` = never)."""
        if self.action == "pause":
            return None
        if self.restart_after_s is not None:
            return self.restart_after_s
        return self.duration_s if self.action == "kill" else 0.0

    def window_s(self) -> float | None:
        if self.duration_s is not None:
            return self.duration_s
        return self.restart_delay_s()

    def default_label(self) -> str:
        return f"{self.action} {self.process}"

    def journal_target(self) -> str:
        return self.process

    def journal_kind(self) -> str:
        return self.action

    def journal_attributes(self) -> dict[str, Any]:
        return {"restart_after_s": self.restart_after_s}


class TimedFault(FaultTiming):
    """A fault that lasts ``duration_s`` and is healed at its end."""

    duration_s: float = Field(gt=0, description="How long the fault lasts; healed at its end.")

    def window_s(self) -> float | None:
        return self.duration_s


class IsolateFault(TimedFault):
    """Every proxy into one broker disabled (its clients', its replication and controller
    listeners): the broker is cut off from everyone. A partition between just two brokers is
    not possible with proxies (a listener advertises one address to all its peers)."""

    isolate: BrokerName = Field(description="The broker cut off.")

    def default_label(self) -> str:
        return f"isolate {self.isolate}"

    def journal_target(self) -> str:
        return self.isolate

    def journal_kind(self) -> str:
        return "isolate"

    @model_validator(mode="after")
    def _three_brokers(self, info: ValidationInfo) -> IsolateFault:
        _needs_three_brokers(f"isolate: {self.isolate}", info)
        return self


class CpuHogAttributes(Strict):
    cores: int = Field(ge=1, le=64, description="Busy processes, each keeping one core busy.")


class ResourceFault(TimedFault):
    """A noisy neighbour: ``cpu_hog.cores`` busy processes on this machine, beside the stack,
    for ``duration_s`` (each also ends by itself 30 s after its window, should the harness
    die before it heals them)."""

    cpu_hog: CpuHogAttributes = Field(description="cores: how many busy processes.")

    def default_label(self) -> str:
        return f"cpu_hog of {self.cpu_hog.cores} core(s)"

    def journal_target(self) -> str:
        return "cpu"

    def journal_kind(self) -> str:
        return "cpu_hog"

    def journal_attributes(self) -> dict[str, Any]:
        return self.cpu_hog.model_dump()

    @model_validator(mode="after")
    def _beside_a_local_stack(self, info: ValidationInfo) -> ResourceFault:
        if context_value(info, "provider") == "external":
            raise ValueError("cpu_hog busies this machine's cores, and an external stack "
                             "runs elsewhere: it would slow the harness, not the stack")
        return self


class ClockSkewAttributes(Strict):
    service: Literal["producer"] = Field(
        description="Whose wall clock is stepped: the producer (it stamps the events and the "
        "ledger; the other services' clocks are the machine's).")
    offset_s: float = Field(
        description="Seconds the producer's wall clock is stepped by (+ ahead, - behind) for "
        "the fault's window, through libfaketime; its send pace stays on monotonic time.")

    @field_validator("offset_s")
    @classmethod
    def _a_real_step(cls, value: float) -> float:
        if value == 0 or abs(value) > 86_400:
            raise ValueError(f"offset_s must be non-zero and within ±86400 s, got {value:g}")
        return value


class ClockSkewFault(TimedFault):
    """The producer's wall clock stepped by ``offset_s`` for ``duration_s`` (libfaketime,
    Debian package ``faketime``): events and ledger carry the skewed time, so event-time
    latency and the hop stamps show what a skewed producer clock does to them."""

    clock_skew: ClockSkewAttributes = Field(description="service and offset_s.")

    def default_label(self) -> str:
        return f"clock_skew {self.clock_skew.service} {self.clock_skew.offset_s:+g} s"

    def journal_target(self) -> str:
        return f"{self.clock_skew.service}-clock"

    def journal_kind(self) -> str:
        return "clock_skew"

    def journal_attributes(self) -> dict[str, Any]:
        return self.clock_skew.model_dump()


DiskService = Literal[("kafka", *names.BROKERS)]


class DiskFullAttributes(Strict):
    service: DiskService = Field(
        description="The broker whose log dir fills up: kafka (one broker) or kafka-N.")
    size_mb: int = Field(256, ge=64, le=4096, description=(
        "Size of the tmpfs the stack mounts on that broker's log dir at start."))


class DiskFullFault(TimedFault):
    """One broker's log dir filled to the last byte for ``duration_s``: the runner starts the
    stack with that dir on a tmpfs of ``size_mb`` (needs root), the fault writes one file
    until the filesystem is full, and the heal deletes it and starts the broker again if the
    full disk stopped it (Kafka halts a broker whose every log dir failed)."""

    disk_full: DiskFullAttributes = Field(description="service and size_mb.")

    def default_label(self) -> str:
        return f"disk_full {self.disk_full.service}"

    def journal_target(self) -> str:
        return self.disk_full.service

    def journal_kind(self) -> str:
        return "disk_full"

    def journal_attributes(self) -> dict[str, Any]:
        return self.disk_full.model_dump()

    @model_validator(mode="after")
    def _a_broker_of_this_stack(self, info: ValidationInfo) -> DiskFullFault:
        provider = context_value(info, "provider")
        if provider not in (None, "native"):
            raise ValueError(f"disk_full mounts a small disk under a native stack's broker; "
                             f"provider {provider} does not allow it")
        brokers = context_value(info, "brokers")
        service = self.disk_full.service
        if brokers is not None and (service == "kafka") != (brokers == 1):
            raise ValueError(f"disk_full: service {service!r} does not exist with "
                             f"{brokers} broker(s): use " + ("kafka" if brokers == 1
                                                             else "kafka-1, kafka-2 or kafka-3"))
        return self


FAULT_KINDS = ("link", "process", "isolate", "cpu_hog", "clock_skew", "disk_full")
"""The key that tells a fault's kind; a fault has exactly one."""


def _fault_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    if not isinstance(value, dict) or sum(key in value for key in FAULT_KINDS) != 1:
        return None
    if "process" in value:
        return "process"
    if "cpu_hog" in value:
        return "resource"
    if "clock_skew" in value:
        return "clock_skew"
    if "disk_full" in value:
        return "disk_full"
    if "isolate" in value:
        return "isolate"
    toxic = value.get("toxic")
    return toxic if toxic in TOXICS else "unknown-toxic"


Fault = Annotated[
    (
        Annotated[LatencyFault, Tag("latency")]
        | Annotated[BandwidthFault, Tag("bandwidth")]
        | Annotated[TimeoutFault, Tag("timeout")]
        | Annotated[ResetPeerFault, Tag("reset_peer")]
        | Annotated[SlowCloseFault, Tag("slow_close")]
        | Annotated[SlicerFault, Tag("slicer")]
        | Annotated[LimitDataFault, Tag("limit_data")]
        | Annotated[DownFault, Tag("down")]
        | Annotated[UnknownToxicFault, Tag("unknown-toxic")]
        | Annotated[ProcessFault, Tag("process")]
        | Annotated[ResourceFault, Tag("resource")]
        | Annotated[IsolateFault, Tag("isolate")]
        | Annotated[ClockSkewFault, Tag("clock_skew")]
        | Annotated[DiskFullFault, Tag("disk_full")]
    ),
    Discriminator(
        _fault_tag,
        custom_error_type="fault_kind",
        custom_error_message="a fault needs exactly one of 'link' (with a toxic), 'process' "
        "(with an action), 'isolate' (a broker), 'cpu_hog' (with cores), 'clock_skew' "
        "(with service and offset_s) or 'disk_full' (with service)",
    ),
]
"""One entry of ``faults``."""

LinkFault = (
    LatencyFault | BandwidthFault | TimeoutFault | ResetPeerFault | SlowCloseFault | SlicerFault
    | LimitDataFault | DownFault
)
AnyFault = (LinkFault | ProcessFault | ResourceFault | IsolateFault | ClockSkewFault
            | DiskFullFault)


# --- the schedule ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledFault:
    """A fault with its actual times, as the runner applies it."""

    index: int
    """Position in the scenario's ``faults`` list."""
    label: str
    start_s: float
    """When it is applied, seconds after producing starts (jitter already drawn)."""
    end_s: float
    """End of the fault's window (the run's duration_s for a kill that is never restarted)."""
    heal_s: float | None
    """When the harness undoes it (remove toxic, re-enable proxy, SIGCONT, start the process
    again); ``None`` = not during the run (the harness still heals everything at exit)."""
    fault: AnyFault


def schedule_faults(
    faults: list[AnyFault], seed: int, run_duration_s: float
) -> list[ScheduledFault]:
    """Deterministic: each fault's jitter comes from its own generator seeded by (seed, index),
    so adding jitter to one fault does not move the others."""
    scheduled: list[ScheduledFault] = []
    for index, fault in enumerate(faults):
        offset = 0.0
        if fault.jitter_s > 0:
            offset = random.Random(f"iotbench:{seed}:fault:{index}").uniform(0.0, fault.jitter_s)
        start = round(fault.at_s + offset, 3)
        window = fault.window_s()
        end = run_duration_s if window is None else round(start + window, 3)
        if isinstance(fault, ProcessFault):
            delay = fault.restart_delay_s()
            heal = end if fault.action == "pause" else (
                None if delay is None else round(start + delay, 3)
            )
        else:
            heal = end
        label = fault.label or fault.default_label()
        scheduled.append(ScheduledFault(index, label, start, end, heal, fault))
    return sorted(scheduled, key=lambda item: (item.start_s, item.index))


def overlap_problems(faults: list[AnyFault]) -> list[str]:
    """Faults that would undo each other: two on one process, or a ``down`` with another
    ``down`` on the same link (healing the first would re-enable the proxy). Uses worst-case
    windows (jitter at its maximum), so no seed can make them overlap."""

    def resource(fault: AnyFault) -> str | None:
        if isinstance(fault, ProcessFault):
            return f"process {fault.process}"
        if isinstance(fault, DownFault):
            return f"link {fault.link} (down)"
        if isinstance(fault, IsolateFault):
            return f"link {fault.isolate} (down)"
        if isinstance(fault, ClockSkewFault):
            return f"clock {fault.clock_skew.service}"
        if isinstance(fault, DiskFullFault):
            return f"disk {fault.disk_full.service}"
        return None

    def span(fault: AnyFault) -> tuple[float, float]:
        end = fault.latest_end_s()
        return fault.at_s, float("inf") if end is None else end

    problems: list[str] = []
    for i, first in enumerate(faults):
        for j in range(i + 1, len(faults)):
            second, same = faults[j], resource(first)
            (a_start, a_end), (b_start, b_end) = span(first), span(second)
            if same and same == resource(second) and a_start < b_end and b_start < a_end:
                problems.append(
                    f"faults[{j}] ({second.label or second.default_label()}) overlaps "
                    f"faults[{i}] ({first.label or first.default_label()}) on {same}; "
                    f"faults on one {same.split()[0]} must not overlap"
                )
    return problems
