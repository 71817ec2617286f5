"""mssql.tls.pairing: which client host cannot talk to which SQL Server instance (controller only).

Reads every host's gathered facts from hostvars, pairs the hosts of the client group with
the SQL Server instances (plugin_utils/assess/pairing*.py) and returns the pairs, the
matrix, per SQL Server host the peers for the TLS 1.2 safety gate, and the findings per
host. No connection to any host, no round trip.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import AssessError, check_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing import pair_fleet
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_findings import pair_findings
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_links import PairingError, member
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, message

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "clients_group": {"type": "str", "default": "mssql_tls_clients"},
    "facts_var": {"type": "str", "default": "audit_facts_result"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}


def _facts(host_vars, facts_var):
    """The host's mssql_tls facts: from the registered gather result, else its ansible_facts."""
    registered = host_vars.get(facts_var)
    if isinstance(registered, dict) and not registered.get("failed") and not registered.get("unreachable"):
        facts = (registered.get("ansible_facts") or {}).get("mssql_tls")
        if isinstance(facts, dict):
            return facts
    facts = (host_vars.get("ansible_facts") or {}).get("mssql_tls")
    return facts if isinstance(facts, dict) else None


def _note_text(note, lang):
    data = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in note["data"].items()}
    return message(f"pairing.note.{note['code']}", lang, host=note["host"], **data)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        task_vars = task_vars or {}
        hostvars = task_vars.get("hostvars") or {}
        unknown = [h for h in args["hosts"] if h not in hostvars]
        if unknown:
            raise AnsibleActionFail(f"hosts: not in the inventory: {', '.join(unknown)}")
        clients = set((task_vars.get("groups") or {}).get(args["clients_group"]) or [])
        facts = {name: _facts(hostvars[name], args["facts_var"]) for name in args["hosts"]}
        for name, host_facts in facts.items():
            try:
                if host_facts is not None:
                    check_facts(host_facts)
            except AssessError as exc:  # facts of another shape than tls_facts gives: named, not a traceback
                raise AnsibleActionFail(f"hostvars[{name}]: {exc}") from None
        try:
            members = [member(name, hostvars[name], facts[name], name in clients) for name in args["hosts"]]
        except PairingError as exc:
            raise AnsibleActionFail(str(exc)) from None
        pairing = pair_fleet(members)
        for note in pairing["notes"]:
            note["message"] = _note_text(note, args["lang"])
        result.update(
            changed=False,
            findings=pair_findings(pairing["pairs"], args["lang"]),
            # A host that skipped a later pairing keeps this result: the report takes the newest.
            paired_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            **pairing,
        )
        return result
