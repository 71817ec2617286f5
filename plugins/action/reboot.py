"""mssql.tls.reboot: reboot inside the change window and wait for the new boot (activate/reboot.py)."""

from __future__ import annotations

import datetime as dt
import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.reboot import (
    RebootError,
    schedule,
    wait_for_new_boot,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.window import (
    WindowError,
    host_local_now,
    is_open,
    parse_window,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import OpValidationError
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import (
    batch_runner,
    gather_facts,
    known_facts,
    poll_os_info,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.pending import facts_after_reboot
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import (
    JournalError,
    check_run_id,
    new_run_id,
)

# What the agent's os.reboot accepts (agent.ps1 $RebootReasonPattern, delay_s 0..600): checked
# here, before a journal record is written on the host and a round trip is spent on a refusal.
REASON = re.compile(r"[\x20-\x21\x23-\x26\x28-\x5B\x5D-\x7E]{1,200}")
MAX_DELAY_S = 600

ARGUMENT_SPEC = {
    "reason": {"type": "str", "default": "mssql.tls: activate Schannel changes"},
    "delay_s": {"type": "int", "default": 5},
    "reboot_timeout": {"type": "int", "default": 600},
    "window_start": {"type": "str"},
    "window_end": {"type": "str"},
    "facts": {"type": "dict"},
    "run_id": {"type": "str"},
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
            window = parse_window(args["window_start"], args["window_end"])
            run_id = check_run_id(args["run_id"]) if args["run_id"] else new_run_id(now)
        except (WindowError, JournalError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        if not REASON.fullmatch(args["reason"]):
            raise AnsibleActionFail(
                "reason: expected 1-200 printable ASCII characters without quotes or backslashes, "
                f"got {args['reason'][:60]!r}{'...' if len(args['reason']) > 60 else ''}"
            )
        if not 0 <= args["delay_s"] <= MAX_DELAY_S:
            raise AnsibleActionFail(f"delay_s: expected 0..{MAX_DELAY_S} seconds, got {args['delay_s']}")
        if args["reboot_timeout"] < 1:
            raise AnsibleActionFail(
                f"reboot_timeout: expected a positive number of seconds, got {args['reboot_timeout']}"
            )
        result.update(changed=False, rebooted=False, pending=False, run_id=run_id)
        if not window.always_open:
            facts = known_facts(args, task_vars) or gather_facts(self._connection)
            local_now = host_local_now(facts["host"], facts.get("gathered_at"), now)
            if local_now is None:
                raise AnsibleActionFail(
                    "window_start/window_end: the facts do not carry the host's local time; gather them again"
                )
            result["host_local_time"] = local_now.isoformat(timespec="minutes")
            if not is_open(window, local_now):
                result.update(
                    pending=True,
                    msg=f"reboot pending: outside the change window "
                    f"{args['window_start']}-{args['window_end']} (host time {result['host_local_time']})",
                )
                return result
        if self._task.check_mode:
            result.update(changed=True, msg="check mode: the host would be rebooted")
            return result
        try:
            previous, journal_id = schedule(
                batch_runner(self._connection),
                reason=args["reason"],
                delay_s=args["delay_s"],
                run_id=run_id,
                now=now,
            )
        except (RebootError, OpValidationError) as exc:
            raise AnsibleActionFail(f"mssql.tls.reboot: {exc}") from None
        try:
            outcome = wait_for_new_boot(
                poll_os_info(self._connection), previous, timeout_s=args["reboot_timeout"] + args["delay_s"]
            )
        except RebootError as exc:
            raise AnsibleActionFail(
                f"mssql.tls.reboot: {exc}. The restart was scheduled (journal record {journal_id} on the "
                "host); once the host is back, running the play again finds it done"
            ) from None
        known = known_facts(args, task_vars)
        if known is not None:
            result["ansible_facts"] = {"mssql_tls": facts_after_reboot(known, outcome.boot_utc)}
        result.update(
            changed=True,
            rebooted=True,
            journal_id=journal_id,
            previous_boot_utc=previous,
            boot_utc=outcome.boot_utc,
            elapsed=outcome.elapsed_s,
            msg=f"rebooted in {outcome.elapsed_s} s (boot time {previous} -> {outcome.boot_utc})",
        )
        return result
