"""mssql.tls.tls_facts: read everything the TLS audit needs in one agent batch.

One round trip (DESIGN.md "Round trips are the cost"); only reads, so check mode
behaves exactly like a normal run. The schema is in docs/facts-schema.md.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import gather_facts

ARGUMENT_SPEC: dict = {}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        facts = gather_facts(self._connection)

        result.update(changed=False, ansible_facts={"mssql_tls": facts})
        if facts["gather_errors"]:
            result["warnings"] = [
                f"mssql.tls.tls_facts: could not read {e['key']} ({e['kind']}): {e['message']}"
                for e in facts["gather_errors"]
            ]
        return result
