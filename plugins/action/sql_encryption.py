"""mssql.tls.sql_encryption: each instance's SuperSocketNetLib Certificate, ForceEncryption, ForceStrict.

Validates a certificate before binding it and grants the instance's service SID read access to
its private key (plan/sql_binding.py). Plans from the facts the play gathered (no round trip
when nothing changes), applies in one journaled agent batch with compare-and-set, and hands the
next task facts that show its writes. SQL Server reads these values at its next start
(mssql.tls.sql_service).
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import FixAction
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


class ActionModule(FixAction):
    MODULE = "sql_encryption"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PolicyError,)

    def planner(self, args):
        policy = binding_policy(**{name: args[name] for name in POLICY_ARGS})
        return (
            lambda facts: plan_sql_encryption(facts, policy),
            lambda outcome, check: certificate_extras(outcome, check, scope_instances(outcome.facts, policy)),
        )
