"""How a batch meets the connection: reads are retried once, writes never; bad input is no transport error."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_agent_batch

READ = [op("os.info")]
WRITE = [op("reg.write", path=r"HKLM\SOFTWARE\x", name="v", type="REG_DWORD", value={"data": 1})]
JOURNAL = {"id": "20261130-test", "line": json.dumps({"reason": "test"})}


class FakeConnection:
    """exec_command answers from a script of outcomes: an exception to raise or a result dict."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.resets = 0

    def exec_command(self, command, in_data=None, sudoable=True):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return 0, json.dumps({"v": 1, "journal_id": None, "results": outcome}).encode(), b""

    def reset(self):
        self.resets += 1


def no_sleep(_seconds: float) -> None:
    return None


def test_a_read_batch_is_retried_once_after_a_dropped_connection() -> None:
    connection = FakeConnection(ConnectionResetError("reset by peer"), [{"ok": True, "data": {}}])
    batch = run_agent_batch(connection, READ, sleep=no_sleep)
    assert batch.ok and connection.calls == 2 and connection.resets == 1


def test_a_read_batch_fails_as_unreachable_after_the_retry() -> None:
    connection = FakeConnection(ConnectionResetError("one"), AnsibleConnectionFailure("two"))
    with pytest.raises(AnsibleConnectionFailure, match="batch failed: two"):
        run_agent_batch(connection, READ, sleep=no_sleep)
    assert connection.calls == 2


def test_a_write_batch_is_never_resent_and_points_at_its_journal_record() -> None:
    connection = FakeConnection(ConnectionResetError("reset by peer"), [{"ok": True, "data": {}}])
    with pytest.raises(AnsibleConnectionFailure, match=r"journal record 20261130-test"):
        run_agent_batch(connection, WRITE, journal=JOURNAL, sleep=no_sleep)
    assert connection.calls == 1


def test_an_invalid_request_is_refused_before_any_command_and_names_the_field() -> None:
    connection = FakeConnection()
    with pytest.raises(AnsibleActionFail, match="journal"):
        run_agent_batch(connection, WRITE, sleep=no_sleep)  # writes without a journal record
    assert connection.calls == 0


def test_a_garbled_answer_is_an_action_failure_not_a_retry() -> None:
    connection = FakeConnection([{"ok": True}, {"ok": True}])  # two results for one op
    with pytest.raises(AnsibleActionFail, match="2 results for 1 ops"):
        run_agent_batch(connection, READ, sleep=no_sleep)
    assert connection.calls == 1
