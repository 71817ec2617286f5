"""A remediation run as Ansible leaves it in hostvars: the audit before (kept by set_fact), the fix,
reboot and restart results in the order they ran, and the audit after (the same variable names).

Shared by tests/unit/report/test_report_changes.py and the Chromium test
(tests/integration/test_report_changes_browser.py); the shapes are those of
``plan.result.module_result``, ``mssql.tls.reboot`` and ``mssql.tls.tls_facts``.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import CHECK_IDS
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import message
from ansible_collections.mssql.tls.plugins.plugin_utils.report.changes import add_changes
from ansible_collections.mssql.tls.plugins.plugin_utils.report.collect import host_run
from ansible_collections.mssql.tls.plugins.plugin_utils.report.document import SCENARIOS, build_report

SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
CIPHERS = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002"
CHANGE_VARS = ("tls12_result", "cipher_suites_result", "weak_certificates_result", "mssql_tls_reboot_result")

# finding id -> (scenario, severity, fixable_by)
RULES = {
    "s1.sql_no_common_protocol": (1, "high", "tls12"),
    "s2.no_common_cipher_suite": (2, "high", "cipher_suites"),
    "s3.dhe_suites_enabled": (3, "medium", "cipher_suites"),
    "s4.weak_certificate_hash": (4, "high", "weak_certificates"),
    "s5.dhe_without_leading_zero_fix": (5, "high", "cipher_suites"),
    "reboot_pending": (None, "medium", None),
    "sql_restart_pending_certificate": (None, "low", "sql_restart"),
}


_RULE = object()


def finding(fid: str, title: str | None = None, fixable_by: Any = _RULE, **data: Any) -> dict[str, Any]:
    scenario, severity, rule_fixer = RULES[fid]
    fixable_by = rule_fixer if fixable_by is _RULE else fixable_by
    return {
        "id": fid,
        "scenario": scenario,
        "severity": severity,
        "title": title or f"title of {fid}",
        "evidence": f"evidence of {fid}",
        "remediation": f"remediation of {fid}",
        "fixable_by": fixable_by,
        "target": None,
        "data": data,
    }


def facts_result(gathered_at: str, pending_reboot: bool = False) -> dict[str, Any]:
    return {
        "changed": False,
        "ansible_facts": {
            "mssql_tls": {
                "schema_version": 1,
                "gathered_at": gathered_at,
                "os": {"version": "10.0.14393.3541"},
                "sql": {"instances": [{"name": "MSSQLSERVER", "version": "13.0.5026.0"}]},
                "pending": {"read": True, "reboot": pending_reboot, "reboot_records": []},
            }
        },
    }


def assessment(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"changed": False, "findings": list(findings)}


def change(target: str, before: Any, after: Any, activation: str, *instances: str) -> dict[str, Any]:
    out = {"target": target, "before": before, "after": after, "activation": activation}
    if instances:
        out["instances"] = list(instances)
    return out


def blocker(code: str, target: str, *, unfixable: bool = False, forced: bool = False, **data: Any) -> dict:
    return {
        "code": code,
        "target": target,
        "data": data,
        "clears_with": "KB3135244: SQL Server 2014 SP1 CU5 (12.0.4439.1)",
        "forced": forced,
        "unfixable": unfixable,
        "message": f"module text for {code}",
    }


def fix_result(
    concern: str,
    changes: list[dict[str, Any]],
    *,
    journal_id: str | None = "20261130T031500Z-0a1b2c-1",
    blocked: list[dict[str, Any]] = (),
    failed: str | None = None,
) -> dict[str, Any]:
    activations = [
        a for a in ("reboot", "immediate", "service_restart") if any(c["activation"] == a for c in changes)
    ]
    instances = sorted({i for c in changes for i in c.get("instances", [])})
    applied = bool(changes) and journal_id is not None
    result = {
        "changed": bool(changes),
        "plan": {
            "concern": concern,
            "changes": changes,
            "ops": [],
            "activations": activations,
            "restart_instances": instances,
            "blocked": list(blocked),
            "warnings": [],
            "forced": any(b["forced"] for b in blocked),
        },
        "run_id": "20261130T031500Z-0a1b2c",
        "journal_id": journal_id if applied else None,
        "journal_ids": [journal_id] if applied else [],
        "reboot_required": "reboot" in activations,
        "restart_required": bool(instances),
        "restart_instances": instances,
        "activations": activations,
        "blocked": list(blocked),
        "forced": any(b["forced"] for b in blocked),
        "gathered": False,
        "msg": failed or f"{len(changes)} change(s) applied",
    }
    if failed:
        result["failed"] = True
    return result


SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


def fleet(hostile: str | None = None) -> dict[str, dict[str, Any]]:
    """Seven hosts, one per kind of before/after cell (and a hostile string where asked)."""
    before, after = "2026-11-30T03:00:00Z", "2026-11-30T03:40:00Z"
    dhe = ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]
    evil = hostile or "x"

    def host(before_findings, after_findings, *, stale=False, pending_reboot=False, **results):
        return {
            "mssql_tls_before_facts": facts_result(before),
            "mssql_tls_before_assessment": assessment(*before_findings),
            "audit_facts_result": facts_result(before if stale else after, pending_reboot),
            "audit_assessment": assessment(*(before_findings if stale else after_findings)),
            **results,
        }

    return {
        # S3 and S5 removed from the Local list (immediate): fixed
        "sql-fixed": host(
            [finding("s3.dhe_suites_enabled"), finding("s5.dhe_without_leading_zero_fix")],
            [],
            tls12_result=fix_result("tls12", [], journal_id=None),
            cipher_suites_result=fix_result(
                "cipher_suites", [change(CIPHERS, [*dhe, "TLS_AES_256"], ["TLS_AES_256"], "immediate")]
            ),
            weak_certificates_result=SKIPPED,
        ),
        # S1 fixed in the registry, the reboot outside the window: pending
        "sql-reboot": host(
            [finding("s1.sql_no_common_protocol")],
            [finding("reboot_pending")],
            pending_reboot=True,
            tls12_result=fix_result(
                "tls12",
                [
                    change(f"{SCHANNEL}\\Protocols\\TLS 1.2\\Server\\Enabled", 0, 1, "reboot"),
                    change(f"{SCHANNEL}\\Protocols\\TLS 1.2\\Server\\DisabledByDefault", None, 0, "reboot"),
                ],
            ),
            mssql_tls_reboot_result={"changed": False, "rebooted": False, "pending": True, "msg": "outside"},
        ),
        # S1 on a SQL build without TLS 1.2, TLS 1.0 already off: the gate names the upgrade
        # (the finding says so too: its remediation is the upgrade, fixable_by none)
        "sql-blocked": host(
            [finding("s1.sql_no_common_protocol", fixable_by=None)],
            [finding("s1.sql_no_common_protocol", fixable_by=None)],
            tls12_result=fix_result(
                "tls12",
                [],
                journal_id=None,
                blocked=[
                    blocker(
                        "sql_build_without_tls12",
                        f"{SCHANNEL}\\Protocols\\TLS 1.0\\Server\\Enabled",
                        unfixable=True,
                        instance="MSSQLSERVER",
                        version="12.0.4416.0",
                    )
                ],
            ),
        ),
        # the certificate fix failed and the host left the play before the audit after
        "sql-failed": host(
            [finding("s4.weak_certificate_hash")],
            [],
            stale=True,
            tls12_result=fix_result("tls12", [], journal_id=None),
            weak_certificates_result=fix_result(
                "certificate_purpose", [], journal_id=None, failed=f"agent: connection reset {evil}"
            ),
        ),
        # the binding cleared, SQL Server not restarted yet: pending restart
        "sql-restart": host(
            [finding("s4.weak_certificate_hash")],
            [finding("sql_restart_pending_certificate", instance="MSSQLSERVER")],
            weak_certificates_result=fix_result(
                "sql_encryption",
                [
                    change(
                        "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL13.MSSQLSERVER\\"
                        "MSSQLServer\\SuperSocketNetLib\\Certificate",
                        f"0a1b{evil}",
                        "",
                        "service_restart",
                        "MSSQLSERVER",
                    )
                ],
            ),
        ),
        # a scenario the run did not have before (a regression)
        "sql-new": host(
            [],
            [finding("s2.no_common_cipher_suite")],
            cipher_suites_result=fix_result("cipher_suites", [change(CIPHERS, dhe, [], "immediate")]),
        ),
        "sql-clean": host([], [], tls12_result=fix_result("tls12", [], journal_id=None)),
    }


EXPECTED_STATES = {
    "sql-fixed": {"3": "fixed", "5": "fixed"},
    "sql-reboot": {"1": "pending"},
    "sql-blocked": {"1": "blocked"},
    "sql-failed": {str(s): "unknown" for s in SCENARIOS},
    "sql-restart": {"4": "pending"},
    "sql-new": {"2": "new"},
    "sql-clean": {},
}


def expected_state(host: str, scenario: int) -> str:
    return EXPECTED_STATES[host].get(str(scenario), "clean")


def change_report(
    hostvars: dict[str, dict[str, Any]],
    lang: str = "en",
    *,
    left_play: tuple[str, ...] = ("sql-failed",),
    change_vars: tuple[str, ...] | list[str] = CHANGE_VARS,
) -> dict[str, Any]:
    """What mssql.tls.audit_report builds from these hostvars (its action plugin, without Ansible)."""

    def text(key: str, **params: Any) -> str:
        return message(key, lang, **params)

    hosts, runs = [], {}
    for name, host_vars in hostvars.items():
        after, runs[name] = host_run(
            name,
            host_vars,
            facts_var="audit_facts_result",
            assessment_var="audit_assessment",
            before_facts_var="mssql_tls_before_facts",
            before_assessment_var="mssql_tls_before_assessment",
            change_vars=list(change_vars),
            left_play=name in left_play,
            not_audited_after=text("report.change.not_audited_after"),
        )
        hosts.append(after)
    titles = {n: message(f"scenario.{n}", lang) for n in SCENARIOS}
    report = build_report(
        hosts, checks=CHECK_IDS, scenario_titles=titles, lang=lang, generated_utc="2026-11-30T03:45:00Z"
    )
    return add_changes(report, runs, lang, text)


def text_of(lang: str):
    def text(key: str, **params: Any) -> str:
        return message(key, lang, **params)

    return text
