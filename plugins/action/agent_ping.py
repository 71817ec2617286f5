"""mssql.tls.agent_ping: run one agent batch and report who answered."""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import agent_script, script_digest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_agent_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.host_identity import (
    CURRENT_VERSION_KEY,
    host_identity,
)

ARGUMENT_SPEC = {
    "data": {"type": "str", "default": "pong"},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        started = time.monotonic()
        batch = run_agent_batch(
            self._connection,
            [op("os.info"), op("reg.read", path=CURRENT_VERSION_KEY)],
        )
        elapsed_ms = int((time.monotonic() - started) * 1000)

        failed = [r for r in batch.results if not r.ok]
        if failed:
            result.update(
                failed=True,
                msg="; ".join(f"{r.op}: {r.error_kind}: {r.error_message}" for r in failed),
            )
            return result

        os_info, current_version = (r.data for r in batch.results)
        result.update(
            changed=False,
            ping=args["data"],
            elapsed_ms=elapsed_ms,
            agent={"protocol": batch.raw.get("v"), "sha256": script_digest(agent_script())},
            host=host_identity(os_info, current_version),
        )
        return result
