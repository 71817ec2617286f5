"""mssql.tls.schannel_protocols: enforce TLS 1.2 (Schannel, .NET, WinHTTP) behind the safety gate.

Plans from the facts the play already gathered (no round trip when nothing changes), applies
in one journaled agent batch with compare-and-set. The planner and the gate live in
plugin_utils/plan (protocols.py, gate.py).
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import FixAction
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


class ActionModule(FixAction):
    MODULE = "schannel_protocols"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    INPUT_ERRORS = (PolicyError, PeerError)

    def planner(self, args):
        policy = protocol_policy(args["protocols"], **{name: args[name] for name in SWITCHES})
        peers = parse_peers(args["peers"])
        return (lambda facts: plan_protocol_changes(facts, policy, peers)), None
