"""``junit.xml``: one ``<testcase>`` per SLO and per expectation (a failed one carries a
``<failure>`` element), and one ``run status`` case that fails when the run did not complete
(``invalid-baseline``, ``interrupted``, ``failed``)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

from .formatting import fmt


def status_verdict(run: dict[str, Any]) -> dict[str, Any]:
    """The run's status as a verdict shaped like an SLO's (passes only when completed)."""
    status = run.get("status") or "unknown"
    return {"name": "run status", "metric": "run.status", "op": "==", "threshold": "completed",
            "value": status, "passed": status == "completed",
            "message": "" if status == "completed" else
            f"run status {status}: {run.get('status_note') or 'see journal.json'}"}


def render_junit(verdicts: list[dict[str, Any]], suite_name: str,
                 expectations: list[dict[str, Any]] | None = None,
                 run: dict[str, Any] | None = None) -> str:
    """JUnit XML (deterministic: no timestamps, time="0")."""
    verdicts = ([status_verdict(run)] if run is not None else []) + list(verdicts) + [
        {**v, "kind": "expectation"} for v in expectations or []]
    failures = sum(1 for v in verdicts if not v["passed"])
    suites = ElementTree.Element("testsuites", name="iotbench", tests=str(len(verdicts)),
                                 failures=str(failures), errors="0", time="0")
    suite = ElementTree.SubElement(suites, "testsuite", name=suite_name,
                                   tests=str(len(verdicts)), failures=str(failures),
                                   errors="0", skipped="0", time="0")
    for verdict in verdicts:
        kind = verdict.get("kind") or ("run" if verdict["metric"] == "run.status" else "slo")
        case = ElementTree.SubElement(suite, "testcase", classname=f"{suite_name}.{kind}",
                                      name=str(verdict["name"]), time="0")
        if not verdict["passed"]:
            message = verdict.get("message") or f"{kind} failed"
            failure_type = {"slo": "SLOFailure", "expectation": "ExpectationNotMet",
                            "run": "RunStatus"}[kind]
            failure = ElementTree.SubElement(case, "failure", message=message, type=failure_type)
            failure.text = (f"{verdict['metric']} = {fmt(verdict.get('value'))}, required "
                            f"{verdict['op']} {fmt(verdict.get('threshold'))}")
        else:
            output = ElementTree.SubElement(case, "system-out")
            output.text = f"{verdict['metric']} = {fmt(verdict.get('value'))}"
    ElementTree.indent(suites)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            + ElementTree.tostring(suites, encoding="unicode") + "\n")
