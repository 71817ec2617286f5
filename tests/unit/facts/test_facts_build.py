"""Facts from hand-written agent responses (fixtures/*.json, docs/agent-protocol.md)."""

import json
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import OpResult
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import SCHEMA_VERSION, build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS
from ansible_collections.mssql.tls.tests.unit.facts.winhost import NOW, Host, agent_results

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name):
    return build_facts(json.loads((FIXTURES / name).read_text()), now=NOW)


def test_server_2016_with_sql_2014_sp1_cu1():
    facts = fixture("host_2016_sql2014.json")
    assert facts["schema_version"] == SCHEMA_VERSION
    assert facts["host"]["fqdn"] == "sql2016.corp.example"
    assert facts["os"]["version"] == "10.0.14393.3541"
    assert facts["os"]["dhe_leading_zero_fix"]["fixed"] is False
    # TLS 1.0/1.1 disabled on the server side only; TLS 1.2 client Enabled=0xffffffff read as -1
    assert facts["schannel"]["effective"] == {
        "server": ["TLS 1.2"],
        "client": ["TLS 1.0", "TLS 1.1", "TLS 1.2"],
    }
    assert facts["schannel"]["protocols"]["client"]["TLS 1.2"]["registry"]["Enabled"] == 0xFFFFFFFF
    suites = facts["cipher_suites"]
    assert (suites["source"], suites["read_from"]) == ("local", "tls_cmdlet")
    assert suites["dhe"] == ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]

    (instance,) = facts["sql"]["instances"]
    assert (instance["name"], instance["version"], instance["edition"]) == (
        "MSSQLSERVER",
        "12.0.4416.0",
        "Standard Edition",
    )
    assert instance["tls12"] == {
        "supported": False,
        "branch": "2014 SP1 CU",
        "reason": "build_below_branch_minimum",
        "first_tls12_build": "12.0.4439.1",
    }
    assert instance["protocols"] == ["SSL 3.0", "TLS 1.0", "TLS 1.1"]
    assert instance["agent"]["state"] == "Stopped"
    assert instance["hadr_enabled"] is True and instance["clustered"] is False
    bound = instance["certificate"]["bound"]
    assert (
        instance["certificate"]["loaded"]["thumbprint"] == bound
    )  # ERRORLOG (upper case) vs registry (lower)
    assert instance["errorlog"]["evidence"]["errors_17830"] == 3
    assert instance["errorlog"]["evidence"]["errors_17830_10054"] == 2
    assert instance["errorlog"]["evidence"]["errors_17197"] == 1
    assert instance["errorlog"]["evidence"]["login_ms_10054"] == {
        "total": 10,
        "enqueued": 3,
        "establishing_ssl": 6,
    }

    certs = {c["thumbprint"]: c for c in facts["certificates"]}
    assert certs[bound]["signature_hash"] == "sha512"
    assert certs[bound]["days_left"] == 45
    ec_cert = next(c for c in facts["certificates"] if c["key_type"] == "EC")
    assert ec_cert["effective_purposes"] == [] and ec_cert["sql_auto_pick_candidate"] is False

    drivers = {(d["name"], d["bitness"]): d for d in facts["drivers"]}
    assert drivers[("SQL Server", 64)]["tls12"]["supported"] is False
    assert drivers[("SQL Server", 32)]["product_version"] == "10.0.14393.0"
    assert drivers[("ODBC Driver 17 for SQL Server", 64)]["tls12"]["supported"] is True
    assert drivers[("SQLNCLI11", 64)]["tls12"]["supported"] is False
    assert facts["schannel_events"]["counts"] == {"36874": 0, "36888": 7, "36887": 0}
    assert facts["gather_errors"] == []


def test_server_2012_r2_with_a_gpo_list_and_a_named_sql_2012_instance():
    facts = fixture("host_2012r2_sql2012.json")
    assert facts["os"]["version_tuple"] == [6, 3, 9600, 21620]
    assert facts["schannel"]["effective"]["server"] == [
        "TLS 1.0",
        "TLS 1.2",
    ]  # SSL 3.0 off, TLS 1.1 DisabledByDefault
    assert facts["schannel"]["tls13_keys_present"] is True
    assert facts["schannel"]["other_protocol_keys"] == ["Multi-Protocol Unified Hello"]
    suites = facts["cipher_suites"]
    assert suites["source"] == "policy"
    assert suites["tls_cmdlet"] == {"available": False, "error_kind": "unsupported", "names": []}
    assert suites["policy"]["ecc_curves"] == ["NistP384", "NistP256"]
    assert suites["removed_by_schannel_keys"] == ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA"]
    assert suites["configured"][0] == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P384"

    (instance,) = facts["sql"]["instances"]  # the Reporting Services instance is not an engine
    assert (instance["name"], instance["id"]) == ("PAYROLL", "MSSQL11.PAYROLL")
    assert (instance["version"], instance["version_source"]) == ("11.0.6020.0", "setup_patch_level")
    assert instance["tls12"]["first_tls12_build"] == "11.0.6216.27"
    assert instance["tcp_dynamic_ports"] == "49172"
    assert instance["certificate"]["bound"] is None
    loaded = instance["certificate"]["loaded"]["thumbprint"]
    assert instance["certificate"]["auto_pick_candidates"] == [
        loaded
    ]  # the MD5 one; the others are not eligible

    certs = {c["thumbprint"]: c for c in facts["certificates"]}
    assert certs[loaded]["signature_hash"] == "md5"
    assert sorted(c["eku_property"] is not None for c in facts["certificates"]) == [False, False, True]
    assert any(c["expired"] for c in facts["certificates"])
    assert facts["dotnet"]["keys"]["v4"]["SchUseStrongCrypto"] is None
    assert facts["dotnet"]["v4_version"] == "4.5.51209"
    assert facts["fips"]["enabled"] is True
    assert facts["gather_errors"] == []  # Get-TlsCipherSuite missing on 2012 R2 is normal


@pytest.mark.parametrize("name", ["host_2016_sql2014.json", "host_2012r2_sql2012.json"])
def test_facts_are_plain_json_data_as_ansible_facts_must_be(name):
    facts = fixture(name)
    assert json.loads(json.dumps(facts)) == facts


def test_op_results_from_the_client_are_accepted_as_they_are():
    raw = agent_results(Host())
    results = [
        OpResult(
            op="x",
            ok=r["ok"],
            data=r.get("data"),
            error_kind=(r.get("error") or {}).get("kind"),
            error_message=(r.get("error") or {}).get("message"),
        )
        for r in raw
    ]
    assert build_facts(results, now=NOW) == build_facts(raw, now=NOW)


def test_failed_reads_are_reported_in_gather_errors():
    raw = agent_results(Host())
    raw[GATHER_KEYS.index("events.schannel")] = {
        "ok": False,
        "error": {"kind": "access_denied", "message": "System log"},
    }
    facts = build_facts(raw, now=NOW)
    assert facts["gather_errors"] == [
        {"key": "events.schannel", "kind": "access_denied", "message": "System log"}
    ]
    assert facts["schannel_events"]["available"] is False


def test_a_result_list_that_does_not_match_the_batch_is_refused_by_name():
    with pytest.raises(ValueError, match=f"batch_results: expected {len(GATHER_KEYS)} results"):
        build_facts(agent_results(Host())[:-1], now=NOW)
    with pytest.raises(ValueError, match="'ok' field"):
        build_facts([{}] * len(GATHER_KEYS), now=NOW)
    with pytest.raises(ValueError, match="now: expected a timezone-aware"):
        build_facts(agent_results(Host()), now=NOW.replace(tzinfo=None))
