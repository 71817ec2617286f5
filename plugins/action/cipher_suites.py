"""mssql.tls.cipher_suites: strip suites (TLS_DHE_* by default) from the cipher-suite list in force.

Plans from the facts the play already gathered (no round trip when nothing changes), applies
in one journaled agent batch with compare-and-set. The planner lives in
plugin_utils/plan/ciphers.py.
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import FixAction
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


class ActionModule(FixAction):
    MODULE = "cipher_suites"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PolicyError,)

    def planner(self, args):
        policy = cipher_policy(**{name: args[name] for name in POLICY_ARGS})
        return (lambda facts: plan_cipher_suite_changes(facts, policy)), None
