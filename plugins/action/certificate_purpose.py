"""mssql.tls.certificate_purpose: take Server Authentication away from the weak certificates SQL Server uses.

Writes certificate property 9, never the extension (plan/certificates.py). Plans from the facts
the play gathered (no round trip when nothing changes), applies in one journaled agent batch
with compare-and-set, and hands the next task facts that show its writes.
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import FixAction
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificates import (
    DEFAULT_HASHES,
    PolicyError,
    plan_certificate_purpose,
    purpose_policy,
    scope_instances,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.overlay import certificate_extras

ARGUMENT_SPEC = {
    "hashes": {"type": "list", "elements": "str", "default": list(DEFAULT_HASHES)},
    "thumbprints": {"type": "list", "elements": "str", "default": []},
    "keep_if_unrestricted": {"type": "list", "elements": "str", "default": ["client_auth"]},
    "force": {"type": "bool", "default": False},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}


class ActionModule(FixAction):
    MODULE = "certificate_purpose"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PolicyError,)

    def planner(self, args):
        policy = purpose_policy(
            args["hashes"], args["thumbprints"], args["keep_if_unrestricted"], args["force"]
        )
        return (
            lambda facts: plan_certificate_purpose(facts, policy),
            lambda outcome, check: certificate_extras(outcome, check, scope_instances(outcome.facts, policy)),
        )
