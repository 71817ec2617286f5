"""A fix module's result, from the outcome of ``apply.converge``; text rendered in the operator's language.

Every fix module returns the same fields (STYLE.md, dbatools): ``changed``, ``plan``,
``diff`` (with ``--diff``), ``journal_id``, ``reboot_required``, ``restart_required`` /
``restart_instances``, ``blocked`` (each with its rendered ``message``) and ``forced``.
``changed`` in check mode is the prediction: the plan is not empty.
"""

from __future__ import annotations

from typing import Any

from ..i18n.catalog import has_key, message
from .apply import Outcome
from .model import ACTIVATIONS, Blocker, Plan, PlanWarning


def _text(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def blocker_message(blocker: Blocker, lang: str) -> str:
    key = f"blocker.{blocker.code}"
    if blocker.unfixable and has_key(f"{key}.unfixable", lang):
        key = f"{key}.unfixable"
    params = {name: _text(value) for name, value in blocker.data.items()}
    text = message(key, lang, target=blocker.target, clears_with=_text(blocker.clears_with), **params)
    return message("blocker.forced", lang, text=text) if blocker.forced else text


def warning_message(warning: PlanWarning, lang: str) -> str:
    params = {name: _text(value) for name, value in warning.data.items()}
    return message(f"plan_warning.{warning.code}", lang, target=warning.target, **params)


def activation_text(activations: list[str] | tuple[str, ...], lang: str) -> str:
    return ", ".join(message(f"activation.{a}", lang) for a in activations)


def _applied_plan(outcome: Outcome) -> tuple[list[Any], list[str], list[str]]:
    """(changes applied, their activations, the instances to restart) over every batch."""
    changes = [batch.plan.ops[i].change for batch in outcome.batches for i in batch.applied]
    found = {c.activation for c in changes}
    instances: dict[str, None] = {}
    for change in changes:
        if change.activation == "service_restart":
            instances.update(dict.fromkeys(change.instances))
    return changes, [a for a in ACTIVATIONS if a in found], list(instances)


def _plan_view(plan: Plan, lang: str) -> dict[str, Any]:
    view = plan.as_dict()
    view["blocked"] = [{**b.as_dict(), "message": blocker_message(b, lang)} for b in plan.blockers]
    view["warnings"] = [{**w.as_dict(), "message": warning_message(w, lang)} for w in plan.warnings]
    return view


def module_result(
    outcome: Outcome, *, check_mode: bool, diff: bool, lang: str, run_id: str, gathered: bool
) -> dict[str, Any]:
    plan = outcome.plan
    if check_mode:
        changes = [p.change for p in plan.ops]
        activations, instances = list(plan.activations), list(plan.restart_instances)
    else:
        changes, activations, instances = _applied_plan(outcome)
    view = _plan_view(plan, lang)
    result: dict[str, Any] = {
        "changed": bool(changes),
        "plan": view,
        "run_id": run_id,
        "journal_id": outcome.journal_ids[-1] if outcome.journal_ids else None,
        "journal_ids": outcome.journal_ids,
        "reboot_required": "reboot" in activations,
        "restart_required": bool(instances),
        "restart_instances": instances,
        "activations": activations,
        "blocked": view["blocked"],
        "forced": plan.forced,
        "gathered": gathered or outcome.regathered,
    }
    warnings = [w["message"] for w in view["warnings"]]
    warnings += [b["message"] for b in view["blocked"] if b["forced"]]
    if warnings:
        result["warnings"] = warnings
    if diff:
        shown = (
            plan
            if check_mode
            else Plan(
                plan.concern,
                tuple(p for b in outcome.batches for i, p in enumerate(b.plan.ops) if i in b.applied),
            )
        )
        result["diff"] = {
            "before_header": f"{plan.concern} (before)",
            "after_header": f"{plan.concern} (after)",
            **shown.diff(),
        }
    if outcome.error:
        result.update(failed=True, msg=outcome.error)
        return result
    if not changes:
        msg = message("result.nothing_to_do", lang)
    elif check_mode:
        msg = message(
            "result.planned", lang, count=len(changes), activations=activation_text(activations, lang)
        )
    else:
        msg = message(
            "result.applied",
            lang,
            count=len(changes),
            journal_id=result["journal_id"],
            activations=activation_text(activations, lang),
        )
    if plan.blockers:
        msg += " " + message("result.blocked", lang, count=len(plan.blockers))
    result["msg"] = msg
    return result
