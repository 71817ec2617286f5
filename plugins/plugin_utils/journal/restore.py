"""Roll back one run from the host's journal: read, probe, restore with compare-and-set.

Three agent batches: ``journal.read``; one read batch probing the current state of every
target (``rollback.probe_ops``); one journaled write batch restoring what still holds the
value we wrote (``rollback.plan_rollback``). Check mode stops after the probe. A conflict
while restoring (a value changed between the probe and the write) probes once more.

Which run: the given run id, else the newest run that changed something and that no
rollback has restored since. Rollback records name the run they restore (``rolls_back``),
so rolling back twice finds nothing left to do rather than undoing the rollback. Only a
rollback record that ran to its end restores its run: one cut off (connection lost, host
restarted) or stopped by a failed op leaves the run to the next rollback. A rollback that
finds nothing left to restore still writes its record (no ops), so that the next one goes on
to the older runs. What makes a run "changed something" is its apply records, and they are
what is restored: the restart and reboot records of activations change no setting, and
sql_service's restore of a binding that failed to start is already an undo (restoring it would
write the failed binding again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..agent.ops import op
from ..plan.apply import Outcome, RunBatch, apply_plan
from ..plan.model import Plan
from .record import Record, records_by_run
from .rollback import plan_rollback, probe_ops, restore_items

MODULE = "rollback"


class RestoreError(RuntimeError):
    """The host could not be read, or the restore failed; the message says which."""


class NothingToRestore(RestoreError):
    """This host has no (given) run to roll back: normal for a host the run did not change."""


@dataclass
class Restore:
    run: str | None  # the run rolled back; None when this host had nothing to roll back
    outcome: Outcome
    records: list[str]  # its journal records, newest first as restored
    nothing: str | None = None  # why there was nothing to roll back


def _is_rollback(record: Record) -> bool:
    return record.header.get("module") == MODULE


def _is_change(record: Record) -> bool:
    """A record of a fix module's apply batch (not a rollback, an activation or a restore)."""
    return not _is_rollback(record) and record.header.get("kind", "apply") == "apply"


def _finished(record: Record) -> bool:
    return record.done and record.stopped_at is None


def choose_run(runs: Mapping[str, list[Record]], run_id: str | None) -> str:
    if run_id is not None:
        if run_id not in runs:
            known = ", ".join(sorted(runs)) or "none"
            raise NothingToRestore(f"no journal records of run {run_id} on this host (runs found: {known})")
        return run_id
    restored = {
        r.header.get("rolls_back")
        for records in runs.values()
        for r in records
        if _is_rollback(r) and _finished(r)
    }
    candidates = [
        run
        for run, records in runs.items()
        if run not in restored and any(_is_change(r) and (r.applied or r.interrupted) for r in records)
    ]
    if not candidates:
        raise NothingToRestore(
            "no run of mssql.tls changed anything on this host that is not rolled back yet"
        )
    # Run ids start with their UTC time: the newest sorts last.
    return sorted(candidates)[-1]


def _read(run_batch: RunBatch, ops: list[dict[str, Any]], what: str) -> list[Any]:
    batch = run_batch(ops, None)
    failed = [r for r in batch.results if not r.ok and r.error_kind != "not_found"]
    if failed:
        first = failed[0]
        raise RestoreError(f"{what}: {first.op}: {first.error_kind}: {first.error_message}")
    return [r.data if r.ok else None for r in batch.results]


def _plan(run_batch: RunBatch, records: Sequence[Record], force: bool) -> Plan:
    # Only the fix modules' apply records: a sql_service restore record is the run's own undo of a
    # binding that failed to start; undoing it would write that binding again on the way back.
    items = restore_items([r for r in records if _is_change(r)])
    reads, keys = probe_ops(items)
    results = _read(run_batch, reads, "reading the current state") if reads else []
    return plan_rollback(items, keys, results, force=force)


def restore_run(
    run_batch: RunBatch,
    *,
    run_id: str | None,
    new_run_id: str,
    force: bool,
    check_mode: bool,
    now: dt.datetime,
) -> Restore:
    (journal,) = _read(run_batch, [op("journal.read")], "reading the journal")
    runs = records_by_run((journal or {}).get("records") or [])
    try:
        run = choose_run(runs, run_id)
    except NothingToRestore as exc:
        return Restore(None, Outcome(plan=Plan(concern="rollback"), facts={}), [], str(exc))
    records = runs[run]
    plan = _plan(run_batch, records, force)
    outcome = Outcome(plan=plan, facts={})
    if check_mode:
        return Restore(run, outcome, [r.id for r in reversed(records)])
    extra = {"rolls_back": run}
    # Written even when the plan is empty (a record without ops): the run is rolled back, and the
    # next rollback goes on to an older run instead of choosing this one again.
    applied = apply_plan(run_batch, plan, run_id=new_run_id, module=MODULE, now=now, **extra)
    outcome.batches.append(applied)
    if applied.conflict:  # the first record stopped: the second (maybe without ops) restores the run
        outcome.plan = _plan(run_batch, records, force)
        outcome.regathered = True
        applied = apply_plan(
            run_batch, outcome.plan, run_id=new_run_id, module=MODULE, now=now, attempt=2, **extra
        )
        outcome.batches.append(applied)
    failure = applied.failure
    if failure is not None:
        index, kind, message = failure
        where = (
            f"op {index}: {kind}: {message}"
            if index >= 0
            else f"the host could not write its journal ({message})"
        )
        outcome.error = (
            f"restoring run {run}: {where}; {len(applied.applied)} of {len(applied.plan.ops)} restore(s) "
            f"were applied, journal record {applied.journal_id} on the host says which (rollback again to "
            "finish)"
        )
    return Restore(run, outcome, [r.id for r in reversed(records)])
