"""Turn what the audit role registered per host into report HostResults.

Pure: takes the plain dicts Ansible keeps as host variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .changes import HostRun, registered_results, was_applied
from .document import HostResult


def _facts_error(facts_result: Mapping[str, Any] | None) -> str | None:
    if not isinstance(facts_result, Mapping):
        return "no facts were gathered (the host did not run the audit)"
    if facts_result.get("unreachable"):
        return f"unreachable: {facts_result.get('msg', '')}".strip()
    ansible_facts = facts_result.get("ansible_facts")
    if (
        facts_result.get("failed")
        or not isinstance(ansible_facts, Mapping)
        or "mssql_tls" not in ansible_facts
    ):
        return str(facts_result.get("msg") or "facts could not be gathered")
    if not isinstance(ansible_facts["mssql_tls"], Mapping):
        return "the facts are not mssql_tls facts (a mapping from mssql.tls.tls_facts)"
    return None


def host_result(name: str, host_vars: Mapping[str, Any], facts_var: str, assessment_var: str) -> HostResult:
    """One host's entry: its findings, or the reason it has none."""
    facts_result = host_vars.get(facts_var)
    error = _facts_error(facts_result)
    if error is not None:
        return HostResult(name=name, error=error)
    facts = facts_result["ansible_facts"]["mssql_tls"]
    assessment = host_vars.get(assessment_var)
    if (
        not isinstance(assessment, Mapping)
        or assessment.get("failed")
        or not isinstance(assessment.get("findings"), list)
        or not all(isinstance(f, Mapping) and f.get("severity") for f in assessment["findings"])
    ):
        detail = assessment.get("msg") if isinstance(assessment, Mapping) else None
        return HostResult(name=name, error=f"assessment failed: {detail or 'no result'}")
    instances = (facts.get("sql") or {}).get("instances") or []
    return HostResult(
        name=name,
        findings=list(assessment["findings"]),
        os_build=(facts.get("os") or {}).get("version"),
        sql_instances=[{"name": i.get("name"), "version": i.get("version")} for i in instances],
    )


def _facts(host_vars: Mapping[str, Any], facts_var: str) -> Mapping[str, Any]:
    result = host_vars.get(facts_var)
    ansible_facts = result.get("ansible_facts") if isinstance(result, Mapping) else None
    facts = ansible_facts.get("mssql_tls") if isinstance(ansible_facts, Mapping) else None
    return facts if isinstance(facts, Mapping) else {}


def _before_result(
    name: str, host_vars: Mapping[str, Any], facts_var: str | None, assessment_var: str
) -> HostResult:
    if facts_var is not None:
        return host_result(name, host_vars, facts_var, assessment_var)
    assessment = host_vars.get(assessment_var)
    if (
        not isinstance(assessment, Mapping)
        or assessment.get("failed")
        or not isinstance(assessment.get("findings"), list)
        or not all(isinstance(f, Mapping) and f.get("severity") for f in assessment["findings"])
    ):
        detail = assessment.get("msg") if isinstance(assessment, Mapping) else None
        return HostResult(name=name, error=f"no assessment: {detail or 'the host did not run the audit'}")
    return HostResult(name=name, findings=list(assessment["findings"]))


def host_run(
    name: str,
    host_vars: Mapping[str, Any],
    *,
    facts_var: str,
    assessment_var: str,
    before_facts_var: str | None,
    before_assessment_var: str | None,
    change_vars: list[str],
    left_play: bool,
    not_audited_after: str,
) -> tuple[HostResult, HostRun]:
    """One host of a remediation run: its audit after the run, and what the run left behind.

    The facts after the run that carry the same ``gathered_at`` as the facts before are the
    same result. When the run applied something to the host (or the host left the play), the
    host never reached the second audit, so its state after the run is unknown and
    ``not_audited_after`` says so. When nothing was applied, the audit before still describes
    the host: the playbook does not gather again for nothing (one round trip per host).
    """
    after = host_result(name, host_vars, facts_var, assessment_var)
    stamp = _facts(host_vars, facts_var).get("gathered_at")
    results = [pair for var in change_vars for pair in registered_results(var, host_vars.get(var))]
    touched = left_play or any(was_applied(result) for _var, result in results)
    if (
        before_facts_var is not None
        and stamp is not None
        and touched
        and stamp == _facts(host_vars, before_facts_var).get("gathered_at")
    ):
        after = HostResult(
            name=name, os_build=after.os_build, sql_instances=after.sql_instances, error=not_audited_after
        )
    before = (
        _before_result(name, host_vars, before_facts_var, before_assessment_var)
        if before_assessment_var is not None
        else None
    )
    run = HostRun(
        before=before,
        results=results,
        left_play=left_play,
        after_pending=_facts(host_vars, facts_var).get("pending"),
    )
    return after, run
