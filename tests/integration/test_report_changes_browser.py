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
