"""junit.xml: one testcase per host and check, so CI dashboards can track compliance.

A before/after report adds one ``<host> remediation`` suite per host (docs/report-schema.md):
``remediation`` fails while scenarios remain and errors when the host failed or was not
audited after the run; ``activation`` is skipped while a reboot or restart is pending; each
blocker is a ``blocked`` case, skipped with its reason (passed, with the reason as output,
when it was forced). A report with the fleet pairing adds a ``pairing`` suite: one case per
(client, driver, instance), failed while that pair fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree import ElementTree as ET

from .change_text import blocker_kind, failed_line, pending_lines, scenarios_line
from .changes import is_change_report
from .pairing_render import junit_suite

Text = Callable[..., str]

# Characters XML 1.0 cannot carry at all (a hostile registry value or message may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _remediation_suite(suites: ET.Element, host: Mapping[str, Any], text: Text) -> None:
    classname = f"mssql.tls.{host['name']}.remediation"
    suite = ET.SubElement(suites, "testsuite", name=f"{host['name']} remediation")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=classname, name=name)

    result = case("remediation")
    failed = failed_line(host, text)
    if failed or host["error"]:
        counts["errors"] += 1
        message = failed or text("report.unreachable", error=host["error"])
        ET.SubElement(result, "error", message=message, type="failed").text = scenarios_line(host, text)
    elif host["scenarios"]:
        counts["failures"] += 1
        scenarios = ", ".join(f"S{s}" for s in host["scenarios"])
        node = ET.SubElement(
            result,
            "failure",
            message=text("report.change.junit.remaining", scenarios=scenarios),
            type="remaining",
        )
        node.text = "\n".join(
            [scenarios_line(host, text), *(b["message"] for b in host["blocked"] if not b["forced"])]
        )
    activation = case("activation")
    pending = pending_lines(host, text)
    if pending:
        counts["skipped"] += 1
        ET.SubElement(activation, "skipped", message=" ".join(pending))
    for b in host["blocked"]:
        blocked = case(f"blocked {b['code']} {b['target']}")
        if b["forced"]:
            ET.SubElement(blocked, "system-out").text = b["message"]
        else:
            counts["skipped"] += 1
            ET.SubElement(blocked, "skipped", message=b["message"], type=blocker_kind(b))
    for key, value in counts.items():
        suite.set(key, str(value))


def render_junit(report: Mapping[str, Any], text: Text | None = None) -> str:
    checks = report["checks"]
    change = is_change_report(report)
    if change and text is None:
        raise ValueError("text: a before/after report needs the catalog text for its remediation cases")
    suites = ET.Element("testsuites", name="mssql.tls remediation" if change else "mssql.tls audit")
    for host in report["hosts"]:
        by_id: dict[str, list[Mapping[str, Any]]] = {}
        for f in host["findings"]:
            by_id.setdefault(f["id"], []).append(f)
        suite = ET.SubElement(suites, "testsuite", name=host["name"], tests=str(len(checks)))
        failures = errors = 0
        for check in checks:
            case = ET.SubElement(suite, "testcase", classname=f"mssql.tls.{host['name']}", name=check)
            if host["error"]:
                errors += 1
                ET.SubElement(case, "error", message="facts could not be gathered").text = host["error"]
            elif check in by_id:
                failures += 1
                for f in by_id[check]:
                    node = ET.SubElement(case, "failure", message=f["title"], type=f["severity"])
                    node.text = f"{f['evidence']}\n\n{f['remediation']}"
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        if change:
            _remediation_suite(suites, host, text)
    if report.get("pairing"):
        junit_suite(suites, report["pairing"], text)
    ET.indent(suites)
    body = _NOT_XML.sub("\ufffd", ET.tostring(suites, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
