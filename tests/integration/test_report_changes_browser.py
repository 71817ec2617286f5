"""The before/after report as a person sees it: rendered by headless Chromium, read back from the
DOM, the pixels and the PDF, in English and Japanese.

The report is built from the hostvars a remediation run leaves behind (tests/unit/report/
changes_fleet.py: one host per kind of cell, hostile strings in a target, a value and a
failure message) through the same functions mssql.tls.audit_report calls; no lab needed.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.report.html_changes import CSS
from ansible_collections.mssql.tls.plugins.plugin_utils.report.html_report import render_html
from ansible_collections.mssql.tls.plugins.plugin_utils.report.junit import render_junit
from ansible_collections.mssql.tls.plugins.plugin_utils.report.markdown import render_markdown
from ansible_collections.mssql.tls.tests.unit.report.changes_fleet import (
    change_report,
    expected_state,
    fleet,
    text_of,
)

from .ansible_run import run_playbook
from .browser import dump_dom, hex_colour, pdf_text, pixel_count, print_to_pdf, screenshot

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
# The colour of each state, as the page's CSS gives it.
STATE_COLOURS = {s: hex_colour(c) for s, c in re.findall(r"\.st-(\w+)\{background:(#[0-9a-f]{6})", CSS)}


def write_report(directory: Path, lang: str) -> Path:
    """The four files, as the action plugin writes them."""
    report = change_report(fleet(HOSTILE), lang)
    text = text_of(lang)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (directory / "report.md").write_text(render_markdown(report, text), encoding="utf-8")
    (directory / "junit.xml").write_text(render_junit(report, text), encoding="utf-8")
    page = directory / "report.html"
    page.write_text(render_html(report, text), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def english_page(tmp_path_factory) -> Path:
    return write_report(tmp_path_factory.mktemp("changes-en"), "en")


@pytest.fixture(scope="module")
def english_dom(english_page: Path) -> str:
    return dump_dom(english_page)


def before_after_rows(dom: str) -> dict[str, list[str]]:
    """host -> the state class of each scenario cell, from the DOM Chromium built."""
    start = dom.index('<table class="before-after"')
    table = dom[start : dom.index("</table>", start)]
    rows = {}
    for row in re.findall(r'<tr class="host-row">(.*?)</tr>', table, re.S):
        name = html.unescape(re.search(r'<a href="#changes-[^"]*">(.*?)</a>', row)[1])
        rows[name] = re.findall(r'<td class="cell st-(\w+)"', row)
    return rows


def test_chromium_parses_one_before_after_row_per_host_with_the_expected_cells(english_dom: str) -> None:
    rows = before_after_rows(english_dom)
    assert sorted(rows) == sorted(fleet())
    for name, cells in rows.items():
        assert cells == [expected_state(name, s) for s in range(1, 7)], name
    # each host has its changes section, linked from the matrix
    assert len(re.findall(r'<section class="host-changes" id="changes-', english_dom)) == len(fleet())


def test_hostile_strings_stay_text_in_the_dom(english_dom: str) -> None:
    # The only elements are the report's own: no script, no img, no event handler.
    assert "<script" not in english_dom and "<img" not in english_dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in english_dom
    assert '&lt;script&gt;document.title="pwned"&lt;/script&gt;' in english_dom
    assert "<title>SQL Server TLS remediation (error 10054): before and after</title>" in english_dom


def test_the_screenshot_shows_each_state_in_its_own_colour(english_page: Path, tmp_path: Path) -> None:
    assert len(set(STATE_COLOURS.values())) == len(STATE_COLOURS) == 7
    png = screenshot(english_page, tmp_path / "report.png", height=1400)
    cells = Counter(expected_state(name, s) for name in fleet() for s in range(1, 7))
    assert cells == {"clean": 30, "unknown": 6, "fixed": 2, "pending": 2, "blocked": 1, "new": 1}
    for state, count in cells.items():
        # a cell is at least ~60x25 px of its colour (the legend and badges only add to it)
        found = pixel_count(png, STATE_COLOURS[state])
        assert found > count * 1200, (state, found)
    assert pixel_count(png, STATE_COLOURS["remaining"]) > 0  # the legend shows it, no cell has it


def test_the_japanese_before_after_report_renders_with_a_cjk_font(tmp_path: Path) -> None:
    page = write_report(tmp_path / "ja", "ja")
    dom = dump_dom(page)
    assert before_after_rows(dom)["sql-blocked"][0] == "blocked"
    pdf = print_to_pdf(page, tmp_path / "report.pdf")
    japanese_font = subprocess.run(
        ["fc-match", ":lang=ja", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert "CJK" in japanese_font, f"no CJK font for Japanese (install fonts-noto-cjk): {japanese_font}"
    text = re.sub(r"\s+", "", pdf_text(pdf))
    for expected in (
        "SQLServerのTLS修復(エラー10054):実行前と実行後",
        "修復されたホスト",
        "実行前と実行後",
        "ホストごとの変更",
        "再起動待ち:変更は次回の再起動で反映されます。",
        "SQLServerの再起動待ち:MSSQLSERVER",
        "このホストはweak_certificates_resultで失敗しました",
        "この修正では解消できません",
        "✗→✓",
    ):
        assert expected in text, expected
    png = screenshot(page, tmp_path / "report.png", height=1400)
    assert pixel_count(png, STATE_COLOURS["blocked"]) > 1200


# --- a real run: the audit twice around the tls12 role, on lab hosts ---------------------------

REMEDIATION_PLAY = """\
- name: Audit, fix TLS 1.2, audit again, report before and after
  hosts: all
  gather_facts: false
  tasks:
    - name: Audit before
      ansible.builtin.include_role:
        name: mssql.tls.audit
      vars:
        audit_write_report: false

    - name: Keep the audit before the change
      ansible.builtin.set_fact:
        before_facts: "{{ audit_facts_result }}"
        before_assessment: "{{ audit_assessment | default({}) }}"

    - name: Fix
      ansible.builtin.include_role:
        name: mssql.tls.tls12

    - name: A host that fails stops alone
      ansible.builtin.fail:
        msg: "lost its change window"
      register: chaos_result
      when: inventory_hostname == "compliant"

    - name: Audit after
      ansible.builtin.include_role:
        name: mssql.tls.audit
      vars:
        audit_write_report: false

    - name: Report
      mssql.tls.audit_report:
        hosts: "{{ ansible_play_hosts_all }}"
        dest: "{{ report_dir }}"
        lang: "{{ report_lang }}"
        before_facts_var: before_facts
        before_assessment_var: before_assessment
        change_vars: [tls12_result, tls12_reboot_result, chaos_result]
      run_once: true
      check_mode: false
"""


def test_a_real_run_of_the_tls12_role_between_two_audits_is_reported_before_and_after(
    make_lab, tmp_path: Path
) -> None:
    lab = make_lab("s1", "s5", "compliant")  # s5: 2016 with TLS 1.0/1.1 on, tls12 changes it
    playbook = tmp_path / "remediate.yml"
    playbook.write_text(REMEDIATION_PLAY, encoding="utf-8")
    report_dir = tmp_path / "report"
    proc, recap = run_playbook(
        lab.inventory, playbook, "-e", f"report_dir={report_dir}", "-e", "report_lang=ja"
    )
    # the play fails for the one host that failed, the others went on to the report
    assert recap["compliant"]["failed"] == 1 and recap["s1"]["failed"] == recap["s5"]["failed"] == 0
    assert (report_dir / "report.json").is_file(), proc.stdout[-3000:]
    doc = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    hosts = {h["name"]: h for h in doc["hosts"]}

    s1 = hosts["s1"]
    assert s1["before"]["scenarios"] == [1] and s1["scenarios"] == [1]
    assert s1["scenario_states"]["1"] == "blocked"
    (sql,) = [b for b in s1["blocked"] if b["code"] == "sql_build_without_tls12"]
    assert sql["unfixable"] and "この修正では解消できません" in sql["message"]  # in the report's language

    s5 = hosts["s5"]
    assert s5["before"]["scenarios"] == [3, 5] and s5["scenario_states"]["3"] == "remaining"
    (tls12,) = [e for e in s5["changes"] if e["var"] == "tls12_result"]
    assert tls12["applied"] and tls12["journal_id"] and tls12["changes"]
    assert s5["pending"]["reboot"] is True  # Schannel keys take effect at the next reboot

    failed = hosts["compliant"]
    assert failed["failed"] == {"var": "chaos_result", "reason": "lost its change window"}
    assert failed["error"].startswith("実行後に監査されていません")
    assert set(failed["scenario_states"].values()) == {"unknown"}

    counts = doc["summary"]["remediation"]
    assert counts["hosts_failed"] == 1 and counts["hosts_pending_reboot"] >= 1 and counts["blocked"] >= 1

    dom = dump_dom(report_dir / "report.html")
    rows = before_after_rows(dom)
    assert sorted(rows) == sorted(lab.hosts)
    assert (
        rows["s1"][0] == "blocked" and rows["s5"][2] == "remaining" and rows["compliant"] == ["unknown"] * 6
    )
    root = ET.fromstring((report_dir / "junit.xml").read_text(encoding="utf-8"))
    error = root.find("./testsuite[@name='compliant remediation']/testcase[@name='remediation']/error")
    assert error is not None and "lost its change window" in error.get("message")
