"""mssql.tls.sql_encryption and mssql.tls.certificate_purpose as Ansible runs them, chained as the
weak_certificates role chains them, over the fake agent connection of the cipher-suite action tests."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.certificate_purpose import ActionModule as Purpose
from ansible_collections.mssql.tls.plugins.action.sql_encryption import ActionModule as Encryption
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import CLIENT_AUTH, SERVER_AUTH
from ansible_collections.mssql.tls.tests.unit.facts.winhost import agent_results
from ansible_collections.mssql.tls.tests.unit.plan.certhost import auto, bound, cert, host
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost
from ansible_collections.mssql.tls.tests.unit.plan.test_plan_ciphers_action import RUN_ID, FakeAgent

WEAK = ["md5", "sha224", "sha512"]


def run(action_class, raw, args, facts, *, check_mode=False, diff=False):
    task = SimpleNamespace(
        args={"run_id": RUN_ID, **args}, check_mode=check_mode, async_val=0, diff=diff, action="x"
    )
    agent = FakeAgent(raw)
    action = action_class(task, agent, play_context=None, loader=None, templar=None)
    return action.run(task_vars={"ansible_facts": {"mssql_tls": facts}}), agent


def s4_like():
    """A SHA512 certificate bound to MSSQLSERVER and auto-picked by REPORTS (lab profile s4)."""
    tp, entry = cert("sha512", eku=(SERVER_AUTH, CLIENT_AUTH))
    return tp, RawHost(agent_results(host([entry], [bound(tp), auto(tp, name="REPORTS")])))


def test_the_role_chain_clears_the_binding_then_takes_server_auth_away_on_the_facts_handed_on():
    _tp, raw = s4_like()
    binding, agent = run(Encryption, raw, {"certificate": "", "hashes": WEAK}, raw.facts())
    assert len(agent.requests) == 1 and binding["changed"]
    handed_on = binding["ansible_facts"]["mssql_tls"]
    assert [i["certificate"]["bound"] for i in handed_on["sql"]["instances"]] == [None, None]
    purpose, agent = run(Purpose, raw, {}, handed_on)
    (batch,) = agent.requests  # no gather: the facts handed on were right
    assert [o["op"] for o in batch["ops"]] == ["cert.prop.set"] and purpose["changed"]
    assert purpose["blocked"] == [] and "warnings" not in purpose
    assert set(purpose["restart_pending_instances"]) == {"MSSQL16.MSSQLSERVER", "MSSQL16.REPORTS"}
    assert {v["kind"] for v in purpose["next_start"].values()} == {"self_generated"}
    assert raw.facts() == {**purpose["ansible_facts"]["mssql_tls"], "gathered_at": raw.facts()["gathered_at"]}


def test_a_steady_host_costs_no_command_and_still_asks_for_the_restart_that_is_due():
    _tp, raw = s4_like()
    first, _host = run(Encryption, raw, {"certificate": "", "hashes": WEAK}, raw.facts())
    run(Purpose, raw, {}, first["ansible_facts"]["mssql_tls"])
    # A later run on a fresh gather: nothing to write, but the ERRORLOG still shows the weak certificate.
    for action_class, args in ((Encryption, {"certificate": "", "hashes": WEAK}), (Purpose, {})):
        result, agent = run(action_class, raw, args, raw.facts())
        assert agent.requests == [] and result["changed"] is False and "ansible_facts" not in result
    assert set(result["restart_pending_instances"]) == {"MSSQL16.MSSQLSERVER", "MSSQL16.REPORTS"}


def test_check_mode_with_diff_predicts_and_hands_on_the_predicted_facts():
    tp, raw = s4_like()
    before = raw.facts()
    result, agent = run(
        Encryption, raw, {"certificate": "", "hashes": WEAK}, before, check_mode=True, diff=True
    )
    assert agent.requests == [] and result["changed"] is True and raw.facts() == before
    target = next(iter(result["diff"]["after"]))
    assert target.endswith("SuperSocketNetLib\\Certificate") and result["diff"]["before"][target] == tp
    predicted, _host = run(Purpose, raw, {}, result["ansible_facts"]["mssql_tls"], check_mode=True, diff=True)
    assert predicted["blocked"] == [] and list(predicted["diff"]["after"].values()) == [["client_auth"]]


def test_binding_a_good_certificate_grants_key_access_in_the_same_batch():
    old_tp, old = cert("sha512", serial=1)
    tp, entry = cert("sha256", serial=2)
    raw = RawHost(agent_results(host([old, entry], [bound(old_tp)])))
    result, agent = run(Encryption, raw, {"certificate": tp}, raw.facts())
    (batch,) = agent.requests
    assert [o["op"] for o in batch["ops"]] == ["reg.write", "cert.key.acl.set"]
    header = json.loads(batch["journal"]["line"])
    assert [e["target"]["kind"] for e in header["ops"]] == ["reg_value", "key_acl"]
    assert result["restart_instances"] == ["MSSQL16.MSSQLSERVER"]


@pytest.mark.parametrize(
    ("action_class", "args", "field"),
    [
        (Encryption, {"certificate": "xyz"}, r"certificate: expected 40 hex digits"),
        (Purpose, {"hashes": ["sha3"]}, r"hashes\[0\]"),
        (Purpose, {"thumbprint": "ab"}, "thumbprint"),
    ],
)
def test_arguments_that_do_not_validate_fail_naming_the_field(action_class, args, field):
    _tp, raw = s4_like()
    with pytest.raises(AnsibleActionFail, match=field):
        run(action_class, raw, args, raw.facts())
