"""``junit.xml``: one ``<testcase>`` per SLO; a failed SLO carries a ``<failure>`` element."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

from .formatting import fmt


def render_junit(verdicts: list[dict[str, Any]], suite_name: str) -> str:
    """JUnit XML (deterministic: no timestamps, time="0")."""
    failures = sum(1 for v in verdicts if not v["passed"])
    suites = ElementTree.Element("testsuites", name="iotbench", tests=str(len(verdicts)),
                                 failures=str(failures), errors="0", time="0")
    suite = ElementTree.SubElement(suites, "testsuite", name=suite_name,
                                   tests=str(len(verdicts)), failures=str(failures),
                                   errors="0", skipped="0", time="0")
    for verdict in verdicts:
        case = ElementTree.SubElement(suite, "testcase", classname=f"{suite_name}.slo",
                                      name=str(verdict["name"]), time="0")
        if not verdict["passed"]:
            message = verdict.get("message") or "SLO failed"
            failure = ElementTree.SubElement(case, "failure", message=message, type="SLOFailure")
            failure.text = (f"{verdict['metric']} = {fmt(verdict.get('value'))}, required "
                            f"{verdict['op']} {fmt(verdict.get('threshold'))}")
        else:
            output = ElementTree.SubElement(case, "system-out")
            output.text = f"{verdict['metric']} = {fmt(verdict.get('value'))}"
    ElementTree.indent(suites)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            + ElementTree.tostring(suites, encoding="unicode") + "\n")
