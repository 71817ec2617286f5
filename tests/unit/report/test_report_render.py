from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import assess
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import CHECK_IDS
from ansible_collections.mssql.tls.plugins.plugin_utils.report.document import (
    HostResult,
    build_report,
    reaches_fail_level,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.html_report import render_html
from ansible_collections.mssql.tls.plugins.plugin_utils.report.junit import render_junit
from ansible_collections.mssql.tls.plugins.plugin_utils.report.markdown import render_markdown
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    SELF_GENERATED_LINE,
    compliant_2022_host,
    facts_of,
    login_error_lines,
)

TITLES = {s: f"Scenario {s}" for s in range(1, 7)}
CHECKS = ["s3.dhe_enabled", "s5.dhe_leading_zero", "cert.sha1", "s4.weak_hash"]


def finding(fid: str, scenario: int | None, severity: str, title: str = "t") -> dict:
    return {
        "id": fid,
        "scenario": scenario,
        "severity": severity,
        "title": title,
        "evidence": "ev",
        "remediation": "fix",
        "fixable_by": "cipher_suites",
    }


@pytest.fixture
def report() -> dict:
    hosts = [
        HostResult(
            "sql-s5",
            [
                finding("s3.dhe_enabled", 3, "high"),
                finding("s5.dhe_leading_zero", 5, "high"),
                finding("cert.sha1", None, "low"),
            ],
            os_build="10.0.14393.3541",
            sql_instances=[{"name": "MSSQLSERVER", "version": "13.0.5026.0"}],
        ),
        HostResult("compliant"),
        HostResult("gone", error="connection refused"),
    ]
    return build_report(
        hosts, checks=CHECKS, scenario_titles=TITLES, lang="en", generated_utc="2026-11-30T03:00:00Z"
    )


def test_document_summarises_scenarios_and_severities(report: dict) -> None:
    assert [h["name"] for h in report["hosts"]] == ["compliant", "gone", "sql-s5"]
    s5 = report["hosts"][2]
    assert s5["scenarios"] == [3, 5]
    assert s5["max_severity"] == "high"
    assert [f["severity"] for f in s5["findings"]] == ["high", "high", "low"]
    assert report["summary"]["by_scenario"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1, "6": 0}
    assert report["summary"]["unreachable"] == 1
    assert report["hosts"][0]["max_severity"] is None


@pytest.mark.parametrize(
    ("fail_on", "expected"), [("none", False), ("high", True), ("medium", True), ("low", True)]
)
def test_fail_level_counts_unreachable_hosts_and_findings(report: dict, fail_on: str, expected: bool) -> None:
    assert reaches_fail_level(report, fail_on) is expected


def test_fail_level_ignores_findings_below_threshold() -> None:
    only_low = build_report(
        [HostResult("a", [finding("cert.sha1", None, "low")])],
        checks=CHECKS,
        scenario_titles=TITLES,
        lang="en",
        generated_utc="x",
    )
    assert not reaches_fail_level(only_low, "medium")
    assert reaches_fail_level(only_low, "low")


def test_junit_has_one_testcase_per_host_and_check(report: dict) -> None:
    root = ET.fromstring(render_junit(report))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(CHECKS) * 3
    s5 = root.find("./testsuite[@name='sql-s5']")
    assert s5.get("failures") == "3"
    failed = {c.get("name") for c in s5.findall("testcase") if c.find("failure") is not None}
    assert failed == {"s3.dhe_enabled", "s5.dhe_leading_zero", "cert.sha1"}
    assert root.find("./testsuite[@name='gone']").get("errors") == str(len(CHECKS))
    assert root.find("./testsuite[@name='compliant']").get("failures") == "0"


def test_markdown_matrix_marks_scenarios_per_host(report: dict) -> None:
    md = render_markdown(report, lambda key, **params: key)
    row = next(line for line in md.splitlines() if line.startswith("| sql-s5 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["sql-s5", "✓", "✓", "✗", "✓", "✗", "✓", "1"]
    assert "report.no_findings" in md


def test_html_is_self_contained_and_escapes_hostile_text() -> None:
    hostile = finding("cert.sha1", None, "low", title='<script>alert("x")</script>')
    doc = build_report(
        [HostResult('evil"<host>', [hostile])],
        checks=CHECKS,
        scenario_titles=TITLES,
        lang="ja",
        generated_utc="x",
    )
    page = render_html(doc, lambda key, **params: key)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert '<html lang="ja">' in page
    assert "http://" not in page and "https://" not in page
    assert page.count('<table class="matrix"') == 1


def test_a_latent_weak_candidate_and_10054_login_errors_are_counted_as_other_never_as_a_scenario() -> None:
    # SQL 2022 that loaded its self-generated certificate, a SHA512 one it could pick,
    # and 17830 lines mostly enqueued.
    host = compliant_2022_host()
    host.instances[0].certificate = ""
    host.instances[0].errorlog = [SELF_GENERATED_LINE, *login_error_lines(15000, 14990, 0)]
    host.certificates = [cert_entry(make_cert(hash_name="sha512"))]
    found = assess(facts_of(host))
    assert sorted(f["id"] for f in found) == ["login_errors_10054", "weak_certificate_auto_pick_candidate"]
    doc = build_report(
        [HostResult("latent", found)], checks=CHECK_IDS, scenario_titles=TITLES, lang="en", generated_utc="x"
    )
    (entry,) = doc["hosts"]
    assert entry["scenarios"] == [] and entry["max_severity"] == "medium"
    assert doc["summary"]["by_scenario"] == {str(s): 0 for s in range(1, 7)}
    md = render_markdown(doc, lambda key, **params: key)
    row = next(line for line in md.splitlines() if line.startswith("| latent |"))
    assert [c.strip() for c in row.strip("|").split("|")] == ["latent", *["✓"] * 6, "2"]
    assert "| - |" in md  # the findings table shows no scenario for them
    html = render_html(doc, lambda key, **params: key)
    assert "✗" not in html and "S4 · " not in html and "S6 · " not in html
    failed = ET.fromstring(render_junit(doc)).findall(".//testcase[failure]")
    assert sorted(c.get("name") for c in failed) == [
        "login_errors_10054",
        "weak_certificate_auto_pick_candidate",
    ]
