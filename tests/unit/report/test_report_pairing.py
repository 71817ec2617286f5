"""The fleet report with the pairing: pair findings on both hosts, the clients x instances matrix
in every format, each failing cell linked to its drivers, before and after a run."""

from __future__ import annotations

import json
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from ansible_collections.mssql.tls.plugins.action.audit_report import ActionModule
from ansible_collections.mssql.tls.plugins.action.pairing import ActionModule as PairingAction
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import assess
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import WINDOWS_2019
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import (
    GCM_ONLY,
    TLS12_ONLY,
    app_server,
    sql_server,
)

HOSTILE = 'app<b>"&'


class UntouchableConnection:
    _shell = SimpleNamespace(tmpdir=None)

    def exec_command(self, *args, **kwargs):
        raise AssertionError("the report must not talk to any host")


def action(cls, args, task_vars):
    task = SimpleNamespace(args=args, check_mode=False, async_val=0, diff=False, action="mssql.tls.x")
    return cls(task, UntouchableConnection(), play_context=None, loader=None, templar=None).run(
        task_vars=task_vars
    )


def audited(facts):
    return {
        "audit_facts_result": {"ansible_facts": {"mssql_tls": facts}},
        "audit_assessment": {"findings": assess(facts)},
    }


def fleet(sql01_suites=None):
    sql01 = sql_server(clients=("10.0.0.5",), local_suites=sql01_suites)
    sql02 = sql_server(
        "sql02", (10, 0, 20348, 2700), "16.0.4135.4", protocols=TLS12_ONLY, policy_suites=GCM_ONLY
    )
    hostvars = {
        HOSTILE: {"ansible_host": "10.0.0.5", "mssql_tls_connects_to": ["sql02"], **audited(app_server())},
        "sql01": {"ansible_host": "10.0.0.11", **audited(sql01)},
        "sql02": {"ansible_host": "10.0.0.12", **audited(sql02)},
    }
    task_vars = {"hostvars": hostvars, "groups": {"mssql_tls_clients": [HOSTILE]}}
    pairing = action(PairingAction, {"hosts": list(hostvars)}, task_vars)
    for host in hostvars.values():
        host["audit_pairing_result"] = pairing
    return task_vars


def write(tmp_path, task_vars, lang="en", **args):
    result = action(
        ActionModule,
        {"hosts": list(task_vars["hostvars"]), "dest": str(tmp_path), "lang": lang, **args},
        task_vars,
    )
    files = {
        name: (tmp_path / name).read_text(encoding="utf-8")
        for name in ("report.md", "report.html", "junit.xml")
    }
    return result, json.loads((tmp_path / "report.json").read_text()), files


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write(tmp_path_factory.mktemp("report"), fleet())


def test_pair_findings_join_the_client_and_the_server_and_count_everywhere(written):
    result, report, _files = written
    hosts = {h["name"]: h for h in report["hosts"]}
    assert hosts["sql01"]["scenarios"] == [3, 5]  # 3 of its own, 5 across hosts
    assert hosts[HOSTILE]["scenarios"] == [1, 2, 3, 5]
    assert "pair.s5.dhe_leading_zero_mismatch" in report["checks"]
    assert report["summary"]["by_scenario"]["5"] == 2
    assert result["summary_lines"][-1].startswith("8 pair(s)")


def test_the_json_section_has_the_matrix_every_pair_and_their_anchors(written):
    _result, report, _files = written
    section = report["pairing"]
    assert section["clients"] == [HOSTILE] and section["instances"] == [
        "sql01/MSSQLSERVER",
        "sql02/MSSQLSERVER",
    ]
    assert {(c["server"], c["status"], tuple(c["scenarios"])) for c in section["cells"]} == {
        ("sql01", "intermittent", (5,)),
        ("sql02", "fails", (1, 2)),
    }
    assert all(c["anchor"].startswith("pair-app-b-") for c in section["cells"])
    assert section["summary"]["failing_pairs"] == 6 and section["summary"]["by_scenario"] == {
        "1": 2,
        "2": 2,
        "5": 2,
    }
    assert any("11.0.6538" in u for u in section["summary"]["remaining_upgrades"])


def test_markdown_links_each_failing_cell_to_its_drivers(written):
    md = written[2]["report.md"]
    section = written[1]["pairing"]
    sql01 = next(c for c in section["cells"] if c["server"] == "sql01")
    assert f"[~ S5](#{sql01['anchor']})" in md and f'<a id="{sql01["anchor"]}"></a>' in md
    assert "app\\<b\\>" in md and "<b>" not in md.replace('<a id="', "")
    assert "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in md


def test_html_matrix_cells_carry_their_result_class_and_hostile_names_stay_text(written):
    html = written[2]["report.html"]
    start = html.index('<table class="pairing"')
    table = html[start : html.index("</table>", start)]
    assert table.count('class="cell pair-intermittent"') == 1 and table.count('class="cell pair-fails"') == 1
    assert "app&lt;b&gt;&quot;&amp;" in table and "<b>" not in table
    anchors = [c["anchor"] for c in written[1]["pairing"]["cells"]]
    assert all(f'href="#{a}"' in table and f'id="{a}"' in html for a in anchors)


def test_junit_has_a_pairing_suite_with_one_failing_case_per_failing_pair(written):
    suites = ET.fromstring(written[2]["junit.xml"].encode())
    (suite,) = [s for s in suites if s.get("name") == "pairing"]
    assert (suite.get("tests"), suite.get("failures")) == ("8", "6")
    failed = {c.get("name") for c in suite if c.find("failure") is not None}
    assert "SNAC11 -> sql02/MSSQLSERVER" in failed and "ODBC13+ -> sql01/MSSQLSERVER" in failed


def test_japanese_report_has_the_matrix_in_japanese(tmp_path):
    _result, report, files = write(tmp_path, fleet(), "ja")
    assert "クライアントと SQL Server インスタンス" in files["report.html"]
    assert "断続的に失敗" in files["report.md"] and report["pairing"]["cells"]


def test_before_and_after_a_run_the_fixed_cell_shows_both_states(tmp_path):
    before = fleet()
    after = fleet(sql01_suites=[s for s in WINDOWS_2019 if not s.startswith("TLS_DHE_")])
    for name, host in after["hostvars"].items():
        host["before_assessment"] = before["hostvars"][name]["audit_assessment"]
        host["before_pairing"] = before["hostvars"][name]["audit_pairing_result"]
    _result, report, files = write(
        tmp_path, after, before_assessment_var="before_assessment", before_pairing_var="before_pairing"
    )
    cell = next(c for c in report["pairing"]["cells"] if c["server"] == "sql01")
    assert cell["before"] == {"status": "intermittent", "scenarios": [5]} and cell["status"] == "connects"
    sql01 = next(h for h in report["hosts"] if h["name"] == "sql01")
    assert sql01["before"]["scenarios"] == [3, 5] and sql01["scenario_states"]["5"] == "fixed"
    assert 'class="cell pair-fixed"' in files["report.html"] and "~ S5 → ✓" in files["report.md"]


def test_without_a_pairing_result_the_report_is_what_it_was(tmp_path):
    task_vars = fleet()
    for host in task_vars["hostvars"].values():
        del host["audit_pairing_result"]
    _result, report, files = write(tmp_path, task_vars)
    assert "pairing" not in report and "pair.s5.dhe_leading_zero_mismatch" not in report["checks"]
    assert 'class="pairing"' not in files["report.html"]


def test_a_fleet_without_client_hosts_keeps_the_report_it_had(tmp_path):
    task_vars = fleet()
    task_vars["groups"] = {}
    pairing = action(PairingAction, {"hosts": list(task_vars["hostvars"])}, task_vars)
    assert pairing["clients"] == [] and pairing["pairs"] == []
    for host in task_vars["hostvars"].values():
        host["audit_pairing_result"] = pairing
    _result, report, _files = write(tmp_path, task_vars)
    assert "pairing" not in report and "pair.s1.no_common_protocol" not in report["checks"]


def test_the_newest_pairing_wins_when_a_host_kept_an_older_one(tmp_path):
    old, new = fleet(), fleet(sql01_suites=[s for s in WINDOWS_2019 if not s.startswith("TLS_DHE_")])
    first = next(iter(new["hostvars"]))
    new["hostvars"][first]["audit_pairing_result"] = old["hostvars"][first]["audit_pairing_result"]
    assert (
        old["hostvars"][first]["audit_pairing_result"]["paired_at"]
        < new["hostvars"]["sql01"]["audit_pairing_result"]["paired_at"]
    )
    _result, report, _files = write(tmp_path, new)
    assert {c["server"]: c["status"] for c in report["pairing"]["cells"]}["sql01"] == "connects"
