"""junit.xml: one testcase per host and check, so CI dashboards can track compliance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET


def render_junit(report: Mapping[str, Any]) -> str:
    checks = report["checks"]
    suites = ET.Element("testsuites", name="mssql.tls audit")
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
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
