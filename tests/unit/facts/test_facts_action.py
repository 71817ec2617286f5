"""mssql.tls.tls_facts: one command on the host, facts back, nothing changed, check mode alike."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.action.tls_facts import ActionModule
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops

RESPONSE = (Path(__file__).parent / "fixtures" / "host_2016_sql2014.json").read_bytes()


class FakeConnection:
    def __init__(self):
        self._shell = SimpleNamespace(tmpdir=None)
        self.commands = []

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append((cmd, in_data))
        return 0, b"#< CLIXML noise\r\n" + RESPONSE.replace(b"\n", b"") + b"\r\n", b""


def run(args=None, check_mode=False):
    task = SimpleNamespace(
        args=args or {}, check_mode=check_mode, async_val=0, diff=False, action="mssql.tls.tls_facts"
    )
    connection = FakeConnection()
    action = ActionModule(task, connection, play_context=None, loader=None, templar=None)
    return action.run(task_vars={}), connection


@pytest.mark.parametrize("check_mode", [False, True])
def test_one_agent_command_returns_the_facts_and_changes_nothing(check_mode):
    result, connection = run(check_mode=check_mode)
    assert len(connection.commands) == 1
    command, stdin = connection.commands[0]
    assert command.startswith(
        "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
    )
    request = json.loads(stdin.splitlines()[1])
    assert request["ops"] == gather_ops() and "journal" not in request
    assert result["changed"] is False
    facts = result["ansible_facts"]["mssql_tls"]
    assert facts["schema_version"] == 1
    assert facts["sql"]["instances"][0]["version"] == "12.0.4416.0"
    assert "warnings" not in result


def test_unknown_arguments_are_refused_by_name():
    with pytest.raises(AnsibleActionFail, match="gather_subset"):
        run(args={"gather_subset": ["all"]})
