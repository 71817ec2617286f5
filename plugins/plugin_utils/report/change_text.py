"""Words of the before/after report shared by every format (HTML, Markdown, JUnit, summary)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..plan.model import ACTIVATIONS

# text(key, **params): the catalog message in the report's language.
Text = Callable[..., str]

MARK = {True: "✗", False: "✓", None: "?"}


def value_text(value: Any, text: Text) -> str:
    """A before/after value of a change: None is absent, strings as they are, the rest (and "") as JSON."""
    if value is None:
        return text("report.change.absent")
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def activation_label(change: Mapping[str, Any], text: Text) -> str:
    activation = change.get("activation")
    label = text(f"activation.{activation}") if activation in ACTIVATIONS else str(activation or "-")
    instances = ", ".join(str(i) for i in change.get("instances") or [])
    return f"{label} ({instances})" if instances else label


def marks(host: Mapping[str, Any], scenario: int) -> str:
    """``✗→✓``: the scenario in the audit before and after the run, ``?`` where not audited."""
    before = host["before"]
    was = None if before is None or before["error"] else scenario in before["scenarios"]
    now = None if host["error"] else scenario in host["scenarios"]
    return f"{MARK[was]}→{MARK[now]}"


def result_label(entry: Mapping[str, Any]) -> str:
    concern = entry.get("concern")
    return f"{concern} ({entry['var']})" if concern else entry["var"]


def result_status(entry: Mapping[str, Any], text: Text) -> str:
    """What one registered result did, in one line."""
    if entry["failed"]:
        return text("report.change.status.failed", msg=entry["msg"] or "-")
    if entry["kind"] == "reboot":
        if entry["rebooted"]:
            return text("report.change.status.rebooted", boot=entry.get("boot_utc") or "-")
        key = "reboot_deferred" if entry["pending"] else "no_reboot"
        return text(f"report.change.status.{key}")
    if entry["kind"] == "restart":
        restarted = entry["restarted"]
        if restarted:
            names = ", ".join(restarted) if isinstance(restarted, list) else "-"
            return text("report.change.status.restarted", instances=names)
        return text("report.change.status.no_restart")
    if entry["applied"]:
        return text(
            "report.change.status.applied", count=len(entry["changes"]), journal_id=entry["journal_id"] or "-"
        )
    if entry["changed"]:
        return text("report.change.status.planned", count=len(entry["changes"]))
    return text("report.change.status.nothing")


def failed_line(host: Mapping[str, Any], text: Text) -> str | None:
    failed = host["failed"]
    if not failed:
        return None
    if failed["var"]:
        return text("report.change.failed_in", var=failed["var"], reason=failed["reason"])
    return text("report.change.failed", reason=failed["reason"])


def pending_lines(host: Mapping[str, Any], text: Text) -> list[str]:
    lines = []
    if host["pending"]["reboot"]:
        lines.append(text("report.change.pending_reboot"))
    if host["pending"]["restart_instances"]:
        instances = ", ".join(host["pending"]["restart_instances"])
        lines.append(text("report.change.pending_restart", instances=instances))
    return lines


def scenarios_line(host: Mapping[str, Any], text: Text) -> str:
    before = host["before"]
    was = "?" if before is None or before["error"] else ", ".join(f"S{s}" for s in before["scenarios"]) or "-"
    now = "?" if host["error"] else ", ".join(f"S{s}" for s in host["scenarios"]) or "-"
    return text("report.change.scenarios_line", before=was, after=now)


def blocker_kind(blocker: Mapping[str, Any]) -> str:
    """``forced`` (the gate was overridden), ``unfixable`` (this fix cannot remove it) or ``refused``."""
    if blocker["forced"]:
        return "forced"
    return "unfixable" if blocker["unfixable"] else "refused"
