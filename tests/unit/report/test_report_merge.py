"""merge_reports: the reports of slices of one run make the report a single run would have written."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import CHECK_IDS
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import message
from ansible_collections.mssql.tls.plugins.plugin_utils.report.document import (
    SCENARIOS,
    HostResult,
    build_report,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.merge import MergeError, merge_reports
from ansible_collections.mssql.tls.tests.unit.report.changes_fleet import change_report, fleet
from ansible_collections.mssql.tls.tests.unit.report.changes_fleet import finding as change_finding
from hypothesis import given, settings
from hypothesis import strategies as st


def finding(fid: str, scenario: int | None, severity: str) -> dict[str, Any]:
    return {
        "id": fid,
        "scenario": scenario,
        "severity": severity,
        "title": f"title of {fid}",
        "evidence": "evidence",
        "remediation": "remediation",
        "fixable_by": None,
    }


HOSTS = [
    HostResult(
        "sql-s5",
        [
            finding("s3.dhe_suites_enabled", 3, "medium"),
            finding("s5.dhe_without_leading_zero_fix", 5, "high"),
        ],
        os_build="10.0.14393.3541",
        sql_instances=[{"name": "MSSQLSERVER", "version": "13.0.5026.0"}],
    ),
    HostResult("compliant", os_build="10.0.20348.2227"),
    HostResult("gone", error="connection refused"),
    HostResult("sql-s4", [finding("s4.weak_certificate_hash", 4, "high")], os_build="10.0.20348.1"),
    HostResult("sql-s1", [finding("s1.sql_no_common_protocol", 1, "high")], os_build="10.0.14393.1"),
    HostResult("sql-exp", [finding("certificate_expiring", None, "low")], os_build="10.0.17763.1"),
    HostResult("sql-s6", [finding("s6.login_starvation", 6, "medium")], os_build="10.0.17763.1"),
]


def audit_report(
    hosts: list[HostResult], generated_utc: str = "2026-11-30T03:00:00Z", lang: str = "en"
) -> dict:
    titles = {n: message(f"scenario.{n}", lang) for n in SCENARIOS}
    return build_report(
        hosts, checks=CHECK_IDS, scenario_titles=titles, lang=lang, generated_utc=generated_utc
    )


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_utc"}


def test_three_slices_of_an_audit_merge_into_the_single_run_report() -> None:
    whole = audit_report(HOSTS, "2026-11-30T03:10:00Z")
    slices = [
        audit_report(HOSTS[0:3], "2026-11-30T03:02:00Z"),
        audit_report(HOSTS[3:5], "2026-11-30T03:10:00Z"),
        audit_report(HOSTS[5:], "2026-11-30T03:05:00Z"),
    ]
    merged = merge_reports(slices)
    assert merged == whole  # generated_utc: the latest slice's
    assert merged["summary"]["hosts"] == 7 and merged["summary"]["unreachable"] == 1


def test_three_slices_of_a_remediation_merge_into_the_single_run_report() -> None:
    hostvars = fleet()
    names = sorted(hostvars)
    whole = change_report(hostvars)
    slices = [change_report({n: hostvars[n] for n in names[i::3]}) for i in range(3)]
    merged = merge_reports(slices)
    assert merged == whole
    assert merged["summary"]["remediation"] == whole["summary"]["remediation"]
    assert merged["summary"]["remediation"]["hosts_failed"] == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3), min_size=len(HOSTS), max_size=len(HOSTS)),
    st.permutations(range(4)),
)
def test_any_partition_in_any_order_gives_the_same_report(assignment: list[int], order: list[int]) -> None:
    slices = [[h for h, s in zip(HOSTS, assignment, strict=True) if s == k] for k in range(4)]
    reports = [audit_report(hosts) for hosts in slices if hosts]
    reports = [reports[i] for i in order if i < len(reports)]
    assert merge_reports(reports) == audit_report(HOSTS)


def test_one_report_merges_into_itself_and_a_repeated_slice_is_harmless() -> None:
    report = audit_report(HOSTS)
    assert merge_reports([report]) == report
    assert merge_reports([report, copy.deepcopy(report)]) == report


def test_generated_utc_can_be_given() -> None:
    merged = merge_reports(
        [audit_report(HOSTS[:2]), audit_report(HOSTS[2:])], generated_utc="2027-01-01T00:00:00Z"
    )
    assert merged["generated_utc"] == "2027-01-01T00:00:00Z"
    assert without_time(merged) == without_time(audit_report(HOSTS))


def test_checks_are_the_union_of_the_slices() -> None:
    older = audit_report(HOSTS[:2])
    older["checks"] = older["checks"][:-1]
    merged = merge_reports([older, audit_report(HOSTS[2:])])
    assert merged["checks"] == sorted(CHECK_IDS)


def test_slices_in_two_languages_do_not_merge() -> None:
    with pytest.raises(MergeError, match=r"report 2: field 'lang': 'ja', report 1 is 'en'"):
        merge_reports([audit_report(HOSTS[:2]), audit_report(HOSTS[2:], lang="ja")])


def test_an_audit_and_a_remediation_report_do_not_merge() -> None:
    remediation = change_report(fleet())
    with pytest.raises(MergeError, match=r"report 2: a before/after report, report 1 is an audit report"):
        merge_reports([audit_report(HOSTS), remediation])


def test_one_host_with_two_different_results_does_not_merge() -> None:
    again = audit_report([HostResult("sql-s5", [finding("s4.weak_certificate_hash", 4, "high")])])
    with pytest.raises(MergeError, match=r"report 2: host 'sql-s5' is also in an earlier report"):
        merge_reports([audit_report(HOSTS[:2]), again])


def test_an_edited_host_entry_is_refused() -> None:
    report = audit_report(HOSTS)
    next(h for h in report["hosts"] if h["name"] == "sql-s5")["scenarios"] = []
    with pytest.raises(MergeError, match="do not follow from its findings"):
        merge_reports([report])


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda r: r.update(schema_version=2), "field 'schema_version': expected 1, got 2"),
        (lambda r: r.pop("hosts"), "field 'hosts'"),
        (lambda r: r["hosts"].append({"findings": []}), "field 'hosts[7]'"),
        (lambda r: r.update(scenarios=r["scenarios"][:5]), "field 'scenarios': differs from report 1"),
    ],
)
def test_a_malformed_slice_names_the_report_and_the_field(edit, named: str) -> None:
    bad = audit_report(HOSTS)
    edit(bad)
    with pytest.raises(MergeError, match=re.escape(named)):
        merge_reports([audit_report(HOSTS[:1]), bad])


def test_nothing_to_merge_is_an_error() -> None:
    with pytest.raises(MergeError, match="at least one report"):
        merge_reports([])
    with pytest.raises(MergeError, match=r"report 1: expected a report\.json document"):
        merge_reports([["not", "a", "report"]])


def test_the_change_fleet_helpers_are_what_the_merge_is_tested_on() -> None:
    # The remediation fleet has a failed host and a pending reboot, so the merge is tested
    # on every kind of summary.remediation count.
    report = change_report(fleet())
    assert report["summary"]["remediation"]["hosts_pending_reboot"] == 1
    assert change_finding("reboot_pending")["scenario"] is None
