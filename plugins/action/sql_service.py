"""mssql.tls.sql_service: restart SQL Server instances safely, inside the change window, and wait until ready.

The way to restart (service with dependents, cluster resource on the owner node, replicas
secondaries first), readiness and the undo of a failed start live in
plugin_utils/activate/restart.py and readiness.py.
"""

from __future__ import annotations

import datetime as dt

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.activate import restart as rst
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.readiness import NotReady, probe_certificate
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.window import (
    WindowError,
    host_local_now,
    is_open,
    parse_window,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import (
    batch_runner,
    gather_facts,
    known_facts,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES, message
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import (
    JournalError,
    check_run_id,
    new_run_id,
)

ARGUMENT_SPEC = {
    "instances": {"type": "list", "elements": "str", "required": True},
    "window_start": {"type": "str"},
    "window_end": {"type": "str"},
    "allow_primary_restart": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 180},
    "probe": {"type": "bool", "default": True},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        task_vars = task_vars or {}
        now = _utc_now()
        lang = args["lang"]
        try:
            window = parse_window(args["window_start"], args["window_end"])
            run_id = check_run_id(args["run_id"]) if args["run_id"] else new_run_id(now)
        except (WindowError, JournalError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        if args["timeout"] < 1:
            raise AnsibleActionFail(f"timeout: expected a positive number of seconds, got {args['timeout']}")
        result.update(
            changed=False, restarted=[], not_restarted=[], pending=False, pending_instances=[], run_id=run_id
        )
        if not args["instances"]:
            result["msg"] = message("restart.nothing", lang)
            return result
        facts = known_facts(args, task_vars)
        fresh = facts is None
        if facts is None:
            facts = gather_facts(self._connection)
        instances, unknown = rst.find_instances(facts, args["instances"])
        if unknown:
            raise AnsibleActionFail(f"instances: no SQL Server instance {', '.join(unknown)} on this host")
        ids = [i["id"] for i in instances]
        if not window.always_open:
            local_now = host_local_now(facts["host"], facts.get("gathered_at"), now)
            if local_now is None:
                raise AnsibleActionFail(
                    "window_start/window_end: the facts do not carry the host's local time; gather them again"
                )
            result["host_local_time"] = local_now.isoformat(timespec="minutes")
            if not is_open(window, local_now):
                result.update(
                    pending=True,
                    pending_instances=ids,
                    msg=message(
                        "restart.pending",
                        lang,
                        instances=", ".join(ids),
                        window=f"{args['window_start']}-{args['window_end']}",
                        host_time=result["host_local_time"],
                    ),
                )
                return result
        steps, skips = rst.restart_steps(
            facts, instances, allow_primary_restart=args["allow_primary_restart"]
        )
        if self._task.check_mode:
            planned = [s.instance["id"] for s in steps]
            result.update(
                changed=bool(planned),
                planned=[{"instance": s.instance["id"], "method": s.method} for s in steps],
                not_restarted=rst.skip_messages(skips, facts, lang),
                msg=message("restart.planned", lang, count=len(planned), instances=", ".join(planned) or "-"),
            )
            if self._task.diff:
                result["diff"] = rst.restart_diff(facts, steps)
            return result
        # The fix modules changed the host since the play's gather: when something is to restart,
        # plan the restart (and what it should load) on the host's state now.
        if steps and not fresh:
            facts = gather_facts(self._connection)
            instances, _unknown = rst.find_instances(facts, ids)
            steps, skips = rst.restart_steps(
                facts, instances, allow_primary_restart=args["allow_primary_restart"]
            )
        result["not_restarted"] = rst.skip_messages(skips, facts, lang)
        host = rst.Host(
            run_batch=batch_runner(self._connection),
            run_id=run_id,
            now=_utc_now,
            probe=probe_certificate if args["probe"] else None,
            address=self._address(task_vars),
        )
        done: list[rst.Restarted] = []
        try:
            for step in steps:
                done.append(
                    rst.restart_one(host, facts, step, timeout_s=args["timeout"], binding_run=args["run_id"])
                )
        except (rst.RestartError, NotReady) as exc:
            result.update(
                changed=True,
                failed=True,
                restarted=[d.as_dict() for d in done],
                msg=f"mssql.tls.sql_service: {exc}",
            )
            return result
        result.update(
            changed=bool(done),
            restarted=[d.as_dict() for d in done],
            notes=rst.restarted_messages(done, steps, lang),
            journal_ids=[j for d in done for j in d.journal_ids],
            msg=message(
                "restart.done", lang, count=len(done), instances=", ".join(d.instance for d in done) or "-"
            )
            if done
            else message("restart.nothing", lang),
        )
        if self._task.diff:
            result["diff"] = rst.restart_diff(facts, steps, done)
        if done:
            result["ansible_facts"] = {"mssql_tls": gather_facts(self._connection)}
        return result

    def _address(self, task_vars):
        address = task_vars.get("ansible_host") or task_vars.get("inventory_hostname")
        return self._templar.template(address) if address else None
