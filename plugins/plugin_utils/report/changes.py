"""The before/after part of the report: what a remediation run changed on each host.

Pure functions over what the play registered (docs/report-schema.md, "Before and after"):
the audit before the change, the results of the fix, reboot and restart tasks in the order
they ran, and the audit after. ``add_changes`` extends an audit report document (the
"after") with per-host ``before``, ``scenario_states``, ``changes``, ``pending``,
``blocked`` and ``failed``, and the fleet counts ``summary.remediation``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..assess.findings import RULES
from ..i18n.catalog import CatalogError
from ..plan.model import Blocker, PlanWarning
from ..plan.result import blocker_message, warning_message
from .document import SCENARIOS, HostResult, host_entry

# How a scenario cell moved between the audit before and the audit after the run.
STATES = ("clean", "fixed", "pending", "remaining", "blocked", "new", "unknown")

# The role that fixes each scenario (assess rules' ``fixable_by``; scenario 6 has none).
FIXER_OF_SCENARIO = {r.scenario: r.fixable_by for r in RULES.values() if r.scenario and r.fixable_by}

# The fix role (a finding's ``fixable_by``) behind each plan concern.
FIXER_OF_CONCERN = {
    "schannel_protocols": "tls12",
    "certificate_purpose": "weak_certificates",
    "sql_encryption": "weak_certificates",
    "sql_service": "sql_restart",
}

# text(key, **params): the catalog message in the report's language.
Text = Callable[..., str]


@dataclass(frozen=True)
class HostRun:
    """What a remediation run left in one host's variables, read by ``collect.host_run``.

    ``results`` are (variable name, registered result) in the order the tasks ran;
    ``left_play`` is true when the host dropped out of the play (a failed or unreachable task);
    ``after_pending`` is ``pending`` of the facts gathered after the run.
    """

    before: HostResult | None = None
    results: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    left_play: bool = False
    after_pending: Mapping[str, Any] | None = None


def _names(value: Any) -> list[str]:
    """Instance names from a module field: a name, a list of names, or a list of dicts."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        return []
    names = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("instance") or item.get("name")
        if isinstance(item, str) and item:
            names.append(item)
    return names


def _blocked_entry(var: str, concern: str | None, raw: Mapping[str, Any], lang: str) -> dict[str, Any]:
    blocker = Blocker(
        code=str(raw.get("code")),
        target=str(raw.get("target") or ""),
        data=dict(raw.get("data") or {}),
        clears_with=raw.get("clears_with"),
        forced=bool(raw.get("forced")),
        unfixable=bool(raw.get("unfixable")),
    )
    try:
        text = blocker_message(blocker, lang)  # the report's language, whatever the module's was
    except (CatalogError, TypeError, ValueError):
        text = str(raw.get("message") or blocker.code)
    return {**blocker.as_dict(), "var": var, "concern": concern, "message": text}


def _warning_entry(raw: Mapping[str, Any], lang: str) -> dict[str, Any]:
    warning = PlanWarning(str(raw.get("code")), str(raw.get("target") or ""), dict(raw.get("data") or {}))
    try:
        text = warning_message(warning, lang)
    except (CatalogError, TypeError, ValueError):
        text = str(raw.get("message") or warning.code)
    return {**warning.as_dict(), "message": text}


def _kind(result: Mapping[str, Any]) -> str:
    if isinstance(result.get("plan"), Mapping):
        return "fix"
    if "rebooted" in result:
        return "reboot"
    if "restarted" in result:
        return "restart"
    return "other"


def _journal_ids(result: Mapping[str, Any]) -> list[str]:
    return [j for j in (result.get("journal_ids") or [result.get("journal_id")]) if j]


def was_applied(result: Mapping[str, Any]) -> bool:
    """Whether a registered result changed the host (a check-mode plan did not)."""
    kind = _kind(result)
    if kind == "fix":
        return bool(result.get("changed")) and bool(
            _journal_ids(result)
        )  # every applied batch is journaled first
    if kind == "reboot":
        return bool(result.get("rebooted"))
    if kind == "restart":
        return bool(result.get("restarted"))
    return bool(result.get("changed"))


def change_entry(var: str, result: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """One registered fix / reboot / restart result, reduced to what the report shows."""
    plan = result.get("plan") if isinstance(result.get("plan"), Mapping) else {}
    kind = _kind(result)
    concern = plan.get("concern")
    failed = bool(result.get("failed") or result.get("unreachable"))
    changed = bool(result.get("changed"))
    applied = was_applied(result)
    entry: dict[str, Any] = {
        "var": var,
        "kind": kind,
        "concern": concern,
        "changed": changed,
        "applied": applied,
        "failed": failed,
        "unreachable": bool(result.get("unreachable")),
        "msg": str(result.get("msg") or ""),
        "journal_id": result.get("journal_id"),
        "changes": [dict(c) for c in plan.get("changes") or [] if isinstance(c, Mapping)],
        "activations": [str(a) for a in result.get("activations") or plan.get("activations") or []],
        "reboot_required": bool(result.get("reboot_required")),
        "restart_instances": _names(result.get("restart_instances")),
        "blocked": [
            _blocked_entry(var, concern, b, lang) for b in plan.get("blocked") or [] if isinstance(b, Mapping)
        ],
        "warnings": [_warning_entry(w, lang) for w in plan.get("warnings") or [] if isinstance(w, Mapping)],
        "forced": bool(result.get("forced")),
    }
    if kind == "reboot":
        entry.update(rebooted=bool(result.get("rebooted")), pending=bool(result.get("pending")))
        entry["boot_utc"] = result.get("boot_utc")
    if kind == "restart":
        restarted, pending = result.get("restarted"), result.get("pending")
        entry["restarted"] = _names(restarted) if not isinstance(restarted, bool) else restarted
        entry["pending"] = _names(pending) if not isinstance(pending, bool) else pending
    return entry


def registered_results(var: str, value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """A registered variable as (name, result) pairs: a loop's items one by one, skips left out."""
    if not isinstance(value, Mapping):
        return []
    if isinstance(value.get("results"), list) and "plan" not in value:
        found = []
        for i, item in enumerate(value["results"]):
            found += registered_results(f"{var}[{i}]", item)
        return found
    if value.get("skipped") and not value.get("failed"):
        return []
    return [(var, value)]


def _failed(entries: list[dict[str, Any]], run: HostRun, text: Text) -> dict[str, Any] | None:
    for e in entries:
        if e["failed"]:
            reason = e["msg"] or text("report.change.no_reason")
            if e["unreachable"]:
                reason = text("report.change.unreachable", reason=reason)
            return {"var": e["var"], "reason": reason}
    if run.left_play:
        return {"var": None, "reason": text("report.change.left_play")}
    return None


def _pending(entries: list[dict[str, Any]], run: HostRun, after: Mapping[str, Any]) -> dict[str, Any]:
    """Activations still due, walking the results in the order they ran, then the audit after."""
    reboot, restart = False, {}
    for e in entries:
        if e["kind"] == "fix" and e["applied"]:
            reboot |= e["reboot_required"]
            restart.update(dict.fromkeys(e["restart_instances"]))
        elif e["kind"] == "reboot" and e["rebooted"]:
            reboot = False
        elif e["kind"] == "restart":
            if e["restarted"] is True:
                restart.clear()
            elif isinstance(e["restarted"], list):
                for name in e["restarted"]:
                    restart.pop(name, None)
            if isinstance(e["pending"], list):
                restart.update(dict.fromkeys(e["pending"]))
    if not after["error"]:
        facts_pending = run.after_pending or {}
        if facts_pending.get("read"):
            # The host's journal against its boot time is the authority on reboots.
            reboot = bool(facts_pending.get("reboot"))
        reboot |= any(f.get("id") == "reboot_pending" for f in after["findings"])
        for f in after["findings"]:
            if f.get("id") == "sql_restart_pending_certificate":
                restart.update(dict.fromkeys(_names((f.get("data") or {}).get("instance"))))
    return {"reboot": reboot, "restart_instances": list(restart)}


def _fixer(entry: Mapping[str, Any]) -> str | None:
    concern = entry.get("concern")
    return FIXER_OF_CONCERN.get(concern, concern) if concern else None


def _fixers(findings: Iterable[Mapping[str, Any]], scenario: int) -> set[str | None]:
    """The roles that fix a scenario: its rule's fixer, and the ``fixable_by`` of its findings
    (a finding that needs an upgrade says ``null``; the role that refused it is still its fixer)."""
    return {FIXER_OF_SCENARIO.get(scenario)} | {
        f.get("fixable_by") for f in findings if f.get("scenario") == scenario
    }


def _scenario_states(
    host: Mapping[str, Any], before: Mapping[str, Any] | None, entries: list[dict[str, Any]], pending
) -> dict[str, str]:
    after_known = not host["error"]
    before_known = before is not None and not before["error"]
    refused_by = {_fixer(e) for e in entries for b in e["blocked"] if not b["forced"]} - {None}
    pending_kinds = {"reboot"} if pending["reboot"] else set()
    if pending["restart_instances"]:
        pending_kinds.add("service_restart")
    waiting = {_fixer(e) for e in entries if e["applied"] and pending_kinds & set(e["activations"])} - {None}
    states = {}
    for s in SCENARIOS:
        was = before_known and s in before["scenarios"]
        now = after_known and s in host["scenarios"]
        if not (before_known and after_known):
            states[str(s)] = "unknown"
        elif was and now:
            states[str(s)] = "blocked" if _fixers(host["findings"], s) & refused_by else "remaining"
        elif was:
            states[str(s)] = "pending" if _fixers(before["findings"], s) & waiting else "fixed"
        else:
            states[str(s)] = "new" if now else "clean"
    return states


def host_changes(host: Mapping[str, Any], run: HostRun, lang: str, text: Text) -> dict[str, Any]:
    """The before/after fields of one host entry (``host`` is its audit-after entry)."""
    entries = [change_entry(var, result, lang) for var, result in run.results]
    before = None
    if run.before is not None:
        full = host_entry(run.before)
        before = {k: full[k] for k in ("scenarios", "max_severity", "error", "findings")}
    pending = _pending(entries, run, host)
    seen, blocked = set(), []
    for b in (b for e in entries for b in e["blocked"]):
        key = (b["code"], b["target"], b["forced"], b["unfixable"], repr(sorted(b["data"].items())))
        if key not in seen:
            seen.add(key)
            blocked.append(b)
    return {
        "before": before,
        "scenario_states": _scenario_states(host, before, entries, pending),
        "changes": entries,
        "pending": pending,
        "blocked": blocked,
        "failed": _failed(entries, run, text),
    }


def remediation_summary(hosts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    hosts = list(hosts)
    states = Counter(state for h in hosts for state in h["scenario_states"].values())

    def fresh(h: Mapping[str, Any]) -> bool:
        return not h["error"] and not h["failed"]

    return {
        "hosts_with_scenarios_before": sum(1 for h in hosts if h["before"] and h["before"]["scenarios"]),
        # Fixed and in effect: a fix still waiting for its reboot or restart counts as pending.
        "hosts_fixed": sum(
            1
            for h in hosts
            if fresh(h)
            and h["before"]
            and h["before"]["scenarios"]
            and not h["scenarios"]
            and "pending" not in h["scenario_states"].values()
        ),
        "hosts_with_scenarios_after": sum(1 for h in hosts if not h["error"] and h["scenarios"]),
        "hosts_changed": sum(1 for h in hosts if any(e["applied"] for e in h["changes"])),
        "hosts_pending_reboot": sum(1 for h in hosts if h["pending"]["reboot"]),
        "hosts_pending_restart": sum(1 for h in hosts if h["pending"]["restart_instances"]),
        "hosts_failed": sum(1 for h in hosts if h["failed"]),
        "blocked": sum(1 for h in hosts for b in h["blocked"] if not b["forced"]),
        "forced": sum(1 for h in hosts for b in h["blocked"] if b["forced"]),
        "by_state": {s: states.get(s, 0) for s in STATES},
    }


def add_changes(
    report: Mapping[str, Any], runs: Mapping[str, HostRun], lang: str, text: Text
) -> dict[str, Any]:
    """The audit report (the state after the run) with the before/after fields added."""
    hosts = [{**h, **host_changes(h, runs.get(h["name"], HostRun()), lang, text)} for h in report["hosts"]]
    summary = {**report["summary"], "remediation": remediation_summary(hosts)}
    return {**report, "summary": summary, "hosts": hosts}


def is_change_report(report: Mapping[str, Any]) -> bool:
    return "remediation" in report["summary"]
