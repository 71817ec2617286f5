"""certificate_purpose: property 9 written as reference/sqlserver-tls.md 6 prescribes, never the extension;
only certificates SQL Server uses; never one that RDP, WinRM HTTPS or http.sys present too (without force)."""

from __future__ import annotations

import base64

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.der import decode_oid_sequence
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificates import (
    PolicyError,
    new_property,
    plan_certificate_purpose,
    purpose_policy,
)
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import CLIENT_AUTH, SERVER_AUTH, eku_property
from ansible_collections.mssql.tls.tests.unit.facts.winhost import NOW, agent_results, facts_of
from ansible_collections.mssql.tls.tests.unit.plan.certhost import auto, bound, cert, host
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost

CODE_SIGNING = "1.3.6.1.5.5.7.3.3"


def plan(h, **policy):
    return plan_certificate_purpose(facts_of(h), purpose_policy(**policy))


def written(p) -> list[str]:
    (planned,) = p.ops
    assert planned.op["op"] == "cert.prop.set" and planned.op["prop_id"] == 9
    return decode_oid_sequence(base64.b64decode(planned.op["data"]))


@pytest.mark.parametrize(
    ("extension", "prop", "after"),
    [
        ((SERVER_AUTH, CLIENT_AUTH), None, [CLIENT_AUTH]),  # extension only: it, minus Server Auth
        ((SERVER_AUTH,), None, []),  # nothing left: 30 00, "no purposes"
        (None, None, [CLIENT_AUTH]),  # neither: all purposes, the explicit list stays
        (None, (SERVER_AUTH, CODE_SIGNING), [CODE_SIGNING]),  # property only
        (
            (SERVER_AUTH, CLIENT_AUTH, CODE_SIGNING),
            (SERVER_AUTH, CODE_SIGNING),
            [CODE_SIGNING],
        ),  # intersection
    ],
)
def test_property_9_keeps_every_other_effective_purpose(extension, prop, after):
    tp, entry = cert("md5", eku=extension, prop9=eku_property(*prop) if prop else None)
    p = plan(host([entry], [auto(tp)]))
    assert written(p) == after
    (planned,) = p.ops
    assert planned.op["expect"] == (None if prop is None else {"data": eku_property(*prop)})
    assert planned.target == {"kind": "cert_prop", "store": "My", "thumbprint": tp.upper(), "prop_id": 9}
    assert planned.change.activation == "service_restart" and planned.change.instances == (
        "MSSQL16.MSSQLSERVER",
    )


@pytest.mark.parametrize(
    ("extension", "prop"),
    [((CLIENT_AUTH,), None), ((SERVER_AUTH,), ()), (None, (CLIENT_AUTH,)), ((SERVER_AUTH,), (CLIENT_AUTH,))],
)
def test_a_certificate_without_effective_server_authentication_is_left_alone(extension, prop):
    tp, entry = cert("sha512", eku=extension, prop9=None if prop is None else eku_property(*prop))
    assert new_property(facts_of(host([entry], []))["certificates"][0]["effective_purposes"], ()) is None
    assert plan(host([entry], [auto(tp)]), thumbprints=[tp]).ops == ()


def test_only_weak_certificates_sql_server_uses_are_selected_sha1_on_request():
    idle_tp, idle = cert("md5", serial=2, cn="other.lab.local")
    sha1_tp, sha1 = cert("sha1", serial=3)
    loaded_tp, loaded_entry = cert("sha512", serial=1)
    h = host([loaded_entry, idle, sha1], [bound(sha1_tp), auto(loaded_tp, name="REPORTS")])
    # idle is an auto-pick candidate of REPORTS too (the facts do not require a name match)
    assert {p.target["thumbprint"].lower() for p in plan(h).ops} == {loaded_tp, idle_tp}
    assert {p.target["thumbprint"].lower() for p in plan(h, hashes=["sha1"], force=True).ops} == {sha1_tp}


def test_a_thumbprint_not_used_by_sql_server_is_a_warning_not_a_change():
    tp, entry = cert("md5")
    h = host([entry], [bound(None)])
    h.instances[0].certificate = "ab" * 20  # bound to something missing: nothing auto-picks
    p = plan(h, hashes=[], thumbprints=[tp.upper(), "cd" * 20])
    assert p.ops == ()
    assert {(w.code, w.target) for w in p.warnings} == {
        ("certificate_not_used_by_sql", tp),
        ("certificate_not_in_store", "cd" * 20),
    }


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"rdp_certificate": "TP"}, "rdp (RDP-Tcp)"),
        ({"winrm_https_certificate": "TP"}, "winrm_https (*+HTTPS)"),
        ({"http_sys": {"0.0.0.0:443": "TP"}}, "http_sys (0.0.0.0:443)"),
    ],
)
def test_a_certificate_another_service_presents_is_refused_unless_forced(fields, where):
    tp, entry = cert("sha224")
    for name, value in fields.items():
        fields[name] = {k: tp.upper() for k in value} if isinstance(value, dict) else tp.upper()
    h = host([entry], [auto(tp)], **fields)
    refused = plan(h)
    assert refused.ops == () and not refused.forced
    (blocker,) = refused.blockers
    assert (blocker.code, blocker.forced, blocker.data["services"]) == (
        "certificate_used_elsewhere",
        False,
        [where],
    )
    forced = plan(h, force=True)
    assert len(forced.ops) == 1 and forced.forced and forced.blockers[0].forced


def test_unknown_other_uses_refuse_too():
    tp, entry = cert("md5")
    raw = agent_results(host([entry], [auto(tp)]))
    raw[GATHER_KEYS.index("bindings.http_ssl")] = {
        "ok": False,
        "error": {"kind": "access_denied", "message": "x"},
    }
    p = plan_certificate_purpose(build_facts(raw, now=NOW), purpose_policy())
    assert [(b.code, b.data["sources"]) for b in p.blockers] == [("bindings_not_read", ["http_sys"])]


def test_a_certificate_still_bound_is_refused_the_binding_goes_first():
    tp, entry = cert("sha512")
    p = plan(host([entry], [bound(tp)]))
    assert p.ops == () and [b.code for b in p.blockers] == ["certificate_still_bound"]
    assert p.blockers[0].data["instances"] == ["MSSQLSERVER"]


def test_the_plan_says_what_the_next_start_loads():
    weak_tp, weak = cert("sha512", serial=1)
    other_tp, other = cert("sha224", serial=2)
    # Two weak candidates, one of them used elsewhere: the other stays in the choice.
    p = plan(host([weak, other], [auto(weak_tp)], rdp_certificate=other_tp.upper()))
    assert [w.code for w in p.warnings] == ["next_start_certificate_weak"]
    assert p.warnings[0].data["certificate"] == other_tp and p.warnings[0].data["hashes"] == "SHA224"


def test_policy_errors_name_the_field():
    with pytest.raises(PolicyError, match=r"hashes\[0\]: expected one of"):
        purpose_policy(hashes=["sha3"])
    with pytest.raises(PolicyError, match=r"thumbprints\[0\]: expected 40 hex digits"):
        purpose_policy(thumbprints=["xyz"])
    with pytest.raises(PolicyError, match=r"keep_if_unrestricted\[0\]: Server Authentication"):
        purpose_policy(keep_if_unrestricted=["server_auth"])


def test_applied_then_planned_again_nothing_is_left_and_sql_server_would_self_generate():
    tp, entry = cert("md5", eku=None)
    raw = RawHost(agent_results(host([entry], [auto(tp)])))
    first = plan_certificate_purpose(raw.facts(), purpose_policy())
    raw.apply_all(first.write_ops())
    facts = raw.facts()
    assert plan_certificate_purpose(facts, purpose_policy()).ops == ()
    (c,) = facts["certificates"]
    assert (c["eku_property"], c["server_auth"], c["sql_auto_pick_candidate"]) == (
        [CLIENT_AUTH],
        False,
        False,
    )
