"""SLO evaluation against a results dict.

Each SLO of the resolved scenario is ``{metric, op, threshold}`` (optional ``name``), where
``metric`` is a dotted path into ``results.json`` (``"latency_ms.e2e.p99"``; list items by
index, ``"recovery.0.recovery_s"``). A metric that is absent or null fails with the message
``"metric not reported"``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq,
}
NOT_REPORTED = "metric not reported"


def lookup(results: dict[str, Any], metric: str) -> Any:
    """The value at dotted path ``metric`` in ``results``, or None when any step is missing."""
    node: Any = results
    for part in metric.split("."):
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return node


def slo_name(slo: dict[str, Any]) -> str:
    return str(slo.get("name") or f"{slo.get('metric')} {slo.get('op')} {slo.get('threshold')}")


def evaluate_slo(slo: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """One verdict: name, metric, op, threshold, value, passed, message."""
    metric = str(slo.get("metric", ""))
    op = str(slo.get("op", "<="))
    threshold = slo.get("threshold")
    value = lookup(results, metric) if metric else None
    verdict = {"name": slo_name(slo), "metric": metric, "op": op, "threshold": threshold,
               "value": value, "passed": False, "message": ""}
    if op not in OPERATORS:
        verdict["message"] = f"unknown operator {op!r}"
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        verdict["value"] = None
        verdict["message"] = NOT_REPORTED
    elif isinstance(value, (dict, list)):
        verdict["value"] = None
        verdict["message"] = f"metric {metric} is not a number"
    else:
        try:
            verdict["passed"] = bool(OPERATORS[op](value, threshold))
        except TypeError:
            verdict["message"] = f"cannot compare {value!r} {op} {threshold!r}"
        else:
            verdict["message"] = ("" if verdict["passed"]
                                  else f"{metric} = {value} violates {op} {threshold}")
    return verdict


def evaluate_slos(slos: list[dict[str, Any]], results: dict[str, Any]) -> list[dict[str, Any]]:
    return [evaluate_slo(slo, results) for slo in slos or []]
