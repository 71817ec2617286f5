"""Drive the fix modules' core (plan/apply, activate, journal/restore) against lab hosts, without Ansible's
executor: what the fault tests run for every k of a batch, where a playbook per case would take minutes.

The path to the host is the one the action plugins use: ``ansible_adapter.run_agent_batch`` (a write
batch is never re-sent; a lost one raises AnsibleConnectionFailure naming its journal record) over
an object with the connection's ``exec_command``, which runs each command over the lab host's real
WinRM endpoint (``winlab.testing.winrm_command_runner``). The planners are the action plugins' own
(``FixAction.planner`` with the module's argument defaults), so the policy is what a play gets.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.action import (
    certificate_purpose,
    cipher_suites,
    schannel_protocols,
    sql_encryption,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import (
    batch_runner,
    converge_on,
    gather_facts,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import new_run_id
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.restore import Restore, restore_run
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.apply import Outcome
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.model import Plan
from winlab.control import control_request
from winlab.testing import PROFILES_DIR, RunningLab, running_lab, winrm_command_runner

FIX_MODULES = {
    "schannel_protocols": schannel_protocols,
    "cipher_suites": cipher_suites,
    "certificate_purpose": certificate_purpose,
    "sql_encryption": sql_encryption,
}
MakePlan = Callable[[Mapping[str, Any]], Plan]


def marked(values: Iterable[int], kept: Iterable[int]) -> list[Any]:
    """The values as pytest parameters: those in ``kept`` run in ``make test``; the others are
    marked ``long`` and run in ``make test-all`` (its pytest-long stage)."""
    keep = set(kept)
    return [k if k in keep else pytest.param(k, marks=pytest.mark.long) for k in values]


def positions(last: int) -> list[Any]:
    """Every op position 0..last; the first, the middle and the last run in ``make test``."""
    return marked(range(last + 1), {0, last // 2, last})


def pairs(first: Any, params: list[Any]) -> list[Any]:
    """``(first, k)`` for each of ``positions(...)``, keeping each one's marks."""
    return [
        pytest.param(first, *p.values, marks=p.marks, id=None) if hasattr(p, "marks") else (first, p)
        for p in params
    ]


class LabConnection:
    """The part of an Ansible connection the adapter uses, over one lab host's WinRM endpoint."""

    def __init__(self, lab: RunningLab, host: str, **winrm_options: Any) -> None:
        self.lab, self.host = lab, host
        self._execute = winrm_command_runner(lab.inventory, host, **winrm_options)

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False):
        del sudoable
        return self._execute(cmd, in_data or b"")

    def reset(self) -> None:  # every command opens its own shell already
        pass

    # the lab's side of the host
    def state(self) -> dict[str, Any]:
        return control_request(self.lab.hosts[self.host], "GET", "state")

    def commands(self) -> int:
        return int(control_request(self.lab.hosts[self.host], "GET", "stats")["commands"])

    def knobs(self, **changes: Any) -> dict[str, Any]:
        return control_request(self.lab.hosts[self.host], "POST", "knobs", changes)


def planner(module: str, **args: Any) -> MakePlan:
    """The module's ``make_plan(facts)`` for these arguments over its argument defaults."""
    action = FIX_MODULES[module].ActionModule
    full = {name: spec.get("default") for name, spec in action.ARGUMENT_SPEC.items()}
    full.update(args)
    make_plan, _extend = action.planner(action.__new__(action), full)
    return make_plan


# Rollback takes the newest run first, by the run id's time stamp (seconds). Runs made in the same
# second by these tests get increasing suffixes, so that they sort in the order they were made, as
# runs minutes apart do.
_RUN_TOKENS = itertools.count(0x100000)


def run_id() -> str:
    return new_run_id(utc_now(), f"{next(_RUN_TOKENS):06x}")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fix(
    conn: LabConnection, module: str, make_plan: MakePlan, run: str, facts: Mapping[str, Any] | None = None
) -> Outcome:
    """One fix module's run (run_fix without the result rendering): plan, apply, re-plan on conflict."""
    facts = gather_facts(conn) if facts is None else facts
    return converge_on(conn, facts, make_plan, check_mode=False, run_id=run, module=module, now=utc_now())


def roll_back(conn: LabConnection, run: str | None = None) -> Restore:
    """One mssql.tls.rollback: the given run, else the newest one not rolled back yet."""
    return restore_run(
        batch_runner(conn), run_id=run, new_run_id=run_id(), force=False, check_mode=False, now=utc_now()
    )


def roll_back_everything(conn: LabConnection, limit: int = 6) -> list[str]:
    """Run rollback (no run given) until it finds nothing to roll back; the runs it restored, in order."""
    restored = []
    for _attempt in range(limit):
        done = roll_back(conn)
        assert done.outcome.error is None, done.outcome.error
        if done.run is None:
            return restored
        restored.append(done.run)
    raise AssertionError(f"rollback still finds a run to restore after {limit} runs: {restored}")


class Fleets:
    """Lab fleets of copies of one profile, started on first use; ``host(profile)`` hands out a fresh copy."""

    def __init__(self, stack: ExitStack, copies: Mapping[str, int], **lab_options: Any) -> None:
        self._stack, self._copies, self._options = stack, dict(copies), lab_options
        self._labs: dict[str, RunningLab] = {}
        self._free: dict[str, Iterator[str]] = {}

    def host(self, profile: str) -> LabConnection:
        if profile not in self._labs:
            path = Path(PROFILES_DIR) / f"{profile}.yml"
            count = self._copies[profile]
            lab = self._stack.enter_context(
                running_lab([path], tds=False, copies=count, ready_timeout=60 + count, **self._options)
            )
            self._labs[profile] = lab
            self._free[profile] = iter(sorted(lab.hosts))
        name = next(self._free[profile], None)
        if name is None:
            raise RuntimeError(f"no fresh copy of {profile} left: raise its count ({self._copies[profile]})")
        return LabConnection(self._labs[profile], name)
