"""Apply a plan: one agent batch, journal record first, compare-and-set; re-plan once on conflict.

DESIGN.md "Remediation", step 3. The batch carries the journal header (``journal.record``),
which the agent writes before any op runs; each write expects the value the plan was
computed against. When a precondition fails (``conflict``: someone changed the value since
the gather), the host is gathered once more and planned once more; a second conflict fails
with the reason. An empty plan, or check mode, costs no round trip.

The callables keep this free of Ansible: ``run_batch(ops, journal)`` runs one batch and
returns the client's ``BatchResult``; ``gather()`` returns fresh facts (one batch).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..agent.client import BatchResult
from ..journal.record import journal_for
from .model import Plan

RunBatch = Callable[[list[dict[str, Any]], Mapping[str, Any] | None], BatchResult]
Gather = Callable[[], Mapping[str, Any]]
MakePlan = Callable[[Mapping[str, Any]], Plan]


@dataclass(frozen=True)
class Applied:
    """One apply batch and what the agent said of each op."""

    journal_id: str
    plan: Plan
    batch: BatchResult

    @property
    def applied(self) -> list[int]:
        return [i for i, r in enumerate(self.batch.results) if r.ok]

    @property
    def failure(self) -> tuple[int, str, str] | None:
        """(op index, error kind, message) of the op that stopped the batch."""
        for index, result in enumerate(self.batch.results):
            if not result.ok and result.error_kind != "skipped":
                return index, result.error_kind or "error", result.error_message or ""
        if self.batch.journal_error:
            return -1, "journal", self.batch.journal_error
        return None

    @property
    def conflict(self) -> bool:
        failure = self.failure
        return failure is not None and failure[1] == "conflict"


@dataclass
class Outcome:
    plan: Plan  # the last plan (applied, or only planned in check mode)
    facts: Mapping[str, Any]  # the facts that plan was computed from
    batches: list[Applied] = field(default_factory=list)
    regathered: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        return any(batch.applied for batch in self.batches)

    @property
    def journal_ids(self) -> list[str]:
        return [batch.journal_id for batch in self.batches]


def _describe_failure(applied: Applied) -> str:
    index, kind, message = applied.failure or (-1, "error", "")
    done = len(applied.applied)
    if index < 0 and not done:
        return (
            f"the journal record {applied.journal_id} could not be written on the host ({message}); "
            "nothing after it was applied"
        )
    if index < 0:  # the header was written, then a progress or end line was refused
        return (
            f"the host could not write more of journal record {applied.journal_id} ({message}): "
            f"{done} of {len(applied.plan.ops)} change(s) were applied, nothing after them. The record "
            "holds every prior value; the last change may be missing from its progress lines "
            "(mssql.tls.rollback compares each target with the record and can undo them)"
        )
    change = applied.plan.ops[index].change if index < len(applied.plan.ops) else None
    what = change.target if change else f"op {index}"
    return (
        f"{what}: {kind}: {message}. {done} of {len(applied.plan.ops)} change(s) were applied before it; "
        f"journal record {applied.journal_id} on the host says which (mssql.tls.rollback can undo them)"
    )


def apply_plan(
    run_batch: RunBatch,
    plan: Plan,
    *,
    run_id: str,
    module: str,
    now: dt.datetime,
    attempt: int = 1,
    **journal_extra: Any,
) -> Applied:
    journal = journal_for(plan, run_id=run_id, module=module, now=now, attempt=attempt, **journal_extra)
    batch = run_batch(plan.write_ops(), journal)
    return Applied(journal_id=journal["id"], plan=plan, batch=batch)


def converge(
    run_batch: RunBatch,
    gather: Gather,
    facts: Mapping[str, Any],
    make_plan: MakePlan,
    *,
    check_mode: bool,
    run_id: str,
    module: str,
    now: dt.datetime,
    **journal_extra: Any,
) -> Outcome:
    """Plan, and unless in check mode apply; on a conflict gather and plan once more."""
    plan = make_plan(facts)
    outcome = Outcome(plan=plan, facts=facts)
    if plan.empty or check_mode:
        return outcome
    applied = apply_plan(run_batch, plan, run_id=run_id, module=module, now=now, **journal_extra)
    outcome.batches.append(applied)
    if applied.conflict:
        outcome.facts = gather()
        outcome.regathered = True
        outcome.plan = make_plan(outcome.facts)
        if outcome.plan.empty:
            return outcome
        applied = apply_plan(
            run_batch, outcome.plan, run_id=run_id, module=module, now=now, attempt=2, **journal_extra
        )
        outcome.batches.append(applied)
        if applied.conflict:
            outcome.error = (
                "the host changed while we planned, twice (compare-and-set failed after a fresh gather): "
                + _describe_failure(applied)
            )
            return outcome
    if applied.failure is not None:
        outcome.error = _describe_failure(applied)
    return outcome
