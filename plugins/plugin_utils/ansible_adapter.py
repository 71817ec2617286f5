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

from .agent.client import AgentProtocolError, BatchResult, Execute, run_batch

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
    execute = connection_executor(connection)
    writes = journal is not None
    attempts = 1 if writes else 1 + _READ_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            return run_batch(execute, ops, journal)
        except AgentProtocolError as exc:
            # `from None`: ansible-core 2.19 appends a chained exception's text to the message.
            raise AnsibleActionFail(f"mssql.tls agent: {exc}") from None
        except AnsibleConnectionFailure:
            if attempt == attempts:
                raise
        except Exception as exc:  # requests/pywinrm transport errors surface as plain exceptions
            if attempt == attempts:
                raise AnsibleConnectionFailure(f"mssql.tls agent batch failed: {exc}") from None
        reset = getattr(connection, "reset", None)
        if callable(reset):
            reset()
        sleep(_RETRY_PAUSE_S)
    raise AssertionError("unreachable")
