"""The prober's words (``probe.*``) exist in every catalog, and every key the prober asks for is there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, catalog, placeholders
from ansible_collections.mssql.tls.plugins.plugin_utils.tds import summary
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.verdict import (
    PREFERENCES,
    VERDICT_CODES,
    WARNING_CODES,
)

TDS_DIR = Path(summary.__file__).parent
KEY = re.compile(r"probe\.[a-z_]+\.[a-z_]+")

# The params evaluate() gives each code (verdict.py); a text may use fewer, never others.
VERDICT_PARAMS = {
    "connects": {"protocol", "suite", "preference"},
    "connects_without_tls": set(),
    "encryption_required_not_supported": set(),
    "no_common_protocol": {"client_protocols", "server_protocols"},
    "no_common_suite": {"protocol"},
}


def probe_keys(lang: str) -> set[str]:
    return {key for key in catalog(lang) if key.startswith("probe.")}


def test_both_catalogs_have_the_same_probe_keys_with_the_same_placeholders():
    en, ja = catalog("en"), catalog("ja")
    assert probe_keys("en") == probe_keys("ja")
    assert [k for k in probe_keys("en") if placeholders(en[k]) != placeholders(ja[k])] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_verdict_and_warning_code_has_its_text(lang):
    texts = catalog(lang)
    assert set(VERDICT_PARAMS) == set(VERDICT_CODES)
    for code in VERDICT_CODES:
        assert placeholders(texts[f"probe.verdict.{code}"]) <= VERDICT_PARAMS[code], (lang, code)
    for code in WARNING_CODES:
        # warnings are filled with the verdict's params (a "connects" verdict)
        assert placeholders(texts[f"probe.warning.{code}"]) <= VERDICT_PARAMS["connects"], (lang, code)
    for preference in PREFERENCES:
        assert f"probe.preference.{preference}" in texts


def test_no_verdict_or_warning_text_without_a_code():
    keys = probe_keys("en")
    assert {k.split(".", 2)[2] for k in keys if k.startswith("probe.verdict.")} == set(VERDICT_CODES)
    assert {k.split(".", 2)[2] for k in keys if k.startswith("probe.warning.")} == set(WARNING_CODES)


def keys_named_in_source() -> set[str]:
    """Every ``probe.x.y`` string literal in the prober's modules (f-string prefixes are checked below)."""
    found = set()
    for path in TDS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= {m[0] for m in KEY.finditer(node.value) if KEY.fullmatch(m[0])}
    return found


def test_every_key_the_prober_asks_for_exists_in_every_catalog():
    named = keys_named_in_source()
    assert "probe.change.transition" in named and "probe.client.fail" in named  # the scan sees the code
    dynamic = {f"probe.column.{name}" for name in summary._COLUMNS}
    for lang in LANGUAGES:
        assert named | dynamic <= probe_keys(lang), sorted((named | dynamic) - probe_keys(lang))


def test_every_probe_key_is_used():
    used = (
        keys_named_in_source()
        | {f"probe.column.{name}" for name in summary._COLUMNS}
        | {f"probe.verdict.{code}" for code in VERDICT_CODES}
        | {f"probe.warning.{code}" for code in WARNING_CODES}
        | {f"probe.preference.{p}" for p in PREFERENCES}
    )
    assert probe_keys("en") - used == set()


def test_japanese_probe_texts_use_the_catalogs_terms():
    ja = catalog("ja")
    assert "一致する TLS プロトコルがない" in ja["probe.verdict.no_common_protocol"]
    assert "10054" in ja["probe.verdict.no_common_protocol"]
    assert "暗号スイート" in ja["probe.verdict.no_common_suite"]
    assert all("先行ゼロ" in ja[f"probe.warning.{code}"] for code in WARNING_CODES)
    assert "拇印アルゴリズム" in ja["probe.column.certificate_hash"]
    # nothing left in English but the technical names
    for key in probe_keys("ja"):
        words = re.sub(r"\{\w+\}|TLS_DHE|TDS 7\.x|ENCRYPT_NOT_SUP|KB\d+|DH|TLS|OS", "", ja[key])
        assert not re.search(r"[A-Za-z]{3,}", words), (key, ja[key])
