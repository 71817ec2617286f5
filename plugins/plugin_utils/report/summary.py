"""The end-of-play summary and the fail_on refusal, in the report's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n.catalog import message
from .changes import is_change_report
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
    if is_change_report(report):
        lines += _change_lines(report, lang)
    for host in report["hosts"]:
        if host.get("failed"):
            lines.append(
                message("summary.host_failed", lang, host=host["name"], reason=host["failed"]["reason"])
            )
        elif host["error"]:
            lines.append(message("summary.host_unreachable", lang, host=host["name"], error=host["error"]))
        elif host["findings"]:
            scenarios = ", ".join(f"S{s}" for s in host["scenarios"]) or "-"
            count = len(host["findings"])
            lines.append(message("summary.host", lang, host=host["name"], count=count, scenarios=scenarios))
    return lines


def _change_lines(report: Mapping[str, Any], lang: str) -> list[str]:
    counts = report["summary"]["remediation"]
    lines = [
        message(
            "summary.remediation",
            lang,
            fixed=counts["hosts_fixed"],
            remaining=counts["hosts_with_scenarios_after"],
            reboot=counts["hosts_pending_reboot"],
            restart=counts["hosts_pending_restart"],
            blocked=counts["blocked"],
            failed=counts["hosts_failed"],
        )
    ]
    for host in report["hosts"]:
        before = host["before"]
        if (
            before is None
            or before["error"]
            or host["error"]
            or not (before["scenarios"] or host["scenarios"])
        ):
            continue
        lines.append(
            message(
                "summary.host_change",
                lang,
                host=host["name"],
                before=", ".join(f"S{s}" for s in before["scenarios"]) or "-",
                after=", ".join(f"S{s}" for s in host["scenarios"]) or "-",
            )
        )
    return lines


def fail_message(report: Mapping[str, Any], fail_on: str, lang: str) -> str:
    threshold = severity_rank(fail_on)
    hosts = sorted(
        h["name"]
        for h in report["hosts"]
        if h["error"]
        or h.get("failed")
        or any(severity_rank(f["severity"]) >= threshold for f in h["findings"])
    )
    level = message(f"severity.{fail_on}", lang)
    return message("summary.fail_on", lang, level=level, hosts=", ".join(hosts))
