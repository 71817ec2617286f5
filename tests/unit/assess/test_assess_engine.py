"""assess(): input checks, ordering, languages, and that every rule is reachable."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import (
    AssessError,
    assess,
    severity_counts,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.findings import RULES, SEVERITIES
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.pending import pending_facts
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert, thumbprint
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    NOW,
    SELF_GENERATED_LINE,
    Instance,
    compliant_2022_host,
    facts_of,
)

FIXTURES = Path(__file__).parents[1] / "facts" / "fixtures"


def fixture_facts(name):
    return build_facts(json.loads((FIXTURES / name).read_text()), now=NOW)


def troubled_2022_host():
    """Certificate and binding trouble that the fixtures do not cover."""
    sha1 = make_cert("sql1.lab.local", hash_name="sha1", not_after=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    host = compliant_2022_host(
        policy_suites=",".join(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] * 30),
        protocols={"TLS 1.0": {"Client": {"Enabled": 0}}, "TLS 1.1": {"Client": {"Enabled": 0}}},
    )
    host.odbc.append(("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64))
    host.instances = [
        Instance(
            name="MSSQLSERVER",
            certificate="ab" * 20,
            force_encryption=1,
            force_strict=1,
            errorlog=[SELF_GENERATED_LINE],
        ),
        Instance(
            name="HR", id="MSSQL16.HR", certificate=thumbprint(sha1).lower(), errorlog=[SELF_GENERATED_LINE]
        ),
        # nothing bound, self-generated loaded: a SHA512 candidate is a latent risk, not scenario 4
        Instance(name="REPORTS", id="MSSQL16.REPORTS", certificate="", errorlog=[SELF_GENERATED_LINE]),
    ]
    host.certificates = [cert_entry(sha1, has_private_key=False), cert_entry(make_cert(hash_name="sha512"))]
    return host


def with_pending_reboot(facts):
    """A Schannel change of ours, journaled after the last boot: a reboot is pending."""
    header = {
        "v": 1,
        "run": "20261130T020000Z-ab12cd",
        "module": "schannel_protocols",
        "activations": ["reboot"],
        "ops": [{}],
    }
    record = {
        "id": "20261130T020000Z-ab12cd.schannel_protocols.1",
        "created_utc": "2026-11-30T02:00:00Z",
        "lines": [json.dumps(header), '{"applied":0}', '{"done":true,"stopped_at":null}'],
    }
    facts["pending"] = pending_facts([record], facts["host"]["last_boot_utc"])
    return facts


def all_fixture_and_built_facts():
    return [
        fixture_facts("host_2016_sql2014.json"),
        fixture_facts("host_2012r2_sql2012.json"),
        with_pending_reboot(facts_of(troubled_2022_host())),
    ]


def test_every_rule_fires_somewhere_in_both_languages():
    seen = set()
    for facts in all_fixture_and_built_facts():
        en, ja = assess(facts, "en"), assess(facts, "ja")
        machine = ("id", "scenario", "severity", "fixable_by", "target", "data")
        assert [{k: f[k] for k in machine} for f in en] == [{k: f[k] for k in machine} for f in ja]
        assert all(e["title"] != j["title"] for e, j in zip(en, ja, strict=True))
        seen |= {f["id"] for f in en}
    assert seen == set(RULES)


def test_findings_come_most_severe_first_with_stable_machine_fields():
    for facts in all_fixture_and_built_facts():
        found = assess(facts)
        ranks = [SEVERITIES.index(f["severity"]) for f in found]
        assert ranks == sorted(ranks, reverse=True)
        for f in found:
            assert f["scenario"] == RULES[f["id"]].scenario
            assert f["fixable_by"] in (None, "tls12", "cipher_suites", "weak_certificates", "sql_restart")
            assert set(f) == {
                "id",
                "scenario",
                "severity",
                "title",
                "evidence",
                "remediation",
                "fixable_by",
                "target",
                "data",
            }
            json.dumps(f)  # plain data


def test_severity_counts_cover_every_level():
    found = assess(fixture_facts("host_2016_sql2014.json"))
    counts = severity_counts(found)
    assert list(counts) == ["high", "medium", "low", "info"]
    assert sum(counts.values()) == len(found)


@pytest.mark.parametrize(
    ("facts", "lang", "options", "field"),
    [
        ("not facts", "en", {}, "facts:"),
        ({"schema_version": 2}, "en", {}, "facts.schema_version"),
        ({"schema_version": 1}, "en", {}, "facts.os"),
        (None, "fr", {}, "lang"),
        (None, "en", {"expiry_days": 3}, "options"),
        (None, "en", {"expiry_warning_days": -1}, "expiry_warning_days"),
        (None, "en", {"expiry_warning_days": "30"}, "expiry_warning_days"),
    ],
)
def test_bad_input_names_the_field(facts, lang, options, field):
    facts = facts_of(compliant_2022_host()) if facts is None else facts
    with pytest.raises(AssessError, match=re.escape(field)):
        assess(facts, lang, **options)


def test_broken_sections_are_named():
    facts = facts_of(compliant_2022_host())
    facts["sql"] = {"instances": "none"}
    with pytest.raises(AssessError, match=re.escape("facts.sql.instances")):
        assess(facts)
