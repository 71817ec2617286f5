"""mssql.tls.assess runs on the controller: facts in, findings out, the connection untouched."""

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.assess import ActionModule
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import WINDOWS_2016
from ansible_collections.mssql.tls.tests.unit.facts.winhost import compliant_2022_host, facts_of


class UntouchableConnection:
    _shell = SimpleNamespace(tmpdir=None)

    def exec_command(self, *args, **kwargs):
        raise AssertionError("assess must not talk to the host")


def run(args, task_vars, check_mode=False):
    task = SimpleNamespace(
        args=args, check_mode=check_mode, async_val=0, diff=False, action="mssql.tls.assess"
    )
    action = ActionModule(task, UntouchableConnection(), play_context=None, loader=None, templar=None)
    return action.run(task_vars=task_vars)


DHE_2016 = facts_of(
    compliant_2022_host(version=(10, 0, 14393, 3541), local_suites=list(WINDOWS_2016), odbc=[], dlls=[])
)


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_hosts_own_fact_is_assessed_by_default(check_mode):
    result = run({}, {"ansible_facts": {"mssql_tls": DHE_2016}}, check_mode)
    assert result["changed"] is False
    assert result["scenarios"] == [3, 5]
    assert result["summary"] == {"high": 1, "medium": 1, "low": 0, "info": 0}
    assert [f["id"] for f in result["findings"]] == [
        "s5.dhe_without_leading_zero_fix",
        "s3.dhe_suites_enabled",
    ]


def test_explicit_facts_and_japanese_text():
    result = run({"facts": DHE_2016, "lang": "ja"}, {})
    assert "先行ゼロ" in result["findings"][0]["title"]


def test_missing_facts_and_bad_arguments_are_refused_by_name():
    with pytest.raises(AnsibleActionFail, match="tls_facts first"):
        run({}, {})
    with pytest.raises(AnsibleActionFail, match="lang"):
        run({"lang": "fr"}, {"mssql_tls": DHE_2016})
    with pytest.raises(AnsibleActionFail, match="expiry_warning_days"):
        run({"expiry_warning_days": "soon"}, {"mssql_tls": DHE_2016})
    with pytest.raises(AnsibleActionFail, match=r"facts\.schema_version"):
        run({"facts": {"schema_version": 99}}, {})
