"""Assemble the fleet report document (docs/report-schema.md) from per-host results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..assess.findings import SEVERITIES

SCHEMA_VERSION = 1
SCENARIOS = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class HostResult:
    """What the audit learned about one host: its findings, or why it has none."""

    name: str
    findings: list[Mapping[str, Any]] = field(default_factory=list)
    os_build: str | None = None
    sql_instances: list[Mapping[str, Any]] = field(default_factory=list)
    error: str | None = None


def severity_rank(severity: str | None) -> int:
    """-1 for no severity, then info < low < medium < high."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def max_severity(findings: Iterable[Mapping[str, Any]]) -> str | None:
    worst = max((severity_rank(f.get("severity")) for f in findings), default=-1)
    return SEVERITIES[worst] if worst >= 0 else None


def host_entry(host: HostResult) -> dict[str, Any]:
    findings = sorted(
        (dict(f) for f in host.findings),
        key=lambda f: (-severity_rank(f.get("severity")), f.get("scenario") or 99, f.get("id", "")),
    )
    return {
        "name": host.name,
        "os_build": host.os_build,
        "sql_instances": [dict(i) for i in host.sql_instances],
        "scenarios": sorted({f["scenario"] for f in findings if f.get("scenario") in SCENARIOS}),
        "max_severity": max_severity(findings),
        "error": host.error,
        "findings": findings,
    }


def build_report(
    hosts: Iterable[HostResult],
    *,
    checks: Iterable[str],
    scenario_titles: Mapping[int, str],
    lang: str,
    generated_utc: str,
) -> dict[str, Any]:
    entries = sorted((host_entry(h) for h in hosts), key=lambda h: h["name"])
    by_severity = Counter(f["severity"] for h in entries for f in h["findings"])
    by_scenario = Counter(str(s) for h in entries for s in h["scenarios"])
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_utc": generated_utc,
        "lang": lang,
        "summary": {
            "hosts": len(entries),
            "hosts_with_findings": sum(1 for h in entries if h["findings"]),
            "unreachable": sum(1 for h in entries if h["error"]),
            "by_severity": {s: by_severity.get(s, 0) for s in reversed(SEVERITIES)},
            "by_scenario": {str(s): by_scenario.get(str(s), 0) for s in SCENARIOS},
        },
        "scenarios": [{"scenario": s, "title": scenario_titles[s]} for s in SCENARIOS],
        "checks": sorted(set(checks)),
        "hosts": entries,
    }


def reaches_fail_level(report: Mapping[str, Any], fail_on: str) -> bool:
    """True when any finding (or an unreachable or failed host) is at or above `fail_on` (none = never)."""
    if fail_on == "none":
        return False
    threshold = severity_rank(fail_on)
    return any(h["error"] or h.get("failed") for h in report["hosts"]) or any(
        severity_rank(f["severity"]) >= threshold for h in report["hosts"] for f in h["findings"]
    )
