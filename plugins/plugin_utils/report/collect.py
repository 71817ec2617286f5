"""Turn what the audit role registered per host into report HostResults.

Pure: takes the plain dicts Ansible keeps as host variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .document import HostResult


def _facts_error(facts_result: Mapping[str, Any] | None) -> str | None:
    if not isinstance(facts_result, Mapping):
        return "no facts were gathered (the host did not run the audit)"
    if facts_result.get("unreachable"):
        return f"unreachable: {facts_result.get('msg', '')}".strip()
    if facts_result.get("failed") or "mssql_tls" not in (facts_result.get("ansible_facts") or {}):
        return str(facts_result.get("msg") or "facts could not be gathered")
    return None


def host_result(name: str, host_vars: Mapping[str, Any], facts_var: str, assessment_var: str) -> HostResult:
    """One host's entry: its findings, or the reason it has none."""
    facts_result = host_vars.get(facts_var)
    error = _facts_error(facts_result)
    if error is not None:
        return HostResult(name=name, error=error)
    facts = facts_result["ansible_facts"]["mssql_tls"]
    assessment = host_vars.get(assessment_var)
    if not isinstance(assessment, Mapping) or assessment.get("failed") or "findings" not in assessment:
        detail = assessment.get("msg") if isinstance(assessment, Mapping) else None
        return HostResult(name=name, error=f"assessment failed: {detail or 'no result'}")
    instances = (facts.get("sql") or {}).get("instances") or []
    return HostResult(
        name=name,
        findings=list(assessment["findings"]),
        os_build=(facts.get("os") or {}).get("version"),
        sql_instances=[{"name": i.get("name"), "version": i.get("version")} for i in instances],
    )
