"""report.html as a person sees it: rendered by headless Chromium, read back from pixels and PDF."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from .ansible_run import REPO, run_playbook
from .browser import dump_dom, print_to_pdf, screenshot

# Cell colours of the matrix (plugins/plugin_utils/report/html_report.py).
OK_GREEN = (0xDA, 0xFB, 0xE1)
HIGH_RED = (0xFF, 0xD7, 0xD5)
MEDIUM_ORANGE = (0xFF, 0xE8, 0xC2)


def audit_report(lab, report_dir: Path, lang: str) -> Path:
    proc, _recap = run_playbook(
        lab.inventory,
        REPO / "playbooks" / "audit.yml",
        "--check",
        "-e",
        f"mssql_tls_report_dir={report_dir}",
        "-e",
        f"mssql_tls_report_lang={lang}",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    return report_dir / "report.html"


def pixel_count(png: Path, colour: tuple[int, int, int]) -> int:
    with Image.open(png) as image:
        return sum(1 for pixel in image.convert("RGB").get_flattened_data() if pixel == colour)


def poppler(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        raise AssertionError(f"{tool} not found: install Debian's 'poppler-utils' package (.ci/run does)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def english_page(lab, tmp_path_factory) -> Path:
    return audit_report(lab, tmp_path_factory.mktemp("html-en"), "en")


def test_the_screenshot_shows_the_hosts_by_scenarios_matrix(english_page: Path, tmp_path: Path) -> None:
    png = screenshot(english_page, tmp_path / "report.png")
    report = json.loads((english_page.parent / "report.json").read_text())
    clean_cells = sum(1 for h in report["hosts"] for s in range(1, 7) if s not in h["scenarios"])
    # Every compliant cell is a green box of at least ~40x20 px; high and medium cells exist on the lab.
    assert pixel_count(png, OK_GREEN) > clean_cells * 800
    assert pixel_count(png, HIGH_RED) > 3 * 800
    assert pixel_count(png, MEDIUM_ORANGE) > 3 * 800


def test_chromium_parses_one_matrix_row_per_host(lab, english_page: Path) -> None:
    dom = dump_dom(english_page)
    start = dom.index('<table class="matrix"')
    matrix = dom[start : dom.index("</table>", start)]
    rows = re.findall(r'<a href="#host-([^"]+)">', matrix)
    assert sorted(rows) == sorted(lab.hosts)


def test_the_japanese_report_renders_with_a_cjk_font(lab, tmp_path: Path) -> None:
    page = audit_report(lab, tmp_path / "ja", "ja")
    pdf = print_to_pdf(page, tmp_path / "report.pdf")
    # Chromium embeds unnamed Type 3 fonts, so the font is checked where it picks it: fontconfig.
    japanese_font = subprocess.run(
        ["fc-match", ":lang=ja", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert "CJK" in japanese_font, f"no CJK font for Japanese (install fonts-noto-cjk): {japanese_font}"
    text = re.sub(r"\s+", "", poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-"))
    for expected in (
        "SQLServerのTLS監査",
        "シナリオ1:クライアントとサーバーの間に一致するTLSプロトコルが存在しない",
        "ホストとシナリオ",
        "暗号スイート",
    ):
        assert expected in text, expected
