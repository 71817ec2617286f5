"""mssql.tls.tds_probe: what a client really sees on the host's SQL Server ports, probed from the controller.

No agent, no remote command: the controller connects to each port the way a
client does (plugin_utils/tds). Read-only, so check mode probes too.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.compare import (
    change_summary,
    compare_probes,
    probe_results_of,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.fleet import (
    MODE_PATHS,
    ProbeTarget,
    probe_targets,
    targets_from_instances,
    targets_from_option,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.summary import (
    client_lines,
    summarize,
    summary_lines,
)

ARGUMENT_SPEC = {
    "targets": {"type": "list", "elements": "raw"},
    "mode": {"type": "str", "default": "tds", "choices": list(MODE_PATHS)},
    "profiles": {"type": "list", "elements": "str"},
    "timeout": {"type": "float", "default": 5.0},
    "exchange_timeout": {"type": "float", "default": 15.0},
    "delay": {"type": "float", "default": 0.0},
    "server_name": {"type": "str"},
    "max_workers": {"type": "int", "default": 8},
    "baseline": {"type": "raw"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}

INSTANCES_VAR = "mssql_tls_instances"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    # The probe opens its own sockets from the controller; the host's connection is never used.
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        task_vars = task_vars or {}

        try:
            # Checked before probing: a bad baseline should not cost a round of handshakes.
            baseline = None if args["baseline"] is None else probe_results_of(args["baseline"])
            targets = self._targets(args["targets"], task_vars)
            endpoints = probe_targets(
                targets,
                args["mode"],
                profiles=args["profiles"],
                max_workers=args["max_workers"],
                timeout=args["timeout"],
                exchange_timeout=args["exchange_timeout"],
                delay=args["delay"],
                server_name=args["server_name"],
            )
            changes = None if baseline is None else compare_probes(baseline, endpoints, args["lang"])
        except ProbeInputError as error:
            # ansible-core appends a chained cause to the message: the field and value are all in str(error).
            raise AnsibleActionFail(str(error)) from None

        summaries = [summarize(endpoint) for endpoint in endpoints]
        result.update(
            changed=False,
            endpoints=endpoints,
            summary=summaries,
            summary_lines=summary_lines(summaries, args["lang"]),
            client_lines=client_lines(endpoints, args["lang"]),
            failing_profiles=sorted({name for s in summaries for name in s["failing_profiles"]}),
        )
        if changes is not None:
            result.update(
                changes=changes,
                change_lines=[change["text"] for change in changes],
                change_summary=change_summary(changes, args["lang"]),
            )
        return result

    def _targets(self, option: list[Any] | None, task_vars: dict[str, Any]) -> list[ProbeTarget]:
        if option is not None:
            return targets_from_option(option)
        instances = self._templar.template(task_vars.get(INSTANCES_VAR))
        if instances is None:
            raise AnsibleActionFail(
                f"targets: not given, and the host var {INSTANCES_VAR} ([{{name, port}}]) is not set"
            )
        address = self._templar.template(task_vars.get("ansible_host") or task_vars.get("inventory_hostname"))
        return targets_from_instances(instances, address)
