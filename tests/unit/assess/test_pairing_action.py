"""mssql.tls.pairing runs on the controller: every host's facts in, pairs and peers out, no host touched."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.pairing import ActionModule
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import app_server, sql_server


class UntouchableConnection:
    _shell = SimpleNamespace(tmpdir=None)

    def exec_command(self, *args, **kwargs):
        raise AssertionError("pairing must not talk to any host")


def run(args, task_vars, check_mode=False):
    task = SimpleNamespace(
        args=args, check_mode=check_mode, async_val=0, diff=False, action="mssql.tls.pairing"
    )
    action = ActionModule(task, UntouchableConnection(), play_context=None, loader=None, templar=None)
    return action.run(task_vars=task_vars)


def gathered(facts):
    return {"audit_facts_result": {"changed": False, "ansible_facts": {"mssql_tls": facts}}}


HOSTVARS = {
    "app01": {"ansible_host": "10.0.0.5", **gathered(app_server())},
    "sql01": {"ansible_host": "10.0.0.11", **gathered(sql_server(clients=("10.0.0.5", "10.7.7.7")))},
    "down": {"ansible_host": "10.0.0.9", "audit_facts_result": {"unreachable": True, "msg": "timed out"}},
}
TASK_VARS = {"hostvars": HOSTVARS, "groups": {"mssql_tls_clients": ["app01", "down"]}}


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_hosts_of_the_play_are_paired_from_their_registered_facts(check_mode):
    result = run({"hosts": ["app01", "sql01", "down"]}, TASK_VARS, check_mode)
    assert result["changed"] is False
    assert result["clients"] == ["app01"] and result["servers"] == ["sql01"]
    assert {(p["driver"], p["status"]) for p in result["pairs"]} >= {("ODBC13+", "intermittent")}
    assert [p["family"] for p in result["peers"]["sql01"]] == [".NET Framework", "MDAC", "ODBC13+", "SNAC11"]
    assert [f["id"] for f in result["findings"]["sql01"]] == ["pair.s5.dhe_leading_zero_mismatch"]
    notes = {n["code"]: n["message"] for n in result["notes"]}
    assert notes["no_facts"] == "down: no facts were gathered, so it is not paired."
    assert "10.7.7.7" in notes["address_not_in_inventory"]


def test_the_facts_of_ansible_facts_serve_when_nothing_was_registered_and_japanese_text():
    hostvars = {
        "app01": {"ansible_host": "10.0.0.5", "ansible_facts": {"mssql_tls": app_server()}},
        "sql01": {"ansible_facts": {"mssql_tls": sql_server()}, "ansible_host": "10.0.0.11"},
    }
    result = run(
        {"hosts": ["app01", "sql01"], "lang": "ja", "clients_group": "apps"},
        {"hostvars": hostvars, "groups": {"apps": ["app01"]}},
    )
    (cell,) = result["matrix"]["cells"]
    assert cell["sources"] == ["assumed"] and cell["status"] == "intermittent"
    assert "先行ゼロ" in result["findings"]["app01"][0]["title"]


def test_unknown_hosts_and_bad_inventory_variables_are_refused_by_name():
    with pytest.raises(AnsibleActionFail, match="hosts: not in the inventory: nosuch"):
        run({"hosts": ["nosuch"]}, TASK_VARS)
    bad = {**HOSTVARS, "app01": {**HOSTVARS["app01"], "mssql_tls_connects_to": {"sql01": True}}}
    with pytest.raises(AnsibleActionFail, match=r"hostvars\[app01\]\.mssql_tls_connects_to"):
        run({"hosts": ["app01", "sql01"]}, {**TASK_VARS, "hostvars": bad})
