"""The one sustainability rule: run reports, sweep reports and ``iotbench capacity`` all call it.

A run at a target rate is *sustainable* when every check holds (each carries its evidence):

- ``status``        the run completed (not interrupted, failed or ``invalid-baseline``);
- ``lag_trend``     the least-squares slope of total lag after warm-up (Theodolite) is at most
                    ``lag_slope_share`` of the rate (floor ``lag_slope_floor_eps``); the 95 %
                    interval of the slope is reported, and ``ci_excludes_limit`` says whether
                    it lies wholly on one side of the limit (a decided verdict) or straddles it
                    (repeat the probe);
- ``achieved``      stored rate ≥ ``achieved_min`` × target;
- ``publish_delay`` the generator kept its schedule: publish delay p99 ≤ the bound;
- ``e2e_p99``       the *censored* e2e p99 (unstored events = +∞) ≤ ``p99_bound_ms``;
- ``no_loss``       zero in every anomaly class that means data went wrong: lost_in_kafka,
                    kafka_duplicates, lost_in_pipeline, storage_duplicates, unexpected,
                    undrained (a class that could not be computed is listed as unknown);
                    ``replayed_writes`` (absorbed by the sink) and ``reordered`` are not loss;
- ``slo``           every SLO of the scenario met (SLOs on the verdict itself are left out).

:func:`capacity_from_probes` turns a list of judged probes into a monotone capacity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LOSS_CLASSES = ("lost_in_kafka", "kafka_duplicates", "lost_in_pipeline", "storage_duplicates",
                "unexpected", "undrained")
SELF_REFERENCES = ("sustainability.", "throughput.sustainable", "throughput.lag_trend_ok")


@dataclass(frozen=True)
class SustainabilityRule:
    lag_slope_share: float = 0.01
    """Lag slope after warm-up may be at most this share of the rate (events/s per s)."""
    lag_slope_floor_eps: float = 1.0
    """…but never less than this, so that a tiny rate is not judged on noise."""
    achieved_min: float = 0.95
    """Stored rate over target rate must be at least this."""
    p99_bound_ms: float = 10_000.0
    """Censored e2e p99 bound."""
    publish_delay_p99_ms: float = 1_000.0
    """The generator must keep its schedule, or the probe measured the generator."""

    def slope_limit(self, rate_eps: float | None) -> float:
        return max(self.lag_slope_floor_eps, self.lag_slope_share * (rate_eps or 0.0))


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _check(name: str, passed: bool, value: Any, limit: Any, detail: str,
           **extra: Any) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "value": value, "limit": limit,
            "detail": detail, **extra}


def _lag_check(results: dict[str, Any], rule: SustainabilityRule,
               rate: float | None) -> dict[str, Any]:
    lag = results.get("lag") or {}
    slope, low, high = lag.get("slope_eps"), lag.get("slope_low"), lag.get("slope_high")
    limit = rule.slope_limit(rate)
    if slope is None:
        return _check("lag_trend", False, None, limit, "no lag slope (too few lag samples)",
                      ci_low=None, ci_high=None, ci_excludes_limit=False)
    excludes = low is not None and high is not None and (high < limit or low > limit)
    interval = (f"95 % CI [{low:.3g}, {high:.3g}]" if low is not None and high is not None
                else "no CI")
    side = ("excludes" if excludes else "straddles") + " the limit"
    return _check("lag_trend", slope <= limit, slope, limit,
                  f"lag slope {slope:.3g} events/s vs limit {limit:.3g} "
                  f"({rule.lag_slope_share:.0%} of rate); {interval} {side}",
                  ci_low=low, ci_high=high, ci_excludes_limit=excludes)


def _loss_check(results: dict[str, Any]) -> dict[str, Any]:
    integrity = results.get("integrity") or {}
    nonzero = {c: integrity.get(c) for c in LOSS_CLASSES if integrity.get(c)}
    unknown = [c for c in LOSS_CLASSES if integrity.get(c) is None]
    if integrity.get("lost"):
        nonzero.setdefault("lost", integrity["lost"])
    detail = (", ".join(f"{c} = {v}" for c, v in nonzero.items()) or "every class 0")
    if unknown:
        detail += f"; unknown (no topic export): {', '.join(unknown)}"
    return _check("no_loss", not nonzero, nonzero or 0, 0, detail, unknown=unknown)


def judge(results: dict[str, Any], slo_verdicts: list[dict[str, Any]] | None = None,
          rule: SustainabilityRule | None = None) -> dict[str, Any]:
    """The verdict on one run's (normalised) results: ``{sustainable, reasons, checks, rule}``.

    ``slo_verdicts`` defaults to ``results["slo"]``; verdicts on the sustainability figures
    themselves are ignored.
    """
    rule = rule or SustainabilityRule()
    throughput = results.get("throughput") or {}
    rate = throughput.get("target_eps") or throughput.get("scheduled_eps")
    status = _get(results, "run", "status") or "unknown"
    achieved = throughput.get("achieved_ratio")
    publish = _get(results, "latency_ms", "hops", "publish_delay", "p99")
    e2e = _get(results, "latency_ms", "e2e") or {}
    p99 = e2e.get("p99")
    verdicts = results.get("slo", []) if slo_verdicts is None else slo_verdicts
    failed = [v["name"] for v in verdicts if not v.get("passed")
              and not str(v.get("metric", "")).startswith(SELF_REFERENCES)]
    censored = (e2e.get("censored_above") or {}).get("p99")
    checks = [
        _check("status", status == "completed", status, "completed", f"run status {status}"),
        _lag_check(results, rule, rate),
        _check("achieved", achieved is not None and achieved >= rule.achieved_min, achieved,
               rule.achieved_min, f"achieved {achieved} of target (min {rule.achieved_min:.0%})"),
        _check("publish_delay", publish is not None and publish <= rule.publish_delay_p99_ms,
               publish, rule.publish_delay_p99_ms,
               f"publish delay p99 {publish} ms (generator keeps its schedule)"),
        _check("e2e_p99", p99 is not None and p99 <= rule.p99_bound_ms, p99, rule.p99_bound_ms,
               "censored e2e p99 above the run length (too many events never stored)"
               if censored else f"censored e2e p99 {p99} ms"),
        _loss_check(results),
        _check("slo", not failed, len(failed), 0,
               f"SLOs failed: {', '.join(failed)}" if failed else "every SLO met"),
    ]
    reasons = [c["detail"] for c in checks if not c["passed"]]
    return {"sustainable": not reasons, "rate_eps": rate, "reasons": reasons,
            "checks": checks, "rule": asdict(rule)}


def capacity_from_probes(probes: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest probed rate at and below which *every* probe passed (monotone by construction).

    ``probes``: dicts with ``rate_eps`` and ``sustainable`` (repetitions share a rate). A
    failure at a low rate caps the capacity below it even if a higher rate passed once.
    """
    by_rate: dict[float, list[bool]] = {}
    for probe in probes:
        by_rate.setdefault(float(probe["rate_eps"]), []).append(probe.get("sustainable") is True)
    capacity = None
    first_failure = None
    for rate in sorted(by_rate):
        if all(by_rate[rate]):
            capacity = rate
        else:
            first_failure = rate
            break
    return {"capacity_eps": capacity, "first_unsustainable_eps": first_failure,
            "rates": {str(rate): {"probes": len(v), "passed": sum(v)}
                      for rate, v in sorted(by_rate.items())}}
