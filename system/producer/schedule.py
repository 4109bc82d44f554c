"""Open-loop rate control: every event gets an absolute scheduled time computed up front.

The rate is a piecewise-linear function of the time since the start (a constant, steps and
ramps). Event ``i`` (from 0) is scheduled at the time ``t`` where the integral of the rate
from 0 to ``t`` equals ``i``: for a constant rate that is exactly ``t0 + i / rate``. The
sender sleeps only while it is ahead of the next scheduled time; when it is behind it sends
immediately, and the lateness is the publish delay (send - scheduled). Events are never
skipped or dropped.

A profile is a list of phases, each starting at ``at_s`` (seconds from the start):

- step ``{"at_s": 10, "rate_eps": 2000}``: constant from ``at_s`` until the next phase;
- ramp ``{"at_s": 10, "from_eps": 100, "to_eps": 2000, "over_s": 30}``: linear over
  ``over_s`` then holding ``to_eps`` until the next phase. A ramp without ``at_s`` starts
  where the previous ramp ended (or at 0 for the first phase).

Before the first phase the rate is 0.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from system.producer.errors import ProducerError

DEVICE_ORDERS = ("round-robin", "random")


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float
    """``math.inf`` for the last segment."""
    start_eps: float
    end_eps: float
    events_before: float
    """Events scheduled before ``start_s`` (the rate's integral from 0)."""

    def events_in(self) -> float:
        return (self.start_eps + self.end_eps) / 2 * (self.end_s - self.start_s)

    def offset_of(self, index: int) -> float:
        """Time at which the integral reaches ``index`` inside this segment."""
        need = index - self.events_before
        if need <= 0:
            return self.start_s
        if self.start_eps == self.end_eps or math.isinf(self.end_s):
            return self.start_s + need / self.start_eps
        half_slope = (self.end_eps - self.start_eps) / (self.end_s - self.start_s) / 2
        root = math.sqrt(max(0.0, self.start_eps ** 2 + 4 * half_slope * need))
        return self.start_s + 2 * need / (self.start_eps + root)


class RateProfile:
    """A piecewise-linear rate over time; see the module docstring for the phases."""

    def __init__(self, phases: list[dict[str, Any]]) -> None:
        if not phases:
            raise ProducerError("a rate profile needs at least one phase")
        starts: list[tuple[float, dict[str, Any]]] = []
        previous_end = 0.0
        for phase in phases:
            start = float(phase.get("at_s", previous_end))
            if start < 0:
                raise ProducerError(f"phase starts before 0: {phase}")
            if "rate_eps" in phase:
                _check_rate(phase["rate_eps"], phase)
                previous_end = start
            elif {"from_eps", "to_eps", "over_s"} <= set(phase):
                _check_rate(phase["from_eps"], phase)
                _check_rate(phase["to_eps"], phase)
                if float(phase["over_s"]) <= 0:
                    raise ProducerError(f"a ramp needs over_s > 0: {phase}")
                previous_end = start + float(phase["over_s"])
            else:
                raise ProducerError(f"a phase is a step {{at_s, rate_eps}} or a ramp "
                                    f"{{from_eps, to_eps, over_s}}: {phase}")
            starts.append((start, phase))
        starts.sort(key=lambda item: item[0])
        self.phases = [phase for _, phase in starts]
        self.segments = self._segments(starts)

    @classmethod
    def constant(cls, rate_eps: float) -> RateProfile:
        return cls([{"at_s": 0.0, "rate_eps": rate_eps}])

    @staticmethod
    def _segments(starts: list[tuple[float, dict[str, Any]]]) -> list[Segment]:
        raw: list[tuple[float, float, float, float]] = []
        if starts[0][0] > 0:
            raw.append((0.0, starts[0][0], 0.0, 0.0))
        for k, (start, phase) in enumerate(starts):
            following = starts[k + 1][0] if k + 1 < len(starts) else math.inf
            if following <= start:
                continue  # overridden by a phase starting at the same time
            if "rate_eps" in phase:
                rate = float(phase["rate_eps"])
                raw.append((start, following, rate, rate))
                continue
            low, high, over = (float(phase["from_eps"]), float(phase["to_eps"]),
                               float(phase["over_s"]))
            ramp_end = min(start + over, following)
            reached = low + (high - low) * (ramp_end - start) / over
            raw.append((start, ramp_end, low, reached))
            if ramp_end < following:
                raw.append((ramp_end, following, high, high))
        segments: list[Segment] = []
        events = 0.0
        for start, end, r0, r1 in raw:
            segment = Segment(start, end, r0, r1, events)
            segments.append(segment)
            if not math.isinf(end):
                events += segment.events_in()
        return segments

    def rate_at(self, offset_s: float) -> float:
        for segment in self.segments:
            if segment.start_s <= offset_s < segment.end_s:
                if math.isinf(segment.end_s):
                    return segment.start_eps
                share = (offset_s - segment.start_s) / (segment.end_s - segment.start_s)
                return segment.start_eps + (segment.end_eps - segment.start_eps) * share
        return 0.0

    def offsets(self) -> Iterator[float]:
        """Scheduled offsets (seconds from the start) of events 0, 1, 2, ...; ends only if
        the last rate is 0."""
        index = 0
        for k, segment in enumerate(self.segments):
            last = k + 1 == len(self.segments)
            if last:
                if segment.start_eps <= 0:
                    return
                while True:
                    yield segment.offset_of(index)
                    index += 1
            upto = segment.events_before + segment.events_in()
            while index < upto - 1e-9:
                yield segment.offset_of(index)
                index += 1


def _check_rate(value: Any, phase: dict[str, Any]) -> None:
    if not isinstance(value, (int, float)) or value < 0 or math.isinf(value):
        raise ProducerError(f"rates must be finite and >= 0: {phase}")


@dataclass(frozen=True, slots=True)
class Slot:
    index: int
    offset_s: float
    device_index: int


class Schedule:
    """Which device sends when: ``(index, offset_s, device_index)`` for every event, until
    ``count`` events or ``duration_s`` seconds. Identical for every worker process, so a
    worker simply keeps the slots of its own devices."""

    def __init__(self, profile: RateProfile, device_count: int, *, count: int | None = None,
                 duration_s: float | None = None, device_order: str = "round-robin",
                 seed: int = 42) -> None:
        if count is None and duration_s is None:
            raise ProducerError("give a count or a duration")
        if device_order not in DEVICE_ORDERS:
            raise ProducerError(f"device_order must be one of {DEVICE_ORDERS}")
        if device_count <= 0:
            raise ProducerError("the schedule needs at least one device")
        self.profile = profile
        self.device_count = device_count
        self.count = count
        self.duration_s = duration_s
        self.device_order = device_order
        self.seed = seed

    def __iter__(self) -> Iterator[Slot]:
        chooser = random.Random(f"{self.seed}:schedule")
        for index, offset in enumerate(self.profile.offsets()):
            if self.count is not None and index >= self.count:
                return
            if self.duration_s is not None and offset >= self.duration_s:
                return
            if self.device_order == "round-robin":
                device = index % self.device_count
            else:
                device = chooser.randrange(self.device_count)
            yield Slot(index, offset, device)


class AnchoredClock:
    """Epoch seconds with monotonic precision: one ``time.time()`` reading plus the
    monotonic time elapsed since. The producer paces its sends by :meth:`now`, which never
    jumps.

    What it *writes* (event timestamps, the ledger's times) is :meth:`stamp`: ``now`` plus
    ``skew_s``, how far the wall clock has stepped away from that anchor, re-read by
    :meth:`watch` about once a second. A producer whose host clock is stepped (NTP, or the
    ``clock_skew`` fault, which runs it under libfaketime) thus stamps its stepped clock, as
    a producer reading its wall clock would, while its pace stays on monotonic time.
    """

    STEP_S = 0.05
    """Wall-clock differences below this are drift, not a step (left at 0)."""

    def __init__(self) -> None:
        self.wall0 = time.time()
        self.mono0 = time.monotonic()
        self.skew_s = 0.0

    def now(self) -> float:
        return self.wall0 + (time.monotonic() - self.mono0)

    def watch(self) -> float:
        """Re-read the wall clock; returns the skew now in effect."""
        drift = time.time() - self.now()
        self.skew_s = drift if abs(drift) >= self.STEP_S else 0.0
        return self.skew_s

    def stamp(self, epoch_s: float | None = None) -> float:
        """``epoch_s`` (default: now) as the producer's wall clock shows it."""
        return (self.now() if epoch_s is None else epoch_s) + self.skew_s

    def sleep_until(self, epoch_s: float) -> None:
        pause(epoch_s - self.now())


_NEVER_SET = threading.Event()


def pause(seconds: float) -> None:
    """Sleep ``seconds`` — not with ``time.sleep``: Python 3.11 sleeps with
    ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which libfaketime 0.9.10 (Debian's)
    turns into EINVAL when it fakes the wall clock only (wolfcw/libfaketime#426), and the
    ``clock_skew`` fault runs the producer under it. A timed wait is unaffected."""
    if seconds > 0:
        _NEVER_SET.wait(seconds)
