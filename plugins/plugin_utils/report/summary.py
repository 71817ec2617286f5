"""The end-of-play summary and the fail_on refusal, in the report's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n.catalog import message
from .document import severity_rank


def summary_lines(report: Mapping[str, Any], lang: str) -> list[str]:
    counts = report["summary"]
    lines = [
        message(
            "summary.play",
            lang,
            hosts=counts["hosts"],
            compliant=counts["hosts"] - counts["hosts_with_findings"] - counts["unreachable"],
            with_findings=counts["hosts_with_findings"],
            unreachable=counts["unreachable"],
            **counts["by_severity"],
        )
    ]
    for host in report["hosts"]:
        if host["error"]:
            lines.append(message("summary.host_unreachable", lang, host=host["name"], error=host["error"]))
        elif host["findings"]:
            scenarios = ", ".join(f"S{s}" for s in host["scenarios"]) or "-"
            count = len(host["findings"])
            lines.append(message("summary.host", lang, host=host["name"], count=count, scenarios=scenarios))
    return lines


def fail_message(report: Mapping[str, Any], fail_on: str, lang: str) -> str:
    threshold = severity_rank(fail_on)
    hosts = sorted(
        h["name"]
        for h in report["hosts"]
        if h["error"] or any(severity_rank(f["severity"]) >= threshold for f in h["findings"])
    )
    level = message(f"severity.{fail_on}", lang)
    return message("summary.fail_on", lang, level=level, hosts=", ".join(hosts))
