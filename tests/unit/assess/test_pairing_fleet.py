"""The fleet view: the clients x instances matrix, the gate's peers, findings on both hosts."""

from __future__ import annotations

import re

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing import pair_fleet
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_findings import (
    PAIR_RULES,
    WORDS,
    Word,
    pair_findings,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, catalog
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import (
    GCM_ONLY,
    TLS12_ONLY,
    app_server,
    client,
    server,
    sql_server,
)

HARDENED_2022 = sql_server(
    "sql02",
    version=(10, 0, 20348, 2700),
    sql_version="16.0.4135.4",
    protocols=TLS12_ONLY,
    policy_suites=GCM_ONLY,
)


@pytest.fixture(scope="module")
def fleet():
    """app (2012 R2, observed on sql01 and declared for sql02) against a patched 2019 server with
    TLS_DHE and a hardened 2022 server; web (2016, no source) is assumed against both."""
    members = [
        client("app", app_server(), "10.0.0.5", connects_to=("sql02",)),
        client("web", app_server(version=(10, 0, 14393, 2457), odbc=()), "10.0.0.6"),
        server("sql01", sql_server(clients=("10.0.0.5",)), "10.0.0.11"),
        server("sql02", HARDENED_2022, "10.0.0.12"),
    ]
    return pair_fleet(members)


def cell(fleet, client_name, instance):
    return next(
        c
        for c in fleet["matrix"]["cells"]
        if (c["client"], f"{c['server']}/{c['instance']}") == (client_name, instance)
    )


def test_the_matrix_has_one_cell_per_client_and_instance_with_the_worst_driver(fleet):
    assert fleet["matrix"]["clients"] == ["app", "web"]
    assert fleet["matrix"]["instances"] == ["sql01/MSSQLSERVER", "sql02/MSSQLSERVER"]
    dhe = cell(fleet, "app", "sql01/MSSQLSERVER")
    assert (dhe["status"], dhe["scenarios"], dhe["sources"]) == ("intermittent", [5], ["observed"])
    assert dhe["drivers"] == {
        ".NET Framework": "intermittent",
        "MDAC": "connects",
        "ODBC13+": "intermittent",
        "SNAC11": "connects",
    }
    hardened = cell(fleet, "app", "sql02/MSSQLSERVER")
    assert (hardened["status"], hardened["scenarios"], hardened["sources"]) == ("fails", [1, 2], ["declared"])
    web = cell(fleet, "web", "sql02/MSSQLSERVER")
    assert (web["status"], web["scenarios"], web["sources"]) == ("fails", [1], ["assumed"])
    assert cell(fleet, "web", "sql01/MSSQLSERVER")["status"] == "connects"


def test_the_summary_counts_pairs_by_status_and_failing_pairs_by_scenario(fleet):
    summary = fleet["summary"]
    assert (summary["clients"], summary["instances"], summary["failing_cells"]) == (2, 2, 3)
    assert summary["by_scenario"] == {"1": 3, "2": 2, "5": 2}
    assert sum(summary["by_status"].values()) == summary["pairs"] == len(fleet["pairs"])


def test_each_server_gets_the_client_drivers_that_connect_to_it_as_the_gates_peers(fleet):
    sql01 = {(p["host"], p["family"]): p for p in fleet["peers"]["sql01"]}
    assert sql01[("app", "SNAC11")] == {
        "host": "app",
        "driver": "SQL Server Native Client 11.0",
        "family": "SNAC11",
        "protocols": ["TLS 1.0", "TLS 1.1"],
        "source": "observed",
        "clears_with": "SQL Server 2012 Native Client QFE 11.0.6538 or later (KB3135244, download 50402)",
    }
    assert sql01[("web", "MDAC")]["source"] == "assumed"
    assert sorted(fleet["peers"]) == ["sql01", "sql02"]


def test_a_failing_pair_is_a_finding_on_the_client_and_on_the_server_naming_the_pair(fleet):
    findings = pair_findings(fleet["pairs"], "en")
    on_server = {(f["id"], f["target"]) for f in findings["sql01"]}
    assert on_server == {("pair.s5.dhe_leading_zero_mismatch", "app->sql01/MSSQLSERVER")}
    (s5,) = findings["sql01"]
    assert s5 in findings["app"]
    assert s5["data"]["families"] == [".NET Framework", "ODBC13+"] and s5["fixable_by"] == "cipher_suites"
    assert "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in s5["evidence"] and "not fixed" in s5["evidence"]
    assert s5["data"]["errors_10054"] == 1


def test_scenario_1_that_needs_an_upgrade_names_it_and_a_pair_only_assumed_is_one_severity_lower(fleet):
    findings = pair_findings(fleet["pairs"], "en")
    app_s1 = next(f for f in findings["app"] if f["id"] == "pair.s1.no_common_protocol")
    assert app_s1["severity"] == "high" and app_s1["fixable_by"] is None
    assert "11.0.6538" in app_s1["remediation"] and "ODBC Driver 18" in app_s1["remediation"]
    web_s1 = next(f for f in findings["web"] if f["id"] == "pair.s1.no_common_protocol")
    assert web_s1["severity"] == "medium" and "assumed" in web_s1["evidence"]


def test_japanese_findings_keep_the_machine_fields_and_use_the_articles_terms(fleet):
    en, ja = pair_findings(fleet["pairs"], "en"), pair_findings(fleet["pairs"], "ja")

    def machine(found):
        return {h: [(f["id"], f["target"], f["severity"], f["data"]) for f in fs] for h, fs in found.items()}

    assert machine(en) == machine(ja)
    s5 = next(f for f in ja["sql01"] if f["scenario"] == 5)
    assert "先行ゼロ" in s5["title"] and "未修正" in s5["evidence"]
    s2 = next(f for f in ja["app"] if f["scenario"] == 2)
    assert "暗号スイート" in s2["title"]


def test_every_pair_rule_and_word_has_its_text_in_every_language():
    for lang in LANGUAGES:
        texts = catalog(lang)
        for rule in PAIR_RULES.values():
            for part in (
                "title",
                "evidence",
                "remediation",
                *(f"remediation_{v}" for v in rule.remediation_variants),
            ):
                assert f"pairing.finding.{rule.id}.{part}" in texts, (lang, rule.id, part)
        assert set(texts) >= WORDS
    pattern = re.compile(r"^pairing\.finding\.(.+)\.(title|evidence|remediation(?:_\w+)?)$")
    assert {pattern.match(k)[1] for k in catalog("en") if k.startswith("pairing.finding.")} == set(PAIR_RULES)
    with pytest.raises(ValueError, match="unknown catalog word"):
        Word("pairing.word.maybe")
