"""mssql.tls.assess: turn mssql_tls facts into findings (scenarios 1-6 of error 10054).

Controller only: no connection to the host, no round trip.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import (
    AssessError,
    assess,
    scenarios_of,
    severity_counts,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES

ARGUMENT_SPEC = {
    "facts": {"type": "dict"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
    "expiry_warning_days": {"type": "int", "default": 30},
}


def _host_facts(task_vars: dict) -> dict | None:
    facts = (task_vars.get("ansible_facts") or {}).get("mssql_tls")
    return facts if facts is not None else task_vars.get("mssql_tls")


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]

        facts = args["facts"] if args["facts"] is not None else _host_facts(task_vars or {})
        if facts is None:
            raise AnsibleActionFail(
                "facts: no mssql_tls facts for this host; run mssql.tls.tls_facts first or pass facts"
            )
        try:
            findings = assess(facts, args["lang"], expiry_warning_days=args["expiry_warning_days"])
        except AssessError as exc:
            raise AnsibleActionFail(str(exc)) from None

        result.update(
            changed=False,
            findings=findings,
            scenarios=scenarios_of(findings),
            summary=severity_counts(findings),
        )
        return result
