"""The one module of the core that imports Ansible.

Action plugins hand `connection_executor(self._connection)` to the core, which
only ever sees a plain ``Execute`` callable: (command line, stdin) -> (rc, stdout, stderr).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_bytes

from .agent.client import (
    AgentProtocolError,
    BatchResult,
    Execute,
    build_command,
    build_request,
    parse_response,
)

# A dropped connection is retried once, after a short pause, and only for
# read-only batches: a write batch may have been applied, and the journal on
# the host is what tells; re-sending it blindly could apply it twice.
_READ_RETRIES = 1
_RETRY_PAUSE_S = 2.0


def connection_executor(connection: Any) -> Execute:
    def execute(command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        rc, stdout, stderr = connection.exec_command(command, in_data=stdin, sudoable=False)
        return rc, to_bytes(stdout), to_bytes(stderr)

    return execute


def run_agent_batch(
    connection: Any,
    ops: list[Mapping[str, Any]],
    journal: Mapping[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Run one agent batch through the task's connection, mapping failures to Ansible errors."""
    try:
        request = build_request(ops, journal)
    except ValueError as exc:  # a bad op or journal is a bug or bad input, never a transport problem
        raise AnsibleActionFail(f"mssql.tls agent request: {exc}") from None
    command, stdin = build_command(request)
    execute = connection_executor(connection)
    retries_left = 0 if journal is not None else _READ_RETRIES
    while True:
        try:
            rc, stdout, stderr = execute(command, stdin)
            break
        except Exception as exc:  # AnsibleConnectionFailure, or requests/pywinrm errors as they are
            if retries_left == 0:
                raise AnsibleConnectionFailure(_lost_message(exc, journal)) from None
            retries_left -= 1
            _reset(connection)
            sleep(_RETRY_PAUSE_S)
    try:
        return parse_response(stdout, stderr, rc, request)
    except AgentProtocolError as exc:
        # `from None`: ansible-core 2.19 appends a chained exception's text to the message.
        raise AnsibleActionFail(f"mssql.tls agent: {exc}") from None


def _reset(connection: Any) -> None:
    reset = getattr(connection, "reset", None)
    if callable(reset):
        reset()


def _lost_message(exc: Exception, journal: Mapping[str, Any] | None) -> str:
    if journal is None:
        return f"mssql.tls agent batch failed: {exc}"
    return (
        f"mssql.tls agent write batch lost its connection: {exc}. Some of its changes may have been "
        f"applied; journal record {journal['id']} on the host says which (journal.read)."
    )
