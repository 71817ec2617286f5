"""Hostile data on a host breaks nothing, is never executed, and every report shows it as text.

The lab host of tests/lab/profiles/hostile.yml has quotes, $(...), backticks, Jinja, HTML and
Markdown markup, newlines, bidi and non-Latin unicode, and 10,000-character strings in its
named instance's name, its certificates' subjects and friendly names, and its ERRORLOG. The
audit (check mode, all four report formats) and the probe run on it with real
ansible-playbook. Then:
- both succeed, with the findings the profile's comment names (no scenario);
- nothing was evaluated: no marker file on the controller (shell $() and backticks, Jinja's
  pipe lookup), no registry key on the host (PowerShell's $()), the host's state unchanged,
  and the host ran exactly one command, the agent's gather batch (the lab runs nothing else);
- each format shows the strings as text: report.json holds them exactly; report.md rendered
  by markdown-it (raw HTML allowed, as many renderers do) and report.html rendered by
  Chromium have text equal to them and no element, attribute or link of theirs; junit.xml
  parses and holds them.
"""

from __future__ import annotations

import json
import re
import warnings
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops
from cryptography import x509
from cryptography.x509.oid import NameOID
from markdown_it import MarkdownIt
from winlab.testing import PROFILES_DIR, running_lab

from .ansible_run import REPO, run_playbook
from .browser import dump_dom

PROFILE = PROFILES_DIR / "hostile.yml"
HOST = "hostile"
AUDIT = REPO / "playbooks" / "audit.yml"
PROBE = REPO / "playbooks" / "probe.yml"
PROFILE_TEXT = PROFILE.read_text(encoding="utf-8")
DOC = yaml.safe_load(PROFILE_TEXT)
# Files the hostile strings would create on the controller if a shell or Jinja evaluated them.
MARKERS = sorted({Path(m) for m in re.findall(r"/tmp/mssql-tls-hostile-[a-z-]+", PROFILE_TEXT)})
SUBJECT, LONG_SUBJECT = (c["subject_cn"] for c in DOC["certificates"])
INSTANCE = DOC["sql_instances"][1]["name"]
# The element ids and the title the HTML fragments would set if a browser ran them.
INJECTED_IDS = {"mssql-tls-injected", "mssql-tls-injected-instance", "pwned"}


def rfc4514(cn: str) -> str:
    """The subject as the facts render it (cryptography's RFC 4514 string)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)]).rfc4514_string()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    for marker in MARKERS:
        marker.unlink(missing_ok=True)
    report_dir = tmp_path_factory.mktemp("hostile-report")
    with running_lab([PROFILE]) as lab:
        before = lab.state(HOST)
        lab.reset_stats()
        audit, audit_recap = run_playbook(
            lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}"
        )
        audit_stats = lab.reset_stats()[HOST]
        probe, probe_recap = run_playbook(lab.inventory, PROBE)
        probe_stats = lab.stats()[HOST]
        after = lab.state(HOST)
    return {
        "audit": audit,
        "audit_recap": audit_recap,
        "audit_stats": audit_stats,
        "probe": probe,
        "probe_recap": probe_recap,
        "probe_stats": probe_stats,
        "before": before,
        "after": after,
        "dir": report_dir,
        "report": json.loads((report_dir / "report.json").read_text(encoding="utf-8")),
    }


def findings(runs) -> list[dict[str, Any]]:
    (host,) = runs["report"]["hosts"]
    return host["findings"]


def test_the_audit_and_the_probe_succeed_with_the_expected_findings(runs) -> None:
    assert runs["audit"].returncode == 0, runs["audit"].stdout[-3000:]
    assert runs["probe"].returncode == 0, runs["probe"].stdout[-3000:]
    assert runs["audit_recap"][HOST]["failed"] == runs["probe_recap"][HOST]["failed"] == 0
    (host,) = runs["report"]["hosts"]
    assert host["error"] is None and host["scenarios"] == []
    assert sorted(f["id"] for f in host["findings"]) == [
        "cert_expiring",
        "cert_expiring",
        "login_errors_10054",
    ]
    assert sorted(i["name"] for i in host["sql_instances"]) == sorted(["MSSQLSERVER", INSTANCE])
    # the probe reached both endpoints, the hostile instance's too
    assert ":1433 " in runs["probe"].stdout and ":14331 " in runs["probe"].stdout


def test_nothing_of_the_hostile_strings_is_ever_executed(runs) -> None:
    assert [m for m in MARKERS if m.exists()] == []
    software = runs["after"]["registry"]["HKLM"]
    assert not any("mssql-tls-hostile" in key.lower() for key in _subkey_names(software)), "a registry key"
    assert runs["after"] == runs["before"]
    # One command on the host, the agent's gather batch: the hostile strings travelled as data.
    assert runs["audit_stats"]["commands"] == 1
    assert runs["audit_stats"]["batches"] == [[o["op"] for o in gather_ops()]]
    assert runs["probe_stats"]["commands"] == 0
    # Ansible did not template the Jinja that came back in the facts either.
    assert any("{{ lookup('pipe'" in f["evidence"] for f in findings(runs))


def _subkey_names(node: Any) -> list[str]:
    names = []
    if isinstance(node, dict):
        for key, value in node.items():
            names.append(str(key))
            names += _subkey_names(value)
    elif isinstance(node, list):
        for value in node:
            names += _subkey_names(value)
    return names


def test_report_json_holds_the_strings_exactly(runs) -> None:
    evidence = {f["evidence"] for f in findings(runs)}
    assert any(rfc4514(SUBJECT) in e and e.count(INSTANCE) == 2 for e in evidence)
    long_subject = rfc4514(LONG_SUBJECT)
    assert len(LONG_SUBJECT) == 10_000 and any(long_subject in e for e in evidence)
    assert any(e.startswith(INSTANCE + " (16.0.4135.4), ERRORLOG") for e in evidence)


class Elements(HTMLParser):
    """Every element of a document: (tag, attributes, its whole text)."""

    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "wbr", "source", "area", "base", "embed"}

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._open: list[list[str]] = []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        texts: list[str] = []
        self.elements.append((tag, dict(attrs), texts))
        if tag not in self.VOID:
            self._open.append(texts)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for texts in self._open:
            texts.append(data)

    def text_of(self, tag: str) -> list[str]:
        return ["".join(texts) for t, _a, texts in self.elements if t == tag]

    def injected(self) -> list[tuple[str, dict]]:
        """Elements or attributes that only the hostile strings could have brought."""
        return [
            (tag, attrs)
            for tag, attrs, _texts in self.elements
            if tag in ("script", "img", "iframe", "svg", "i")
            or (tag == "a" and not (attrs.get("href") or "").startswith("#"))  # the report's links are local
            or attrs.get("id") in INJECTED_IDS
            or any(name.startswith("on") for name in attrs)
        ]


def test_report_html_in_chromium_shows_the_strings_as_text_and_nothing_runs(runs) -> None:
    dom = Elements(dump_dom(runs["dir"] / "report.html"))
    assert dom.injected() == []
    (title,) = dom.text_of("title")
    assert "PWNED" not in title
    assert INSTANCE in dom.text_of("code")  # DOM text equals the raw string
    paragraphs = dom.text_of("p")
    for finding in findings(runs):
        assert f"Evidence: {finding['evidence']}" in paragraphs, finding["id"]


def test_report_md_rendered_shows_the_strings_as_text(runs) -> None:
    markdown = (runs["dir"] / "report.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    dom = Elements(rendered)
    assert dom.injected() == []
    items = dom.text_of("li") + dom.text_of("td") + dom.text_of("p")
    for finding in findings(runs):
        # a table cell or list item is one line: newlines are shown as spaces
        assert f"Evidence: {finding['evidence'].replace(chr(10), ' ')}" in items, finding["id"]


def test_report_md_shows_the_instance_name_in_its_code_span_as_is(runs) -> None:
    markdown = (runs["dir"] / "report.md").read_text(encoding="utf-8")
    dom = Elements(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    assert INSTANCE.replace("\n", " ") in dom.text_of("code")


def test_junit_xml_parses_and_holds_the_strings(runs) -> None:
    tree = ET.parse(runs["dir"] / "junit.xml")
    texts = [node.text or "" for node in tree.iter("failure")]
    for finding in findings(runs):
        assert any(t.startswith(finding["evidence"]) for t in texts), finding["id"]
