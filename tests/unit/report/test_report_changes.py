"""The before/after report of a remediation run: the document, its four renderings, the action plugin.

The fleet (changes_fleet.py) has one host per kind of cell: fixed, fixed but waiting for its
reboot, fixed but waiting for its SQL Server restart, still there because the gate refused,
new since the run, a host whose fix failed, and a clean one.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.audit_report import ActionModule
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult, OpResult
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, catalog
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.apply import Applied, Outcome
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.model import (
    Blocker,
    Change,
    Plan,
    PlannedOp,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.result import module_result
from ansible_collections.mssql.tls.plugins.plugin_utils.report import changes as changes_module
from ansible_collections.mssql.tls.plugins.plugin_utils.report.changes import (
    HostRun,
    add_changes,
    change_entry,
    is_change_report,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.document import (
    HostResult,
    build_report,
    reaches_fail_level,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.report.html_report import render_html
from ansible_collections.mssql.tls.plugins.plugin_utils.report.junit import render_junit
from ansible_collections.mssql.tls.plugins.plugin_utils.report.markdown import render_markdown
from ansible_collections.mssql.tls.plugins.plugin_utils.report.summary import fail_message, summary_lines
from ansible_collections.mssql.tls.tests.unit.report.changes_fleet import (
    CHANGE_VARS,
    SCHANNEL,
    SKIPPED,
    blocker,
    change,
    change_report,
    expected_state,
    facts_result,
    finding,
    fix_result,
    fleet,
    text_of,
)

HOSTILE = '<script>alert("x")</script>|`tick`\x07'
REPORT_DIR = Path(changes_module.__file__).parent


@pytest.fixture(scope="module")
def report() -> dict:
    return change_report(fleet())


def host(report: dict, name: str) -> dict:
    return next(h for h in report["hosts"] if h["name"] == name)


# --- the document -------------------------------------------------------------------------------


def test_each_cell_says_how_the_scenario_moved_between_the_two_audits(report: dict) -> None:
    for entry in report["hosts"]:
        assert entry["scenario_states"] == {str(s): expected_state(entry["name"], s) for s in range(1, 7)}, (
            entry["name"]
        )


def test_the_fleet_counts_fixed_pending_blocked_and_failed_hosts(report: dict) -> None:
    counts = report["summary"]["remediation"]
    assert counts == {
        "hosts_with_scenarios_before": 5,
        # sql-reboot and sql-restart are fixed in their configuration only: pending, not fixed
        "hosts_fixed": 1,
        "hosts_with_scenarios_after": 2,
        "hosts_changed": 4,
        "hosts_pending_reboot": 1,
        "hosts_pending_restart": 1,
        "hosts_failed": 1,
        "blocked": 1,
        "forced": 0,
        "by_state": {
            "clean": 30,
            "fixed": 2,
            "pending": 2,
            "remaining": 0,
            "blocked": 1,
            "new": 1,
            "unknown": 6,
        },
    }
    assert report["schema_version"] == 1


def test_a_host_whose_fix_failed_is_named_with_the_task_and_reason_and_not_audited_after(report) -> None:
    failed = host(report, "sql-failed")
    assert failed["failed"] == {"var": "weak_certificates_result", "reason": "agent: connection reset x"}
    # its facts "after" are the ones gathered before: it never reached the second audit
    assert failed["error"].startswith("not audited after the run")
    assert failed["before"]["scenarios"] == [4] and failed["findings"] == []
    assert failed["os_build"] == "10.0.14393.3541"


def test_a_steady_host_keeps_its_audit_before_as_its_audit_after() -> None:
    # Nothing to fix: the playbook does not gather again, the facts after are the ones before.
    before = {"gathered_at": "2026-11-30T03:00:00Z"}
    facts = {"ansible_facts": {"mssql_tls": {**before, "os": {"version": "10.0.20348.2700"}, "sql": {}}}}
    steady = {
        "mssql_tls_before_facts": facts,
        "mssql_tls_before_assessment": {"findings": []},
        "audit_facts_result": facts,
        "audit_assessment": {"findings": []},
        "tls12_result": {"changed": False, "plan": {"concern": "tls12", "changes": []}, "journal_id": None},
    }
    (entry,) = change_report({"sql-steady": steady}, left_play=())["hosts"]
    assert entry["error"] is None and entry["failed"] is None
    # ... but the same stale facts after a change that was applied mean the audit after never ran
    tls12 = {**steady["tls12_result"], "changed": True, "journal_id": "r.tls12.1"}
    applied = {**steady, "tls12_result": tls12}
    (entry,) = change_report({"sql-steady": applied}, left_play=())["hosts"]
    assert entry["error"].startswith("not audited after the run")


def test_a_host_that_left_the_play_without_a_failed_result_is_failed_with_a_generic_reason() -> None:
    hostvars = fleet()
    doc = change_report({"sql-clean": hostvars["sql-clean"]}, left_play=("sql-clean",))
    assert doc["hosts"][0]["failed"] == {
        "var": None,
        "reason": "the host left the play after a failed or unreachable task",
    }
    assert doc["summary"]["remediation"]["hosts_failed"] == 1


def test_each_change_keeps_its_target_values_activation_and_journal(report: dict) -> None:
    (tls12,) = [e for e in host(report, "sql-reboot")["changes"] if e["var"] == "tls12_result"]
    assert tls12["kind"] == "fix" and tls12["concern"] == "tls12" and tls12["applied"]
    assert tls12["journal_id"] == "20261130T031500Z-0a1b2c-1"
    assert tls12["changes"][1] == {
        "target": f"{SCHANNEL}\\Protocols\\TLS 1.2\\Server\\DisabledByDefault",
        "before": None,
        "after": 0,
        "activation": "reboot",
    }
    reboot = host(report, "sql-reboot")["changes"][-1]
    assert reboot["kind"] == "reboot" and reboot["pending"] and not reboot["rebooted"]


def test_skipped_and_undefined_results_are_left_out_and_a_loop_counts_item_by_item() -> None:
    hostvars = fleet()
    fixed = hostvars["sql-fixed"]
    fixed["weak_certificates_result"] = SKIPPED
    fixed["loop_result"] = {
        "changed": True,
        "msg": "All items completed",
        "results": [SKIPPED, fix_result("cipher_suites", [change("k", 1, 0, "immediate")])],
    }
    doc = change_report({"sql-fixed": fixed}, change_vars=[*CHANGE_VARS, "loop_result", "never_set"])
    assert [e["var"] for e in doc["hosts"][0]["changes"]] == [
        "tls12_result",
        "cipher_suites_result",
        "loop_result[1]",
    ]


def test_a_blocker_is_shown_in_the_reports_language_and_marked_unfixable() -> None:
    doc = change_report(fleet(), "ja")
    (blocked,) = host(doc, "sql-blocked")["blocked"]
    assert blocked["unfixable"] and not blocked["forced"] and blocked["var"] == "tls12_result"
    # the module spoke English ("module text for ..."); the report re-renders it from the catalog
    assert "この修正では解消できません" in blocked["message"] and "12.0.4439.1" in blocked["message"]


def test_an_unknown_blocker_code_keeps_the_modules_message() -> None:
    result = fix_result("tls12", [], journal_id=None, blocked=[blocker("not_in_catalog", "t")])
    entry = change_entry("tls12_result", result, "en")
    assert entry["blocked"][0]["message"] == "module text for not_in_catalog"


def test_the_same_blocker_from_two_results_is_listed_once() -> None:
    hostvars = fleet()
    blocked = hostvars["sql-blocked"]
    blocked["tls12_again"] = blocked["tls12_result"]
    doc = change_report({"sql-blocked": blocked}, change_vars=[*CHANGE_VARS, "tls12_again"])
    assert len(doc["hosts"][0]["blocked"]) == 1


def run_of(*results, pending=None) -> HostRun:
    return HostRun(before=HostResult("h"), results=list(results), after_pending=pending)


def pending_of(run: HostRun, findings=()) -> dict:
    titles = {s: f"S{s}" for s in range(1, 7)}
    doc = build_report(
        [HostResult("h", list(findings))], checks=[], scenario_titles=titles, lang="en", generated_utc="x"
    )
    return add_changes(doc, {"h": run}, "en", text_of("en"))["hosts"][0]["pending"]


REBOOT_FIX = fix_result("tls12", [change("k", 0, 1, "reboot")])
RESTART_FIX = fix_result("sql_encryption", [change("c", "ab", "", "service_restart", "MSSQLSERVER", "SQL2")])


def test_a_reboot_is_pending_until_a_later_result_rebooted_the_host() -> None:
    assert pending_of(run_of(("tls12_result", REBOOT_FIX)))["reboot"] is True
    rebooted = {"changed": True, "rebooted": True, "pending": False, "boot_utc": "2026-11-30T03:30:00Z"}
    assert pending_of(run_of(("tls12_result", REBOOT_FIX), ("reboot", rebooted)))["reboot"] is False
    deferred = {"changed": False, "rebooted": False, "pending": True}
    assert pending_of(run_of(("tls12_result", REBOOT_FIX), ("reboot", deferred)))["reboot"] is True


def test_the_facts_after_the_run_decide_about_the_reboot_when_they_were_read() -> None:
    run = run_of(("tls12_result", REBOOT_FIX), pending={"read": True, "reboot": False})
    assert pending_of(run)["reboot"] is False
    run = run_of(pending={"read": True, "reboot": True})
    assert pending_of(run)["reboot"] is True
    assert pending_of(run_of(), [finding("reboot_pending")])["reboot"] is True


def test_restarts_are_pending_for_the_instances_no_later_restart_covered() -> None:
    assert pending_of(run_of(("w", RESTART_FIX)))["restart_instances"] == ["MSSQLSERVER", "SQL2"]
    one = {"changed": True, "restarted": ["MSSQLSERVER"], "pending": []}
    assert pending_of(run_of(("w", RESTART_FIX), ("r", one)))["restart_instances"] == ["SQL2"]
    every = {"changed": True, "restarted": True, "pending": False}
    assert pending_of(run_of(("w", RESTART_FIX), ("r", every)))["restart_instances"] == []
    deferred = {"changed": False, "restarted": [], "pending": [{"instance": "SQL3"}]}
    assert pending_of(run_of(("r", deferred)))["restart_instances"] == ["SQL3"]
    cert = finding("sql_restart_pending_certificate", instance="SQL4")
    assert pending_of(run_of(), [cert])["restart_instances"] == ["SQL4"]


def test_planned_changes_of_a_check_mode_run_are_not_applied_and_activate_nothing() -> None:
    planned = fix_result("tls12", [change("k", 0, 1, "reboot")], journal_id=None)
    entry = change_entry("tls12_result", planned, "en")
    assert entry["changed"] and not entry["applied"]
    assert pending_of(run_of(("tls12_result", planned)))["reboot"] is False


def test_the_fix_modules_own_result_reads_as_a_change() -> None:
    """plan.result.module_result, applied and in check mode, is what change_entry reads."""
    op = PlannedOp(
        op={"op": "reg.write"},
        change=Change(f"{SCHANNEL}\\Protocols\\TLS 1.0\\Server\\Enabled", None, 0, "reboot"),
        target={"kind": "reg_value", "path": "p", "name": "Enabled"},
        before=None,
        after={"type": "REG_DWORD", "data": 0},
    )
    refused = Blocker(
        "driver_without_tls12",
        "client",
        {"driver": "SQLNCLI11", "versions": ["11.0.2100.60"]},
        clears_with="SNAC 11.4.7001.0",
    )
    plan = Plan("tls12", (op,), (refused,))
    applied = Outcome(plan, {}, [Applied("j-1", plan, BatchResult([OpResult("reg.write", True)], "j-1"))])
    for outcome, check_mode in ((applied, False), (Outcome(plan, {}), True)):
        result = module_result(
            outcome, check_mode=check_mode, diff=False, lang="en", run_id="r", gathered=False
        )
        entry = change_entry("tls12_result", json.loads(json.dumps(result)), "en")
        assert entry["applied"] is (not check_mode) and entry["changed"]
        assert entry["changes"] == [
            {"target": op.change.target, "before": None, "after": 0, "activation": "reboot"}
        ]
        assert entry["reboot_required"] is True and entry["activations"] == ["reboot"]
        assert entry["blocked"][0]["message"] == result["blocked"][0]["message"]
        assert "SNAC 11.4.7001.0" in entry["blocked"][0]["message"]


def test_without_the_new_arguments_the_document_is_todays_audit_report() -> None:
    titles = {s: f"S{s}" for s in range(1, 7)}
    doc = build_report([HostResult("a")], checks=["c"], scenario_titles=titles, lang="en", generated_utc="x")
    assert not is_change_report(doc)
    assert set(doc["hosts"][0]) == {
        "name",
        "os_build",
        "sql_instances",
        "scenarios",
        "max_severity",
        "error",
        "findings",
    }
    assert set(doc["summary"]) == {
        "hosts",
        "hosts_with_findings",
        "unreachable",
        "by_severity",
        "by_scenario",
    }
    assert "mssql.tls audit" in render_junit(doc)


# --- the renderings -----------------------------------------------------------------------------


def test_html_has_one_before_after_row_per_host_with_the_state_classes(report: dict) -> None:
    page = render_html(report, text_of("en"))
    table = page[
        page.index('<table class="before-after"') : page.index("</table>", page.index("before-after"))
    ]
    rows = re.findall(r'<tr class="host-row"><th><a href="#changes-([^"]+)">.*?</tr>', table)
    assert rows == sorted(fleet())
    for name in fleet():
        row = re.search(rf'<tr class="host-row"><th><a href="#changes-{name}">.*?</tr>', table)[0]
        classes = re.findall(r'<td class="cell st-(\w+)"', row)
        assert classes == [expected_state(name, s) for s in range(1, 7)], name
    assert '<td class="cell st-fixed" title="fixed">✗→✓</td>' in table
    assert '<td class="cell st-new" title="new since the run">✓→✗</td>' in table
    assert "✗→?" in table  # the failed host, not audited after
    assert page.count('<section class="host-changes"') == len(fleet())
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "report.change" not in page


def test_html_names_pending_reboots_restarts_blockers_and_the_failed_host(report: dict) -> None:
    page = render_html(report, text_of("en"))
    assert "Reboot pending: the changes take effect at the next reboot." in page
    assert "SQL Server restart pending: MSSQLSERVER" in page
    assert '<div class="blocker unfixable">' in page and "This fix cannot remove it" in page
    assert "The host failed in weak_certificates_result: agent: connection reset x" in page
    assert "2 change(s) applied (journal record 20261130T031500Z-0a1b2c-1)" in page
    assert "not rebooted: outside the change window" in page
    # the failed host is not "compliant" in the matrix after the run
    after = page[page.index('<table class="matrix"') :]
    row = re.search(r'<a href="#host-sql-failed">.*?</tr>', after)[0]
    assert "Compliant" not in row and "unreachable" in row


@pytest.mark.parametrize("lang", LANGUAGES)
def test_hostile_strings_in_targets_values_and_messages_render_as_text(lang: str) -> None:
    hostvars = fleet(HOSTILE)
    hostvars["sql-blocked"]["tls12_result"]["plan"]["blocked"][0]["data"]["instance"] = HOSTILE
    hostvars[HOSTILE] = hostvars.pop("sql-clean")
    doc = change_report(hostvars, lang, left_play=(HOSTILE, "sql-failed"))
    text = text_of(lang)
    page = render_html(doc, text)
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    md = render_markdown(doc, text)
    # outside code spans (where it is literal text) every "<" is escaped
    outside_code = re.sub(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", "", md)
    assert not re.search(r"(?<!\\)<script", outside_code) and "\\<script\\>" in md
    assert '``0a1b<script>alert("x")</script>\\|`tick`\x07``' in md
    # every table row keeps its column count: pipes and backticks in values are escaped
    for line in md.splitlines():
        if line.startswith("| ") and "---" not in line:
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            assert len(cells) in (4, 5, 8), line
    root = ET.fromstring(render_junit(doc, text).encode())  # control characters made XML-safe
    safe = HOSTILE.replace("\x07", "\ufffd")
    assert f"{safe} remediation" in {suite.get("name") for suite in root.findall("testsuite")}
    assert json.loads(json.dumps(doc, ensure_ascii=False))["hosts"]


def test_markdown_has_the_matrix_and_each_hosts_changes(report: dict) -> None:
    md = render_markdown(report, text_of("en"))
    row = next(line for line in md.splitlines() if line.startswith("| sql-reboot |"))
    assert [c.strip() for c in row.strip("|").split("|")] == [
        "sql-reboot",
        "✗→✓ pending",
        *["✓→✓"] * 5,
        "reboot pending",
    ]
    row = next(line for line in md.splitlines() if line.startswith("| sql-blocked |"))
    assert "✗→✗ blocked" in row and "1 blocked" in row
    assert "## Before and after" in md and "## Changes per host" in md
    assert (
        "| `HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2" in md
    )
    assert "- **The host failed in weak_certificates_result: agent: connection reset x**" in md


def test_junit_adds_a_remediation_suite_per_host(report: dict) -> None:
    root = ET.fromstring(render_junit(report, text_of("en")))
    assert root.get("name") == "mssql.tls remediation"

    def suite(name: str) -> ET.Element:
        return root.find(f"./testsuite[@name='{name} remediation']")

    assert len(root.findall("./testsuite")) == 2 * len(fleet())
    fixed = suite("sql-fixed")
    assert (fixed.get("tests"), fixed.get("failures"), fixed.get("errors"), fixed.get("skipped")) == (
        "2",
        "0",
        "0",
        "0",
    )
    failure = suite("sql-new").find("./testcase[@name='remediation']/failure")
    assert failure.get("message") == "Scenarios still present after the run: S2"
    blocked = suite("sql-blocked")
    assert blocked.find("./testcase[@name='remediation']/failure") is not None
    (case,) = [c for c in blocked.findall("testcase") if c.get("name").startswith("blocked ")]
    assert case.get("name").startswith("blocked sql_build_without_tls12 HKLM\\")
    assert case.find("skipped").get("type") == "unfixable"
    error = suite("sql-failed").find("./testcase[@name='remediation']/error")
    assert error.get("message") == "The host failed in weak_certificates_result: agent: connection reset x"
    skipped = suite("sql-reboot").find("./testcase[@name='activation']/skipped")
    assert skipped.get("message").startswith("Reboot pending")
    assert suite("sql-restart").get("skipped") == "1"
    # the checks of today's report stay, against the audit after the run
    assert root.find("./testsuite[@name='sql-new']").get("failures") == "1"
    with pytest.raises(ValueError, match="text"):
        render_junit(report)


def test_summary_lines_and_fail_on_name_the_failed_host(report: dict) -> None:
    lines = summary_lines(report, "en")
    assert lines[1] == (
        "Remediation: 1 host(s) fixed, 2 still with scenarios, 1 awaiting a reboot, "
        "1 awaiting a SQL Server restart, 1 item(s) blocked, 1 host(s) failed."
    )
    assert "sql-fixed: scenarios before S3, S5, after -" in lines
    assert "sql-failed: failed: agent: connection reset x" in lines
    assert reaches_fail_level(report, "high")
    assert "sql-failed" in fail_message(report, "high", "en")
    ja = summary_lines(change_report(fleet(), "ja"), "ja")
    assert ja[1].startswith("修復: 修復されたホスト 1 台")


def test_a_failed_host_reaches_the_fail_level_even_without_findings() -> None:
    doc = change_report({"sql-clean": fleet()["sql-clean"]}, left_play=("sql-clean",))
    assert reaches_fail_level(doc, "high") and not reaches_fail_level(doc, "none")


# --- the catalog --------------------------------------------------------------------------------

# A key ends where the string ends or a non-key character follows ("report.change.state." + state is dynamic).
KEY = re.compile(r"(?:report\.change|summary)\.[a-z_.]*[a-z_](?![.\w])")


def keys_named_in_report_sources() -> set[str]:
    found = set()
    for path in REPORT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= {m[0] for m in KEY.finditer(node.value)}
    return found


def test_every_report_change_key_exists_and_is_used() -> None:
    dynamic = (
        {f"report.change.state.{s}" for s in changes_module.STATES}
        | {f"report.change.cell.{s}" for s in ("pending", "blocked", "new")}
        | {f"report.change.column.{c}" for c in ("module", "target", "before", "after", "activation")}
        | {f"report.change.blocker.{k}" for k in ("refused", "unfixable", "forced")}
        | {f"report.change.status.{k}" for k in ("reboot_deferred", "no_reboot")}
    )
    named = keys_named_in_report_sources() | {"report.change.not_audited_after"}
    for lang in LANGUAGES:
        keys = set(catalog(lang))
        assert named | dynamic <= keys, sorted((named | dynamic) - keys)
    defined = {k for k in catalog("en") if k.startswith("report.change.")}
    assert defined - named - dynamic == set()


def test_japanese_report_texts_are_japanese() -> None:
    ja = catalog("ja")
    for key in (k for k in ja if k.startswith("report.change.")):
        words = re.sub(r"\{\w+\}|SQL Server|TLS|✗|✓", "", ja[key])
        assert not re.search(r"[A-Za-z]{3,}", words), (key, ja[key])


# --- the action plugin --------------------------------------------------------------------------


def run_action(args: dict, hostvars: dict, *, play_all=None, play_active=None) -> dict:
    task = SimpleNamespace(
        args=args, check_mode=False, async_val=0, diff=False, action="mssql.tls.audit_report"
    )
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = ActionModule(task, connection, play_context=None, loader=None, templar=None)
    task_vars = {"hostvars": hostvars}
    if play_all is not None:
        task_vars.update(ansible_play_hosts_all=play_all, ansible_play_hosts=play_active)
    return action.run(task_vars=task_vars)


def test_the_action_writes_a_before_after_report_and_names_hosts_that_left_the_play(tmp_path: Path) -> None:
    hostvars = fleet()
    names = sorted(hostvars)
    args = {
        "hosts": names,
        "dest": str(tmp_path),
        "lang": "ja",
        "fail_on": "high",
        "before_facts_var": "mssql_tls_before_facts",
        "before_assessment_var": "mssql_tls_before_assessment",
        "change_vars": list(CHANGE_VARS),
    }
    active = [n for n in names if n != "sql-failed"]
    result = run_action(args, hostvars, play_all=names, play_active=active)
    assert result["changed"] and sorted(result["written"]) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["schema_version"] == 1 and doc["summary"]["remediation"]["hosts_failed"] == 1
    assert host(doc, "sql-failed")["error"].startswith("実行後に監査されていません")
    assert result["summary"]["remediation"]["hosts_fixed"] == 1
    assert result["fail_level_reached"]
    assert "実行前と実行後" in (tmp_path / "report.html").read_text()
    again = run_action(args, hostvars, play_all=names, play_active=active)
    assert not again["changed"]


def test_the_action_without_the_new_arguments_writes_todays_report(tmp_path: Path) -> None:
    hostvars = {"a": {"audit_facts_result": facts_result("t"), "audit_assessment": {"findings": []}}}
    run_action({"hosts": ["a"], "dest": str(tmp_path)}, hostvars, play_all=["a", "b"], play_active=[])
    doc = json.loads((tmp_path / "report.json").read_text())
    assert "remediation" not in doc["summary"] and "before" not in doc["hosts"][0]


def test_the_action_refuses_before_facts_without_the_before_assessment(tmp_path: Path) -> None:
    with pytest.raises(AnsibleActionFail, match="before_assessment_var"):
        run_action({"hosts": [], "dest": str(tmp_path), "before_facts_var": "x"}, {})


def test_host_variables_that_are_not_results_make_a_host_error_not_a_crash() -> None:
    for gathered, assessment in (
        ("not a dict", {"findings": []}),
        ({"ansible_facts": "nope"}, {"findings": []}),
        ({"ansible_facts": {"mssql_tls": ["a", "list"]}}, {"findings": []}),
        ({"ansible_facts": {"mssql_tls": {"os": {}}}}, {"findings": [{"id": "x"}]}),  # no severity
    ):
        hosts = {"h": {"audit_facts_result": gathered, "audit_assessment": assessment}}
        (entry,) = change_report(hosts, left_play=(), change_vars=[])["hosts"]
        assert entry["error"] and entry["findings"] == []
