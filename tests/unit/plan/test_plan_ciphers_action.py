"""mssql.tls.cipher_suites as Ansible runs it, over a fake connection that answers like the agent.

The fake agent keeps a RawHost: the gather batch gets its raw results, a write batch is applied
op by op (expect checked, a conflict stops the batch), so a run can be followed end to end.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.cipher_suites import ActionModule
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops
from ansible_collections.mssql.tls.tests.unit.facts.winhost import WS2019, agent_results
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import PreconditionFailed, RawHost
from ansible_collections.mssql.tls.tests.unit.plan.test_plan_ciphers import ECDSA_ONLY, sql_host

RUN_ID = "20261207T190000Z-ab12cd"
DHE = ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]


class FakeAgent:
    """exec_command answers each batch from (and applies it to) one RawHost."""

    def __init__(self, raw: RawHost):
        self.raw = raw
        self.requests: list[dict] = []
        self._shell = SimpleNamespace(tmpdir=None)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        request = json.loads(in_data.splitlines()[1])
        self.requests.append(request)
        if request["ops"] == gather_ops():
            results = self.raw.results
        else:
            results, stopped = [], False
            for write in request["ops"]:
                if stopped:
                    results.append({"ok": False, "error": {"kind": "skipped", "message": "batch stopped"}})
                    continue
                try:
                    self.raw.apply(write)
                    results.append({"ok": True, "data": {}})
                except PreconditionFailed as exc:
                    results.append({"ok": False, "error": {"kind": "conflict", "message": str(exc)}})
                    stopped = True
        journal_id = (request.get("journal") or {}).get("id")
        return 0, json.dumps({"v": 1, "journal_id": journal_id, "results": results}).encode(), b""

    @property
    def writes(self) -> list[dict]:
        return [r for r in self.requests if "journal" in r]


def run(raw: RawHost, args=None, *, facts=True, check_mode=False, diff=False):
    task = SimpleNamespace(
        args={"run_id": RUN_ID, **(args or {})},
        check_mode=check_mode,
        async_val=0,
        diff=diff,
        action="mssql.tls.cipher_suites",
    )
    agent = FakeAgent(raw)
    task_vars = {"ansible_facts": {"mssql_tls": raw.facts()}} if facts else {}
    action = ActionModule(task, agent, play_context=None, loader=None, templar=None)
    return action.run(task_vars=task_vars), agent


def dhe_host() -> RawHost:
    return RawHost(agent_results(sql_host(version=WS2019, local_suites=None)))


def test_a_host_with_dhe_is_fixed_in_one_journaled_batch_from_the_gathered_facts():
    raw = dhe_host()
    result, agent = run(raw)
    assert len(agent.requests) == 1  # the facts came from the play: no gather
    (batch,) = agent.writes
    assert [o["op"] for o in batch["ops"]] == ["tls.suite.disable", "tls.suite.disable"]
    header = json.loads(batch["journal"]["line"])
    assert header["module"] == "cipher_suites" and header["concern"] == "cipher_suites"
    assert [e["target"] for e in header["ops"]] == [{"kind": "suite", "name": n} for n in DHE]
    assert result["changed"] is True and result["journal_id"].startswith(f"{RUN_ID}.cipher_suites.1-")
    assert result["activations"] == ["immediate"] and result["reboot_required"] is False
    assert result["blocked"] == [] and "failed" not in result
    assert raw.facts()["cipher_suites"]["dhe"] == []


def test_a_steady_host_costs_no_command_and_reports_nothing_to_change():
    raw = dhe_host()
    run(raw)
    result, agent = run(raw)
    assert agent.requests == [] and result["changed"] is False and result["msg"] == "Nothing to change."


def test_check_mode_with_diff_predicts_the_change_and_writes_nothing():
    raw = dhe_host()
    before = raw.facts()["cipher_suites"]["configured"]
    result, agent = run(raw, check_mode=True, diff=True)
    assert agent.requests == [] and result["changed"] is True
    assert raw.facts()["cipher_suites"]["configured"] == before
    target = f"Local cipher suite list: {DHE[0]}"
    assert result["diff"]["before"][target] == 4 and result["diff"]["after"][target] is None


def test_without_facts_in_the_play_the_module_gathers_them_first():
    result, agent = run(dhe_host(), facts=False)
    assert [r["ops"] == gather_ops() for r in agent.requests] == [True, False]
    assert result["gathered"] is True and result["changed"] is True


def test_a_host_changed_since_the_gather_is_gathered_and_planned_once_more():
    raw = dhe_host()
    facts = raw.facts()
    raw.apply(op("tls.suite.disable", name=DHE[0], expect={"present": True}))  # someone else, meanwhile
    task_args = {"facts": facts}
    result, agent = run(raw, task_args)
    assert len(agent.writes) == 2 and len(agent.requests) == 3  # conflict, gather, second batch
    assert [o["name"] for o in agent.writes[1]["ops"]] == DHE[1:]
    assert [j.rsplit("-", 1)[0] for j in result["journal_ids"]] == [
        f"{RUN_ID}.cipher_suites.1",
        f"{RUN_ID}.cipher_suites.2",
    ]
    assert result["changed"] is True and "failed" not in result
    assert raw.facts()["cipher_suites"]["dhe"] == []


def test_a_gpo_list_under_refuse_is_reported_blocked_with_its_message_in_japanese():
    raw = RawHost(agent_results(sql_host(policy_suites=ECDSA_ONLY + ",TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")))
    result, agent = run(raw, {"policy_owned": "refuse", "lang": "ja"})
    assert agent.requests == [] and result["changed"] is False
    (blocked,) = result["blocked"]
    assert blocked["code"] == "cipher_policy_gpo_refused" and "policy_owned が refuse" in blocked["message"]


def test_the_policy_list_edit_warns_about_the_gpo_and_requires_a_reboot():
    raw = RawHost(agent_results(sql_host(policy_suites=ECDSA_ONLY)))
    result, _agent = run(raw)
    assert result["reboot_required"] is True and result["activations"] == ["reboot"]
    assert any("domain GPO must be changed too" in w for w in result["warnings"])
    assert any("were added at the end" in w for w in result["warnings"])


@pytest.mark.parametrize(
    ("args", "field"),
    [({"order": ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]}, "order[0]"), ({"remove": ["tls_*"]}, "remove[0]")],
)
def test_a_policy_that_does_not_validate_fails_naming_the_field(args, field):
    with pytest.raises(AnsibleActionFail, match=f"^{field}".replace("[", r"\[")):
        run(dhe_host(), args)


def test_unknown_arguments_are_refused_by_name():
    with pytest.raises(AnsibleActionFail, match="suites"):
        run(dhe_host(), {"suites": ["TLS_DHE_*"]})
