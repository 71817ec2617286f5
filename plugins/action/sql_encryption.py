"""mssql.tls.sql_encryption: each instance's SuperSocketNetLib Certificate, ForceEncryption, ForceStrict.

Validates a certificate before binding it and grants the instance's service SID read access to
its private key (plan/sql_binding.py). Plans from the facts the play gathered (no round trip
when nothing changes), applies in one journaled agent batch with compare-and-set, and hands the
next task facts that show its writes. SQL Server reads these values at its next start
(mssql.tls.sql_service).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_fix
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificates import PolicyError
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.overlay import certificate_extras
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.sql_binding import (
    binding_policy,
    plan_sql_encryption,
    scope_instances,
)

ARGUMENT_SPEC = {
    "instances": {"type": "list", "elements": "str"},
    "certificate": {"type": "str"},
    "hashes": {"type": "list", "elements": "str"},
    "force_encryption": {"type": "bool"},
    "force_strict": {"type": "bool"},
    "grant_key_access": {"type": "bool", "default": True},
    "force": {"type": "bool", "default": False},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}
POLICY_ARGS = (
    "instances",
    "certificate",
    "hashes",
    "force_encryption",
    "force_strict",
    "grant_key_access",
    "force",
)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            policy = binding_policy(**{name: args[name] for name in POLICY_ARGS})
        except PolicyError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(
            run_fix(
                self._connection,
                args,
                task_vars,
                module="sql_encryption",
                make_plan=lambda facts: plan_sql_encryption(facts, policy),
                check_mode=self._task.check_mode,
                diff=self._task.diff,
                extend=lambda outcome, check: certificate_extras(
                    outcome, check, scope_instances(outcome.facts, policy)
                ),
            )
        )
        return result
