"""Expectations: the outcome a scenario declares it should provoke.

A scenario may say ``expect: {integrity.storage_duplicates: "> 0"}`` — metric (a dotted
``results.json`` path, as for SLOs) → comparison string ``"<op> <number>"`` with ``op`` one of
``<=, <, >=, >, ==``. An unmet expectation means the experiment did not show what it was built
to show (e.g. a checker that stayed silent), so it fails the run like a failed SLO:
``results["expectations"]`` is a list of verdicts, ``results["expectations_passed"]`` their
conjunction.
"""

from __future__ import annotations

import re
from typing import Any

from .slo import evaluate_slo

COMPARISON = re.compile(r"\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*")


def parse_comparison(text: str) -> tuple[str, float]:
    """``"> 0"`` → ``(">", 0.0)``; ValueError naming the accepted form otherwise."""
    match = COMPARISON.fullmatch(str(text))
    if not match:
        raise ValueError(f"expected '<op> <number>' with op one of <=, <, >=, >, ==; "
                         f"got {text!r}")
    return match.group(1), float(match.group(2))


def evaluate_expectations(expect: dict[str, str] | None,
                          results: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per expectation, in metric order: name, metric, op, threshold, value,
    passed, message (same shape as an SLO verdict)."""
    verdicts = []
    for metric in sorted(expect or {}):
        text = str(expect[metric])
        try:
            op, threshold = parse_comparison(text)
        except ValueError as error:
            verdicts.append({"name": f"expect {metric} {text}", "metric": metric, "op": text,
                             "threshold": None, "value": None, "passed": False,
                             "message": str(error)})
            continue
        verdict = evaluate_slo({"metric": metric, "op": op, "threshold": threshold,
                                "name": f"expect {metric} {op} {threshold:g}"}, results)
        if not verdict["passed"] and verdict["value"] is not None:
            verdict["message"] = (f"expected {metric} {op} {threshold:g}, got "
                                  f"{verdict['value']}: the experiment did not show it")
        verdicts.append(verdict)
    return verdicts
