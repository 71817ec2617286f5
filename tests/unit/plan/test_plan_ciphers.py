"""The cipher_suites planner: the list in force, edited where it lives, never emptied, truncated or
left without a suite for a SQL Server certificate; scenario 2 repaired from the OS default list."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import assess, scenarios_of
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.ciphers import LOCAL_LIST_KEY, POLICY_LIST_KEY
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import default_suites
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import journal_for, parse_record
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.rollback import (
    plan_rollback,
    probe_ops,
    restore_items,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.ciphers import (
    cipher_policy,
    plan_cipher_suite_changes,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import PolicyError
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.result import blocker_message, warning_message
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert, thumbprint
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    NO_DHE_2022,
    SELF_GENERATED_LINE,
    WS2012R2,
    WS2016,
    WS2019,
    Host,
    compliant_2022_host,
    dword,
    key,
    loaded_line,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import agent_results as raw_results
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost

DEFAULT = cipher_policy()
POLICY_VALUE = f"{POLICY_LIST_KEY}\\Functions"
LOCAL_VALUE = f"{LOCAL_LIST_KEY}\\Functions"
# The s2 lab profile's Policy list: ECDSA suites only.
ECDSA_ONLY = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
)
RSA_ONLY_2022 = [n for n in NO_DHE_2022 if "ECDSA" not in n]
WS2019_DEFAULT = list(default_suites(WS2019)[1])
WS2016_DEFAULT = list(default_suites(WS2016)[1])


def sql_host(cert: str = "rsa", **changes: Any) -> Host:
    """Server 2022, SQL Server serving an RSA, an ECDSA ('ec') or its self-generated ('self') certificate."""
    host = compliant_2022_host(**changes)
    if not host.instances:
        return host
    instance = host.instances[0]
    if cert == "self":
        host.certificates, instance.certificate, instance.errorlog = [], None, [SELF_GENERATED_LINE]
    elif cert == "ec":
        der = make_cert("sql1.lab.local", key_type="ec", sans=("sql1.lab.local",))
        tp = thumbprint(der).lower()
        host.certificates = [
            cert_entry(der, key_provider="Microsoft Software Key Storage Provider", key_spec=0)
        ]
        instance.certificate, instance.errorlog = tp, [loaded_line(tp)]
    return host


def plan_for(host: Host, policy=DEFAULT):
    raw = RawHost(raw_results(host))
    return raw, plan_cipher_suite_changes(raw.facts(), policy)


def after(raw: RawHost, plan) -> dict[str, Any]:
    """Apply the plan as the agent would (checking every expect) and gather again."""
    return raw.apply_all(plan.write_ops()).facts()


def codes(items) -> list[str]:
    return [i.code for i in items]


def in_force(facts) -> list[str]:
    return facts["cipher_suites"]["configured"]


# --- the Policy list (REG_SZ) -------------------------------------------------------------------
def test_a_policy_list_with_dhe_is_rewritten_as_one_string_expecting_its_exact_value_and_needs_a_reboot():
    value = (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_DHE_RSA_WITH_AES_256_GCM_SHA384,"
        "TLS_RSA_WITH_AES_256_GCM_SHA384"
    )
    raw, plan = plan_for(sql_host(policy_suites=value))
    (planned,) = plan.ops
    assert planned.op["op"] == "reg.write" and planned.op["type"] == "REG_SZ"
    assert planned.op["expect"] == {"type": "REG_SZ", "data": value}  # spaces and all, as read
    assert planned.op["value"] == {
        "data": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_256_GCM_SHA384"
    }
    assert planned.target == {"kind": "reg_value", "path": POLICY_LIST_KEY, "name": "Functions"}
    assert plan.activations == ("reboot",) and plan.reboot_required
    assert codes(plan.warnings) == ["cipher_policy_gpo_owned"]  # policy_owned defaults to warn
    facts = after(raw, plan)
    assert facts["cipher_suites"]["dhe"] == [] and facts["cipher_suites"]["source"] == "policy"
    assert plan_cipher_suite_changes(facts, DEFAULT).empty


def test_warn_says_the_domain_gpo_must_change_too_in_both_languages():
    _raw, plan = plan_for(sql_host(policy_suites="TLS_DHE_RSA_WITH_AES_256_GCM_SHA384," + ECDSA_ONLY))
    (warning,) = [w for w in plan.warnings if w.code == "cipher_policy_gpo_owned"]
    assert "domain GPO must be changed too" in warning_message(warning, "en")
    assert "policy refresh will put the old list back" in warning_message(warning, "en")
    assert "ドメインの GPO も変更する必要があります" in warning_message(warning, "ja")


def test_refuse_leaves_a_gpo_list_alone_and_force_overrides_it_with_the_warning():
    host = sql_host(policy_suites="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    _raw, refused = plan_for(host, cipher_policy(policy_owned="refuse"))
    assert refused.empty and codes(refused.refusals) == ["cipher_policy_gpo_refused"]
    (blocker,) = refused.blockers
    assert blocker.forceable and not blocker.forced and "policy_owned: warn or edit" in blocker.clears_with
    assert "policy_owned is refuse" in blocker_message(blocker, "en")
    _raw, forced = plan_for(host, cipher_policy(policy_owned="refuse", force=True))
    assert len(forced.ops) == 1 and forced.forced and forced.blockers[0].forced
    assert codes(forced.warnings) == ["cipher_policy_gpo_owned"]


def test_edit_edits_a_gpo_list_without_the_warning():
    host = sql_host(policy_suites="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    _raw, plan = plan_for(host, cipher_policy(policy_owned="edit"))
    assert len(plan.ops) == 1 and plan.warnings == () and plan.blockers == ()


def test_a_policy_string_still_over_1023_characters_is_refused_never_truncated_even_with_force():
    long_list = [
        f"TLS_ECDHE_{auth}_WITH_AES_{b}_CBC_SHA{m}_P{c}"
        for auth in ("RSA", "ECDSA")
        for b in (128, 256)
        for m in ("", "256", "384")
        for c in (256, 384, 521)
    ]
    long_list += ["TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
    value = ",".join(long_list)
    assert len(value) - len(",TLS_DHE_RSA_WITH_AES_256_GCM_SHA384") > 1023
    for policy in (DEFAULT, cipher_policy(force=True)):
        _raw, plan = plan_for(sql_host(policy_suites=value), policy)
        assert plan.empty and codes(plan.blockers) == ["cipher_policy_too_long"]
        (blocker,) = plan.blockers
        assert not blocker.forceable and not blocker.forced and blocker.data["limit"] == 1023
        assert "never truncated" in blocker_message(blocker, "en")


def test_a_policy_string_the_repair_would_push_over_1023_characters_is_refused():
    # 18 ECDSA names (2012 R2 spelling) and an RSA certificate: the RSA suites do not fit.
    ecdsa = [
        f"TLS_ECDHE_ECDSA_WITH_AES_{b}_CBC_SHA{m}_P{c}"
        for b in (128, 256)
        for m in ("", "256", "384")
        for c in (256, 384, 521)
    ]
    _raw, plan = plan_for(sql_host(policy_suites=",".join(ecdsa)))
    assert plan.empty
    assert set(codes(plan.blockers)) == {"cipher_policy_too_long"}


def test_an_over_limit_policy_brought_under_the_limit_by_the_removal_is_written():
    names = [
        f"TLS_DHE_RSA_WITH_AES_{b}_CBC_SHA{m}_P{c}"
        for b in (128, 256)
        for m in ("", "256", "384")
        for c in (256, 384, 521)
    ]
    value = ",".join([*names, *NO_DHE_2022])
    assert len(value) > 1023
    raw, plan = plan_for(sql_host(policy_suites=value))
    assert len(plan.ops) == 1 and plan.blockers == ()
    assert in_force(after(raw, plan)) == NO_DHE_2022


def test_a_multi_sz_policy_value_is_left_alone_with_a_warning_and_the_local_list_is_planned():
    host = sql_host(
        policy_suites=ECDSA_ONLY.split(","), policy_type="REG_MULTI_SZ", local_suites=WS2019_DEFAULT
    )
    _raw, plan = plan_for(host)
    assert codes(plan.warnings) == ["cipher_policy_multi_sz"]
    assert {o["op"] for o in plan.write_ops()} == {"tls.suite.disable"}
    assert all(POLICY_LIST_KEY not in p.change.target for p in plan.ops)
    assert "REG_MULTI_SZ" in warning_message(plan.warnings[0], "en")


def test_an_empty_policy_value_is_left_alone_with_a_warning_and_the_local_list_is_planned():
    _raw, plan = plan_for(sql_host(policy_suites="", local_suites=WS2019_DEFAULT))
    assert codes(plan.warnings) == ["cipher_policy_empty"]
    assert [o["op"] for o in plan.write_ops()] == ["tls.suite.disable"] * 2


# --- the Local list through the TLS cmdlets (2016 and later) ------------------------------------
def test_on_2019_each_dhe_suite_is_disabled_by_the_cmdlet_with_positions_as_the_list_shrinks():
    raw, plan = plan_for(sql_host(version=WS2019, local_suites=None))  # OS default list in force
    assert [o["op"] for o in plan.write_ops()] == ["tls.suite.disable", "tls.suite.disable"]
    assert [o["name"] for o in plan.write_ops()] == [
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    ]
    assert all(o["expect"] == {"present": True} for o in plan.write_ops())
    assert [p.before for p in plan.ops] == [
        {"present": True, "position": 4},
        {"present": True, "position": 4},
    ]
    assert [p.after for p in plan.ops] == [{"present": False}] * 2
    assert [p.change.before for p in plan.ops] == [4, 5]  # the diff shows positions as gathered
    assert plan.ops[0].target == {"kind": "suite", "name": "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"}
    assert plan.activations == ("immediate",) and not plan.reboot_required
    facts = after(raw, plan)
    assert in_force(facts) == [n for n in WS2019_DEFAULT if not n.startswith("TLS_DHE_")]
    assert plan_cipher_suite_changes(facts, DEFAULT).empty


def test_on_2016_every_dhe_rsa_and_dhe_dss_suite_goes_and_scenarios_3_and_5_clear():
    host = sql_host(version=(10, 0, 14393, 3541), local_suites=WS2016_DEFAULT, cmdlet=True)
    raw, plan = plan_for(host)
    assert 3 in scenarios_of(assess(raw.facts())) and 5 in scenarios_of(assess(raw.facts()))
    assert len(plan.ops) == 9
    facts = after(raw, plan)
    assert not {2, 3, 5} & set(scenarios_of(assess(facts)))


def test_the_cmdlet_is_required_on_2016_and_later_when_it_did_not_answer():
    _raw, plan = plan_for(sql_host(version=WS2019, cmdlet=False, local_suites=WS2019_DEFAULT))
    assert plan.empty and codes(plan.blockers) == ["tls_cmdlet_unavailable"]
    assert not plan.blockers[0].forceable


def test_a_policy_read_that_failed_is_refused_rather_than_guessed_absent():
    raw = RawHost(raw_results(sql_host()))
    facts = raw.facts()
    del facts["registry"][POLICY_LIST_KEY]
    plan = plan_cipher_suite_changes(facts, DEFAULT)
    assert plan.empty and codes(plan.blockers) == ["registry_not_read"]


# --- the Local REG_MULTI_SZ value on 2012 R2 ----------------------------------------------------
def test_on_2012r2_an_absent_local_list_is_the_os_default_list_written_without_dhe_at_the_next_reboot():
    raw, plan = plan_for(sql_host(version=WS2012R2, local_suites=None))
    (planned,) = plan.ops
    defaults = list(default_suites(WS2012R2)[1])
    assert planned.op == {
        "op": "reg.write",
        "path": LOCAL_LIST_KEY,
        "name": "Functions",
        "type": "REG_MULTI_SZ",
        "value": {"data": [n for n in defaults if not n.startswith("TLS_DHE_")]},
        "expect": None,
    }
    assert plan.activations == ("reboot",)
    facts = after(raw, plan)
    assert facts["cipher_suites"]["source"] == "local" and facts["cipher_suites"]["dhe"] == []
    assert not {2, 3, 5} & set(scenarios_of(assess(facts)))
    assert plan_cipher_suite_changes(facts, DEFAULT).empty


def test_on_2012r2_a_present_local_list_is_rewritten_expecting_its_exact_value():
    local = ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
    _raw, plan = plan_for(sql_host(version=WS2012R2, local_suites=local))
    (planned,) = plan.ops
    assert planned.op["expect"] == {"type": "REG_MULTI_SZ", "data": local}
    assert planned.op["value"] == {"data": local[:1]}
    assert planned.change.target == LOCAL_VALUE


# --- never empty, never without a suite for a certificate in use --------------------------------
def test_a_removal_that_empties_the_list_is_refused_even_with_force():
    for policy in (cipher_policy(remove=["*"]), cipher_policy(remove=["*"], force=True)):
        _raw, plan = plan_for(sql_host(instances=[], certificates=[]), policy)
        assert plan.empty and codes(plan.blockers) == ["cipher_list_empty"]
        assert not plan.blockers[0].forceable


def test_removing_every_rsa_suite_is_refused_for_an_rsa_certificate_even_with_force():
    policy = cipher_policy(remove=["TLS_ECDHE_RSA_*", "TLS_RSA_*"], force=True)
    _raw, plan = plan_for(sql_host("rsa"), policy)
    assert plan.empty and codes(plan.blockers) == ["cipher_no_suite_for_certificate"]
    (blocker,) = plan.blockers
    assert blocker.data["key_type"] == "RSA" and blocker.data["protocols"] == ["TLS 1.2"]
    assert not blocker.forceable and not blocker.unfixable and blocker.target == "server:MSSQLSERVER"
    assert "every connection to it would fail" in blocker_message(blocker, "en")


def test_removing_every_ecdsa_suite_is_refused_for_an_ecdsa_certificate():
    _raw, plan = plan_for(sql_host("ec"), cipher_policy(remove=["TLS_ECDHE_ECDSA_*"]))
    assert plan.empty and codes(plan.blockers) == ["cipher_no_suite_for_certificate"]
    assert plan.blockers[0].data["key_type"] == "ECDSA"


def test_the_same_removal_goes_ahead_where_no_certificate_needs_those_suites():
    raw, plan = plan_for(sql_host("rsa"), cipher_policy(remove=["TLS_ECDHE_ECDSA_*"]))
    assert len(plan.ops) == 2 and plan.blockers == ()
    assert not any("ECDSA" in n for n in in_force(after(raw, plan)))


def test_the_self_generated_certificate_counts_as_rsa():
    _raw, plan = plan_for(sql_host("self"), cipher_policy(remove=["TLS_ECDHE_RSA_*", "TLS_RSA_*"]))
    (blocker,) = plan.blockers
    assert blocker.data == {
        "instance": "MSSQLSERVER",
        "key_type": "RSA",
        "protocols": ["TLS 1.2"],
        "thumbprint": "self-generated",
    }


def test_a_bound_ecdsa_certificate_awaiting_a_restart_needs_its_suites_as_well_as_the_loaded_rsa_one():
    host = sql_host("rsa", local_suites=RSA_ONLY_2022)
    der = make_cert("sql1-ec.lab.local", key_type="ec", serial=2002)
    host.certificates.append(
        cert_entry(der, key_provider="Microsoft Software Key Storage Provider", key_spec=0)
    )
    host.instances[0].certificate = thumbprint(der).lower()  # loaded is still the RSA one
    _raw, plan = plan_for(host)
    added = [o["name"] for o in plan.write_ops() if o["op"] == "tls.suite.enable"]
    assert added and all("ECDSA" in n for n in added)
    assert codes(plan.warnings) == ["cipher_suites_restored"]


def test_suites_switched_off_by_schannel_keys_do_not_count_as_serving_a_certificate():
    # ECDH off: ECDHE_RSA suites are in the list but unusable; removing TLS_RSA_* leaves nothing for RSA.
    switches = {"KeyExchangeAlgorithms": key({}, {"ECDH": key({"Enabled": dword(0)})})}
    policy = cipher_policy(remove=["TLS_RSA_*"])
    _raw, plan = plan_for(sql_host("rsa", schannel_subkeys=switches), policy)
    assert plan.empty and codes(plan.blockers) == ["cipher_no_suite_for_certificate"]


# --- scenario 2: restore the certificate's suites from the OS default list -----------------------
def test_scenario2_ecdsa_policy_with_an_rsa_certificate_gets_the_os_default_rsa_suites_without_dhe():
    raw, plan = plan_for(sql_host("rsa", version=WS2019, policy_suites=ECDSA_ONLY))
    assert 2 in scenarios_of(assess(raw.facts()))
    (planned,) = plan.ops
    written = planned.op["value"]["data"].split(",")
    added = written[4:]
    assert written[:4] == ECDSA_ONLY.split(",")  # the existing order stays first
    assert added == [
        n
        for n in WS2019_DEFAULT
        if n.startswith(("TLS_ECDHE_RSA_", "TLS_RSA_")) and "3DES" not in n and "NULL" not in n
    ]  # the OS default order, no TLS_DHE, AES only
    assert codes(plan.warnings) == ["cipher_policy_gpo_owned", "cipher_suites_restored"]
    restored = plan.warnings[1]
    assert restored.data["key_type"] == "RSA" and restored.data["count"] == len(added)
    facts = after(raw, plan)
    assert not {2, 3, 5} & set(scenarios_of(assess(facts)))
    assert plan_cipher_suite_changes(facts, DEFAULT).empty


def test_scenario2_local_list_of_rsa_suites_with_an_ecdsa_certificate_gets_the_ecdsa_suites_at_the_end():
    raw, plan = plan_for(sql_host("ec", local_suites=RSA_ONLY_2022))
    enables = [o for o in plan.write_ops() if o["op"] == "tls.suite.enable"]
    expected = [n for n in default_suites((10, 0, 20348, 2700))[1] if n.startswith("TLS_ECDHE_ECDSA_")]
    assert [o["name"] for o in enables] == expected
    assert [o["position"] for o in enables] == list(
        range(len(RSA_ONLY_2022), len(RSA_ONLY_2022) + len(expected))
    )
    assert all(o["expect"] is None for o in enables)
    facts = after(raw, plan)
    assert in_force(facts) == RSA_ONLY_2022 + expected
    assert 2 not in scenarios_of(assess(facts))


def test_without_the_repair_scenario2_is_reported_unfixable_and_the_dhe_removal_still_goes_ahead():
    policy_value = ECDSA_ONLY + ",TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    policy = cipher_policy(restore_for_certificates=False)
    # DHE_RSA serves the RSA certificate today; removing it would break it: refused.
    _raw, refused = plan_for(sql_host("rsa", policy_suites=policy_value), policy)
    assert refused.empty and not refused.blockers[0].unfixable
    assert "restore_for_certificates: true" in refused.blockers[0].clears_with
    # Already without an RSA suite (DHE_DSS serves DSA keys only): the removal goes ahead and
    # scenario 2 is reported as staying.
    raw, plan = plan_for(
        sql_host("rsa", policy_suites=ECDSA_ONLY + ",TLS_DHE_DSS_WITH_AES_256_CBC_SHA"), policy
    )
    assert len(plan.ops) == 1 and [b.unfixable for b in plan.blockers] == [True]
    assert "Scenario 2 stays" in blocker_message(plan.blockers[0], "en")
    assert "シナリオ 2 は残ります" in blocker_message(plan.blockers[0], "ja")
    facts = after(raw, plan)
    again = plan_cipher_suite_changes(facts, policy)
    assert again.empty and [b.unfixable for b in again.blockers] == [True]


# --- explicit order -----------------------------------------------------------------------------
def test_order_puts_the_named_suites_first_in_the_policy_string():
    value = (
        "TLS_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    )
    policy = cipher_policy(
        order=["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    )
    raw, plan = plan_for(sql_host(policy_suites=value), policy)
    assert plan.write_ops()[0]["value"]["data"] == (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_256_GCM_SHA384"
    )
    assert plan_cipher_suite_changes(after(raw, plan), policy).empty


def test_order_moves_suites_through_the_cmdlets_by_disabling_and_enabling_them_at_their_place():
    policy = cipher_policy(order=["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    raw, plan = plan_for(sql_host(), policy)
    ops = [(o["op"], o["name"], o.get("position")) for o in plan.write_ops()]
    assert ops == [
        ("tls.suite.disable", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", None),
        ("tls.suite.disable", "TLS_RSA_WITH_AES_128_GCM_SHA256", None),
        ("tls.suite.enable", "TLS_RSA_WITH_AES_128_GCM_SHA256", 0),
        ("tls.suite.enable", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 1),
    ]
    facts = after(raw, plan)
    assert in_force(facts)[:2] == list(policy.order)
    assert sorted(in_force(facts)) == sorted(NO_DHE_2022)
    assert plan_cipher_suite_changes(facts, policy).empty


def test_order_names_a_2012r2_suite_without_its_curve_suffix_and_only_reorders():
    local = [
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P384",
    ]
    policy = cipher_policy(
        order=["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    )
    _raw, plan = plan_for(sql_host(version=WS2012R2, local_suites=local), policy)
    assert plan.write_ops()[0]["value"]["data"] == local[1:] + local[:1]
    assert codes(plan.warnings) == ["cipher_order_not_in_list"]
    assert plan.warnings[0].data["suites"] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


# --- nothing to do, and the policy arguments ------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        sql_host(),
        sql_host("ec"),
        sql_host(version=WS2012R2, local_suites=[n for n in default_suites(WS2012R2)[1] if "DHE" not in n]),
        sql_host(policy_suites=",".join(NO_DHE_2022)),
    ],
    ids=["2022-local", "2022-ecdsa", "2012r2-local", "policy"],
)
def test_a_compliant_host_gets_an_empty_plan_without_blockers_or_warnings(host):
    _raw, plan = plan_for(host)
    assert plan.empty and plan.blockers == () and plan.warnings == ()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"remove": "TLS_DHE_*"}, "remove"),
        ({"remove": ["tls_dhe_*"]}, "remove[0]"),
        ({"order": ["TLS_ECDHE_RSA_*"]}, "order[0]"),
        ({"order": ["TLS_NOT_A_SUITE"]}, "order[0]"),
        ({"order": ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"]}, "order[1]"),
        ({"order": ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]}, "order[0]"),
        ({"policy_owned": "ignore"}, "policy_owned"),
        ({"force": "yes"}, "force"),
    ],
)
def test_policy_arguments_that_do_not_describe_a_policy_are_refused_naming_the_field(args, field):
    with pytest.raises(PolicyError, match="^" + re.escape(field) + ":"):
        cipher_policy(**args)


# --- rollback from the journal ------------------------------------------------------------------
RUN = "20261207T190000Z-ab12cd"


def remediate(raw: RawHost, plan):
    import datetime as dt

    journal = journal_for(
        plan, run_id=RUN, module="cipher_suites", now=dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    )
    lines = [journal["line"]]
    for index, op in enumerate(plan.write_ops()):
        raw.apply(op)
        lines.append(json.dumps({"applied": index}))
    lines.append(json.dumps({"done": True, "stopped_at": None}))
    return parse_record({"id": journal["id"], "lines": lines, "created_utc": "2026-12-07T19:00:01Z"})


def rollback(raw: RawHost, records):
    items = restore_items(records)
    reads, keys = probe_ops(items)
    plan = plan_rollback(items, keys, [raw.read(op) for op in reads])
    raw.apply_all(plan.write_ops())
    return plan


@pytest.mark.parametrize(
    "host",
    [sql_host(version=WS2019, local_suites=WS2019_DEFAULT), sql_host("ec", local_suites=RSA_ONLY_2022)],
    ids=["dhe-removed", "ecdsa-restored"],
)
def test_rollback_puts_the_local_list_back_suite_by_suite(host):
    raw = RawHost(raw_results(host))
    before = in_force(raw.facts())
    record = remediate(raw, plan_cipher_suite_changes(raw.facts(), DEFAULT))
    assert in_force(raw.facts()) != before
    plan = rollback(raw, [record])
    assert plan.blockers == () and in_force(raw.facts()) == before


def test_rollback_puts_the_policy_string_back():
    value = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    raw = RawHost(raw_results(sql_host(policy_suites=value)))
    record = remediate(raw, plan_cipher_suite_changes(raw.facts(), DEFAULT))
    rollback(raw, [record])
    assert raw.value(POLICY_LIST_KEY, "Functions") == {"type": "REG_SZ", "data": value}


def test_rollback_puts_a_suite_moved_by_order_back_in_its_place():
    raw = RawHost(raw_results(sql_host()))
    policy = cipher_policy(order=["TLS_RSA_WITH_AES_128_GCM_SHA256"])
    record = remediate(raw, plan_cipher_suite_changes(raw.facts(), policy))
    plan = rollback(raw, [record])
    assert plan.blockers == () and in_force(raw.facts()) == NO_DHE_2022
