"""mssql.tls.cipher_suites: strip suites (TLS_DHE_* by default) from the cipher-suite list in force.

Plans from the facts the play already gathered (no round trip when nothing changes), applies
in one journaled agent batch with compare-and-set. The planner lives in
plugin_utils/plan/ciphers.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_fix
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.ciphers import (
    DEFAULT_REMOVE,
    POLICY_OWNED,
    WARN,
    cipher_policy,
    plan_cipher_suite_changes,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import PolicyError

ARGUMENT_SPEC = {
    "remove": {"type": "list", "elements": "str", "default": list(DEFAULT_REMOVE)},
    "order": {"type": "list", "elements": "str", "default": []},
    "policy_owned": {"type": "str", "default": WARN, "choices": list(POLICY_OWNED)},
    "restore_for_certificates": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}
POLICY_ARGS = ("remove", "order", "policy_owned", "restore_for_certificates", "force")


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            policy = cipher_policy(**{name: args[name] for name in POLICY_ARGS})
        except PolicyError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(
            run_fix(
                self._connection,
                args,
                task_vars,
                module="cipher_suites",
                make_plan=lambda facts: plan_cipher_suite_changes(facts, policy),
                check_mode=self._task.check_mode,
                diff=self._task.diff,
            )
        )
        return result
