"""sql_encryption: SuperSocketNetLib Certificate/ForceEncryption/ForceStrict, a certificate checked against
reference/sqlserver-tls.md 4 before it is bound, and the service SID's read access to its private key."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificates import PolicyError
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.sql_binding import (
    binding_policy,
    plan_sql_encryption,
)
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import CLIENT_AUTH, eku_property
from ansible_collections.mssql.tls.tests.unit.facts.winhost import Instance, agent_results, facts_of
from ansible_collections.mssql.tls.tests.unit.plan.certhost import (
    DEFAULT_ACL,
    SID_MSSQLSERVER,
    auto,
    bound,
    cert,
    host,
)
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost

NETLIB = r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\MSSQL16.MSSQLSERVER\MSSQLServer\SuperSocketNetLib"


def plan(h, **policy):
    return plan_sql_encryption(facts_of(h), binding_policy(**policy))


def ops(p):
    return [
        (o.op["op"], o.op.get("name") or o.op.get("thumbprint"), o.op.get("value") or o.op.get("sddl"))
        for o in p.ops
    ]


def test_clearing_writes_the_empty_string_and_nothing_when_nothing_is_bound():
    tp, entry = cert("sha512")
    p = plan(host([entry], [bound(tp)]), certificate="")
    (planned,) = p.ops
    assert planned.op == {
        "op": "reg.write",
        "path": NETLIB,
        "name": "Certificate",
        "type": "REG_SZ",
        "value": {"data": ""},
        "expect": {"type": "REG_SZ", "data": tp},
    }
    assert planned.change.instances == ("MSSQL16.MSSQLSERVER",)
    assert plan(host([entry], [auto(tp)]), certificate="").ops == ()


def test_only_instances_bound_to_a_weak_certificate_are_cleared_with_hashes():
    weak_tp, weak = cert("sha224", serial=1)
    good_tp, good = cert("sha256", serial=2)
    h = host([weak, good], [bound(weak_tp), bound(good_tp, name="HR")])
    p = plan(h, certificate="", hashes=["md5", "sha224", "sha512"])
    assert [o.change.instances for o in p.ops] == [("MSSQL16.MSSQLSERVER",)]


def test_binding_a_good_certificate_writes_it_in_lower_case_and_grants_the_service_sid_read():
    old_tp, old = cert("sha512", serial=1)
    tp, entry = cert("sha256", serial=2)
    p = plan(host([old, entry], [bound(old_tp)]), certificate=tp.upper())
    assert p.blockers == ()
    write, grant = p.ops
    assert write.op["value"] == {"data": tp} and write.op["expect"] == {"type": "REG_SZ", "data": old_tp}
    assert grant.op == {
        "op": "cert.key.acl.set",
        "store": "My",
        "thumbprint": tp.upper(),
        "sddl": f"{DEFAULT_ACL}(A;;GR;;;{SID_MSSQLSERVER})",
        "expect": {"data": DEFAULT_ACL},
    }
    assert grant.target == {"kind": "key_acl", "store": "My", "thumbprint": tp.upper()}
    assert (grant.before, grant.after) == (DEFAULT_ACL, f"{DEFAULT_ACL}(A;;GR;;;{SID_MSSQLSERVER})")


def test_read_access_that_is_there_already_is_not_granted_again():
    tp, entry = cert(key_acl=f"D:PAI(A;;FA;;;SY)(A;;0x20089;;;{SID_MSSQLSERVER})")
    assert plan(host([entry], [bound(tp)]), certificate=tp).ops == ()


def test_two_instances_on_one_certificate_chain_their_grants():
    tp, entry = cert()
    h = host([entry], [auto(None), auto(None, name="HR")])
    grants = [o for o in plan(h, certificate=tp).ops if o.op["op"] == "cert.key.acl.set"]
    assert len(grants) == 2
    assert grants[1].op["expect"] == {"data": grants[0].op["sddl"]}
    assert "S-1-5-80-" in grants[1].op["sddl"] and grants[1].op["sddl"].count("(A;;GR;;;") == 2


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: cert(eku=(CLIENT_AUTH,)), "certificate_no_server_auth"),
        (lambda: cert(prop9=eku_property(CLIENT_AUTH)), "certificate_no_server_auth"),
        (lambda: cert(has_private_key=False), "certificate_no_private_key"),
        (lambda: cert(key_spec=2), "certificate_key_unusable"),
        (lambda: cert(cn="other.lab.local"), "certificate_name_mismatch"),
        (lambda: cert("sha512"), "certificate_weak_hash"),
    ],
)
def test_a_certificate_that_fails_a_requirement_is_refused_unless_forced(make, code):
    tp, entry = make()
    h = host([entry], [auto(None)])
    refused = plan(h, certificate=tp)
    assert refused.ops == () and [b.code for b in refused.blockers] == [code]
    forced = plan(h, certificate=tp, force=True)
    assert forced.forced and forced.ops[0].op["value"] == {"data": tp}


def test_a_cng_key_is_usable_from_sql_server_2019_only():
    tp, entry = cert(key_provider="Microsoft Software Key Storage Provider", key_spec=0, key_provider_type=0)
    old = host([entry], [Instance(version="14.0.3465.1", id="MSSQL14.MSSQLSERVER")])
    assert [b.code for b in plan(old, certificate=tp).blockers] == ["certificate_key_unusable"]
    new = host([entry], [auto(None)])
    assert plan(new, certificate=tp).blockers == ()
    assert plan(new, certificate=tp).ops[1].op["op"] == "cert.key.acl.set"  # CNG keys get the grant too


def test_a_failover_cluster_instance_needs_the_virtual_server_name():
    tp, entry = cert(cn="mssqlserver-vs.lab.local")
    fci = host([entry], [Instance(clustered=True)])
    assert plan(fci, certificate=tp).blockers == ()
    standalone_tp, standalone = cert()
    names = plan(host([standalone], [Instance(clustered=True)]), certificate=standalone_tp).blockers
    assert [(b.code, b.data["fqdn"]) for b in names] == [
        ("certificate_name_mismatch", "mssqlserver-vs.lab.local")
    ]


def test_a_certificate_missing_from_the_store_is_refused_even_with_force():
    p = plan(host([], [auto(None)]), certificate="ab" * 20, force=True)
    assert p.ops == () and [(b.code, b.forced) for b in p.blockers] == [("certificate_not_in_store", False)]


def test_a_forced_binding_without_a_private_key_warns_that_the_start_will_fail():
    tp, entry = cert(has_private_key=False)
    p = plan(host([entry], [auto(None)]), certificate=tp, force=True)
    assert [o.op["op"] for o in p.ops] == ["reg.write"]  # no key: no DACL to grant
    assert [w.code for w in p.warnings] == ["next_start_fails"] and p.warnings[0].data[
        "reason"
    ] == "no_private_key"


def test_an_unreadable_key_dacl_blocks_the_grant_and_a_deny_entry_is_only_reported():
    tp, entry = cert(key_acl_error={"kind": "access_denied", "message": "Access is denied."})
    blocked = plan(host([entry], [auto(None)]), certificate=tp)
    assert blocked.ops == () and [b.code for b in blocked.blockers] == ["key_acl_unreadable"]
    assert [o.op["op"] for o in plan(host([entry], [auto(None)]), certificate=tp, force=True).ops] == [
        "reg.write"
    ]
    deny_tp, deny = cert(key_acl=f"D:P(D;;GA;;;{SID_MSSQLSERVER})(A;;FA;;;SY)")
    p = plan(host([deny], [auto(None)]), certificate=deny_tp)
    assert [o.op["op"] for o in p.ops] == ["reg.write"] and [w.code for w in p.warnings] == [
        "key_acl_denies_service"
    ]


def test_force_encryption_and_force_strict_are_dwords_and_absent_means_off():
    tp, entry = cert()
    h = host([entry], [bound(tp, force_encryption=0)])
    p = plan(h, force_encryption=True, force_strict=False)
    assert [(o.op["name"], o.op["value"]) for o in p.ops] == [("ForceEncryption", {"data": 1})]
    strict = plan(h, force_strict=True)
    assert [(o.op["name"], o.op["value"]) for o in strict.ops] == [("ForceStrict", {"data": 1})]
    assert [w.code for w in strict.warnings] == ["force_strict_side_effects"]


def test_force_strict_needs_sql_server_2022_and_a_configured_certificate():
    tp, entry = cert()
    old = host([entry], [Instance(version="15.0.4395.2", id="MSSQL15.MSSQLSERVER")])
    p = plan(old, force_strict=True, force=True)
    assert p.ops == () and [(b.code, b.forced) for b in p.blockers] == [("force_strict_unsupported", False)]
    cleared = plan(host([entry], [bound(tp, force_strict=1)]), certificate="")
    # the certificate is still the only candidate: SQL Server picks it, strict has a certificate
    assert "force_strict_without_certificate" not in [w.code for w in cleared.warnings]
    weak_tp, weak = cert(eku=(CLIENT_AUTH,), serial=9)
    alone = plan(host([weak], [bound(weak_tp, force_strict=1)]), certificate="")
    assert [w.code for w in alone.warnings] == ["force_strict_without_certificate"]


def test_unknown_instances_are_named():
    p = plan(host([], [auto(None)]), instances=["PAYROLL"], certificate="")
    assert [(w.code, w.data["instance"]) for w in p.warnings] == [("instance_not_found", "payroll")]


def test_policy_errors_name_the_field():
    with pytest.raises(PolicyError, match=r"certificate: expected 40 hex digits"):
        binding_policy(certificate="nope")
    with pytest.raises(PolicyError, match="instances: expected a list"):
        binding_policy(instances="MSSQLSERVER")


def test_applied_then_planned_again_nothing_is_left():
    old_tp, old = cert("sha512", serial=1)
    tp, entry = cert("sha256", serial=2)
    raw = RawHost(agent_results(host([old, entry], [bound(old_tp), auto(None, name="HR")])))
    policy = binding_policy(certificate=tp, force_encryption=True)
    raw.apply_all(plan_sql_encryption(raw.facts(), policy).write_ops())
    facts = raw.facts()
    assert plan_sql_encryption(facts, policy).ops == ()
    assert {i["name"]: i["certificate"]["bound"] for i in facts["sql"]["instances"]} == {
        "HR": tp,
        "MSSQLSERVER": tp,
    }
