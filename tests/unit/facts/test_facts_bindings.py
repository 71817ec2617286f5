"""Where else a certificate is used, key facts, service SIDs and pending activations in the facts.

Sources: docs/reference-windows-bindings.md 1 (RDP), 2 (WinRM listeners), 3 (http.sys), 4 (service
SIDs, with the published test vectors), 5 (key DACLs); facts/pending.py (the host's journal).
"""

import json
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.bindings import bindings_facts, unread, used_by
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.service_sid import service_sid
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    NOW,
    Host,
    Instance,
    agent_results,
    facts_of,
)

FIXTURES = Path(__file__).parent / "fixtures"
WINRM_APP_ID = "{afebb9ad-9b97-4a91-9ab5-daf4d59122f6}"
WINRM_CERT = "ee4d4e4b0c33cfa652806a0044f5a824bce6e2ad"


def fixture(name):
    return build_facts(json.loads((FIXTURES / name).read_text()), now=NOW)


@pytest.mark.parametrize(
    ("service", "sid"),
    [
        ("WinRM", "S-1-5-80-569256582-2953403351-2909559716-1301513147-412116970"),
        ("TrustedInstaller", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"),
        ("Wecsvc", "S-1-5-80-4059739203-877974739-1245631912-527174227-2996563517"),
        ("HTTP", "S-1-5-80-3734987283-965611577-2130035942-3636592211-2616856863"),
        ("W3SVC", "S-1-5-80-989796750-4090848350-2040919084-978865222-2182970707"),
        ("MSSQLSERVER", "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"),
        ("SQLSERVERAGENT", "S-1-5-80-344959196-2060754871-2302487193-2804545603-1466107430"),
    ],
)
def test_service_sids_match_the_published_ones(service, sid):
    assert service_sid(service) == sid


def test_the_service_name_is_upper_cased_first():
    assert service_sid("MSSQL$SQLEXPRESS") == service_sid("mssql$sqlexpress")


def test_a_2016_host_whose_winrm_https_rdp_and_http_sys_share_one_certificate():
    facts = fixture("host_2016_sql2014.json")
    bindings = facts["bindings"]
    assert bindings["rdp"] == {"read": True, "custom": True, "thumbprint": WINRM_CERT}
    (listener,) = bindings["winrm_https"]["listeners"]
    assert (listener["key"], listener["port"], listener["thumbprint"], listener["enabled"]) == (
        "*+HTTPS",
        5986,
        WINRM_CERT,
        True,
    )
    (endpoint,) = bindings["http_sys"]["endpoints"]
    assert endpoint == {
        "kind": "ip",
        "endpoint": "0.0.0.0:5986",
        "thumbprint": WINRM_CERT,
        "app_id": WINRM_APP_ID,
        "store": "MY",
        "complete": True,
    }
    certs = {c["thumbprint"]: c for c in facts["certificates"]}
    assert [u["service"] for u in certs[WINRM_CERT]["used_by"]] == ["rdp", "winrm_https", "http_sys"]
    sql_cert = certs["85bddd12b1fa8615ff0603a3bf6668f3cfe3004d"]
    assert sql_cert["used_by"] == []
    assert (sql_cert["key_provider_type"], sql_cert["key_acl"]["kind"]) == (12, "csp")
    assert certs[WINRM_CERT]["key_acl"]["kind"] == "cng" and certs[WINRM_CERT]["prop9"] == "MAoGCCsGAQUFBwMC"
    (instance,) = facts["sql"]["instances"]
    assert instance["service_sid"] == "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"
    assert sql_cert["key_acl"]["sddl"].endswith(f"(A;;GR;;;{instance['service_sid']})")


def test_a_2012r2_host_with_the_self_signed_rdp_certificate_and_an_unreadable_key_dacl():
    facts = fixture("host_2012r2_sql2012.json")
    assert facts["bindings"]["rdp"] == {"read": True, "custom": False, "thumbprint": None}
    assert facts["bindings"]["winrm_https"]["listeners"] == []
    assert facts["bindings"]["http_sys"] == {"read": True, "endpoints": []}
    denied = [c for c in facts["certificates"] if c["key_acl_error"]]
    assert len(denied) == 1 and denied[0]["key_acl"] is None
    assert denied[0]["key_acl_error"]["kind"] == "access_denied"
    assert all(c["used_by"] == [] for c in facts["certificates"])


def test_pending_comes_from_the_journal_against_the_last_boot():
    assert fixture("host_2016_sql2014.json")["pending"]["read"] is True
    assert fixture("host_2016_sql2014.json")["pending"]["reboot"] is False  # written before the last boot
    record = {
        "id": "20261130T020000Z-abcdef.schannel_protocols.1",
        "created_utc": "2026-11-30T02:00:05Z",
        "lines": [
            json.dumps({"v": 1, "run": "20261130T020000Z-abcdef", "activations": ["reboot"], "ops": [{}]}),
            json.dumps({"applied": 0}),
            json.dumps({"done": True, "stopped_at": None}),
        ],
    }
    pending = facts_of(Host(journal_records=[record]))["pending"]
    assert pending["reboot"] is True and pending["reboot_records"][0]["journal_id"] == record["id"]


def test_a_journal_that_cannot_be_read_is_not_read_rather_than_empty():
    raw = agent_results(Host())
    raw[GATHER_KEYS.index("journal")] = {"ok": False, "error": {"kind": "access_denied", "message": "x"}}
    assert build_facts(raw, now=NOW)["pending"]["read"] is False


def test_binding_sources_that_could_not_be_read_are_named():
    raw = agent_results(Host(winrm_https_certificate="AB" * 20))
    raw[GATHER_KEYS.index("bindings.wsman")] = {
        "ok": False,
        "error": {"kind": "access_denied", "message": "x"},
    }
    facts = build_facts(raw, now=NOW)
    assert unread(facts["bindings"]) == ["winrm_https"]
    partial = bindings_facts(
        {"exists": True, "values": {}, "subkeys": {}},
        {"exists": True, "values": {}, "subkeys": {"*+HTTPS": None}},  # denied subkey
        {"exists": False, "values": {}, "subkeys": {}},
        {"exists": False, "values": {}, "subkeys": {}},
    )
    assert unread(partial) == ["winrm_https"]


def test_an_sni_binding_is_named_by_its_hostname_port_value_and_other_stores_do_not_count():
    sni = {
        "exists": True,
        "values": {},
        "subkeys": {
            "whatever": {
                "values": {
                    "HostnamePort": {"type": "REG_SZ", "data": "sql.example:443"},
                    "SslCertHash": {"type": "REG_BINARY", "data": "q83vASNFZ4mrze8BI0VniavN7wE="},
                    "SslCertStoreName": {"type": "REG_SZ", "data": "WebHosting"},
                },
                "subkeys": {},
            }
        },
    }
    facts = bindings_facts(None, None, {"exists": False, "values": {}, "subkeys": {}}, sni)
    (endpoint,) = facts["http_sys"]["endpoints"]
    assert (endpoint["endpoint"], endpoint["store"]) == ("sql.example:443", "WEBHOSTING")
    assert used_by(facts, endpoint["thumbprint"]) == []
    assert facts["rdp"]["read"] is False and unread(facts) == ["rdp", "winrm_https"]


def test_availability_group_resources_are_kept_in_the_cluster_facts():
    ag = {
        "name": "AG1",
        "type": "SQL Server Availability Group",
        "group": "AG1",
        "owner_node": "SQL1",
        "state": "Online",
        "private": {},
    }
    facts = facts_of(Host(cluster_node=True, cluster_resources=[ag], instances=[Instance(hadr=True)]))
    assert facts["cluster"]["ag_resources"] == [ag]
