"""mssql.tls.schannel_protocols: enforce TLS 1.2 (Schannel, .NET, WinHTTP) behind the safety gate.

Plans from the facts the play already gathered (no round trip when nothing changes), applies
in one journaled agent batch with compare-and-set. The planner and the gate live in
plugin_utils/plan (protocols.py, gate.py).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_fix
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.gate import PeerError, parse_peers
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    PolicyError,
    plan_protocol_changes,
    protocol_policy,
)

SWITCHES = {
    "remove_unsupported_tls13": True,
    "dotnet_strong_crypto": True,
    "dotnet_system_default_tls_versions": True,
    "dotnet35_update_installed": False,
    "winhttp_default_secure_protocols": True,
    "builtin_driver_blocks": True,
    "force": False,
}
ARGUMENT_SPEC = {
    "protocols": {"type": "dict", "default": {}},
    **{name: {"type": "bool", "default": default} for name, default in SWITCHES.items()},
    "peers": {"type": "list", "elements": "raw", "default": []},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            policy = protocol_policy(args["protocols"], **{name: args[name] for name in SWITCHES})
            peers = parse_peers(args["peers"])
        except (PolicyError, PeerError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(
            run_fix(
                self._connection,
                args,
                task_vars,
                module="schannel_protocols",
                make_plan=lambda facts: plan_protocol_changes(facts, policy, peers),
                check_mode=self._task.check_mode,
                diff=self._task.diff,
            )
        )
        return result
