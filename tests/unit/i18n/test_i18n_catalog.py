"""Both catalogs carry every key with the same placeholders, and the API refuses what it lacks."""

import re

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import RULES, TERMS, Term
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import (
    LANGUAGES,
    CatalogError,
    catalog,
    message,
    placeholders,
)


def test_both_catalogs_have_the_same_keys_and_placeholders():
    en, ja = catalog("en"), catalog("ja")
    assert set(en) == set(ja)
    mismatched = [k for k in en if placeholders(en[k]) != placeholders(ja[k])]
    assert mismatched == []


def test_every_finding_has_title_evidence_and_remediation_in_every_language():
    for lang in LANGUAGES:
        for rule in RULES.values():
            parts = [
                "title",
                "evidence",
                "remediation",
                *(f"remediation_{v}" for v in rule.remediation_variants),
            ]
            for part in parts:
                assert f"finding.{rule.id}.{part}" in catalog(lang), (lang, rule.id, part)


def test_the_catalogs_have_no_finding_text_without_a_rule():
    pattern = re.compile(r"^finding\.(.+)\.(title|evidence|remediation(?:_\w+)?)$")
    ids_in_catalog = {pattern.match(k)[1] for k in catalog("en") if k.startswith("finding.")}
    assert ids_in_catalog == set(RULES)


def test_every_catalog_word_a_finding_can_carry_exists():
    for lang in LANGUAGES:
        assert set(catalog(lang)) >= TERMS, lang
    with pytest.raises(ValueError, match="unknown catalog word"):
        Term("term.source.registry")


def test_scenario_headings_and_report_and_gate_keys_exist():
    for lang in LANGUAGES:
        keys = set(catalog(lang))
        assert {f"scenario.{n}" for n in range(1, 7)} <= keys
        assert {"summary.play", "summary.host", "report.title", "report.matrix"} <= keys
        assert {
            "gate.old_protocols_needed",
            "gate.no_usable_suite",
            "gate.force_strict",
            "gate.tls12_required",
        } <= keys


def test_japanese_uses_the_terms_of_microsofts_japanese_article():
    ja = catalog("ja")
    assert ja["scenario.1"] == "シナリオ 1: クライアントとサーバーの間に一致する TLS プロトコルが存在しない"
    assert "暗号スイート" in ja["scenario.2"]
    assert "拇印アルゴリズム" in ja["finding.s4.weak_certificate_hash.title"]
    assert "サーバー認証" in ja["finding.s4.weak_certificate_hash.remediation"]
    assert "先行ゼロ" in ja["scenario.5"]
    assert all(ja[f"scenario.{n}"].startswith(f"シナリオ {n}: ") for n in range(1, 7))


def test_message_fills_placeholders_and_ignores_extra_parameters():
    text = message("report.host", "en", host="sql-01", unused="x")
    assert text == "Host sql-01"
    assert message("report.host", "ja", host="sql-01") == "ホスト sql-01"


@pytest.mark.parametrize(
    ("key", "lang", "params", "error"),
    [
        ("report.nope", "en", {}, "unknown message key 'report.nope'"),
        ("report.host", "de", {"host": "x"}, "lang: unknown language 'de'"),
        ("report.host", "en", {}, r"missing parameter\(s\) \['host'\]"),
    ],
)
def test_message_errors_name_what_is_wrong(key, lang, params, error):
    with pytest.raises(CatalogError, match=error):
        message(key, lang, **params)


def test_placeholders_must_be_plain_names():
    assert placeholders("{a} and {b}") == {"a", "b"}
    for bad in ("{a:>3}", "{a!r}", "{0}"):
        with pytest.raises(CatalogError):
            placeholders(bad)
