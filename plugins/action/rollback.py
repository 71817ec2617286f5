"""mssql.tls.rollback: restore what a run changed, from the host's journal (journal/restore.py)."""

from __future__ import annotations

import datetime as dt

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import batch_runner
from ansible_collections.mssql.tls.plugins.plugin_utils.i18n.catalog import LANGUAGES
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import (
    JournalError,
    check_run_id,
    new_run_id,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.restore import RestoreError, restore_run
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.result import module_result

ARGUMENT_SPEC = {
    "run": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "run_id": {"type": "str"},
    "lang": {"type": "str", "default": "en", "choices": list(LANGUAGES)},
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        now = dt.datetime.now(dt.timezone.utc)
        try:
            run = check_run_id(args["run"], "run") if args["run"] else None
            own_run = check_run_id(args["run_id"]) if args["run_id"] else new_run_id(now)
            restored = restore_run(
                batch_runner(self._connection),
                run_id=run,
                new_run_id=own_run,
                force=args["force"],
                check_mode=self._task.check_mode,
                now=now,
            )
        except (JournalError, RestoreError) as exc:
            raise AnsibleActionFail(f"mssql.tls.rollback: {exc}") from None
        result.update(
            module_result(
                restored.outcome,
                check_mode=self._task.check_mode,
                diff=self._task.diff,
                lang=args["lang"],
                run_id=own_run,
                gathered=False,
            )
        )
        result.update(rolled_back_run=restored.run, records=restored.records)
        if restored.nothing:
            result["msg"] = f"nothing to roll back: {restored.nothing}"
        return result
