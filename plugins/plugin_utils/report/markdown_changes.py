"""The before/after sections of report.md: the matrix as a table, then each host's changes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .change_text import (
    Text,
    activation_label,
    blocker_kind,
    failed_line,
    marks,
    pending_lines,
    result_status,
    scenarios_line,
    value_text,
)

# Cells whose colour the HTML shows get a word here.
_WORDED = ("pending", "blocked", "new")


# A backslash before ASCII punctuation escapes it (CommonMark); before anything else it is literal,
# so registry paths stay readable.
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")
_SPECIAL = re.compile(r"([<>|\[\]`*])")


def text_cell(value: Any) -> str:
    """Plain text in a table cell or list item: no raw HTML, links or code, no broken table rows."""
    out = _BACKSLASH.sub(r"\\\\", str(value if value is not None else ""))
    out = _SPECIAL.sub(r"\\\1", out)
    return out.replace("\r", " ").replace("\n", " ")


def code(value: Any, cell: bool = False) -> str:
    """A code span that survives backticks and newlines in the value (CommonMark), and pipes in
    a table ``cell`` (GFM reads ``\\|`` there as a pipe; elsewhere the backslash would show)."""
    raw = str(value).replace("\r", " ").replace("\n", " ")
    if cell:
        raw = raw.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", raw)), default=0) + 1)
    pad = " " if raw.startswith("`") or raw.endswith("`") or not raw.strip() else ""
    return f"{fence}{pad}{raw}{pad}{fence}"


def _cell(host: Mapping[str, Any], scenario: int, text: Text) -> str:
    state = host["scenario_states"][str(scenario)]
    mark = marks(host, scenario)
    return f"{mark} {text(f'report.change.cell.{state}')}" if state in _WORDED else mark


def _status(host: Mapping[str, Any], text: Text) -> str:
    words = []
    if host["failed"]:
        words.append(text("report.change.badge.failed"))
    if host["pending"]["reboot"]:
        words.append(text("report.change.badge.reboot"))
    if host["pending"]["restart_instances"]:
        words.append(text("report.change.badge.restart"))
    refused = sum(1 for b in host["blocked"] if not b["forced"])
    if refused:
        words.append(text("report.change.badge.blocked", count=refused))
    return ", ".join(words) or "-"


def before_after(report: Mapping[str, Any], text: Text) -> list[str]:
    scenarios = [s["scenario"] for s in report["scenarios"]]
    head = [text("report.column.host"), *(f"S{s}" for s in scenarios), text("report.change.column.status")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for host in report["hosts"]:
        cells = [_cell(host, s, text) for s in scenarios]
        lines.append("| " + " | ".join([text_cell(host["name"]), *cells, _status(host, text)]) + " |")
    return [f"## {text('report.change.before_after')}", "", *lines, "", text("report.change.legend")]


def summary(report: Mapping[str, Any], text: Text) -> list[str]:
    counts = report["summary"]["remediation"]
    return [
        f"- {text('report.change.hosts_fixed')}: {counts['hosts_fixed']}",
        f"- {text('report.change.hosts_with_scenarios_after')}: {counts['hosts_with_scenarios_after']}",
        f"- {text('report.change.hosts_pending_reboot')}: {counts['hosts_pending_reboot']}",
        f"- {text('report.change.hosts_pending_restart')}: {counts['hosts_pending_restart']}",
        f"- {text('report.change.blocked_items')}: {counts['blocked']}",
        f"- {text('report.change.hosts_failed')}: {counts['hosts_failed']}",
    ]


def _host(host: Mapping[str, Any], text: Text) -> list[str]:
    out = ["", f"### {text_cell(host['name'])}", "", text_cell(scenarios_line(host, text))]
    before = host["before"]
    notes = []
    if before is not None and before["error"]:
        notes.append(text("report.change.before_error", error=before["error"]))
    failed = failed_line(host, text)
    if failed:
        notes.append(f"**{text_cell(failed)}**")
    if host["error"]:
        notes.append(text_cell(text("report.change.after_error", error=host["error"])))
    notes += [text_cell(line) for line in pending_lines(host, text)]
    if notes:
        out += ["", *(f"- {n}" for n in notes)]
    cols = [text(f"report.change.column.{k}") for k in ("target", "before", "after", "activation")]
    for entry in host["changes"]:
        concern = entry.get("concern")
        label = f"**{text_cell(concern)}** ({code(entry['var'])})" if concern else code(entry["var"])
        out += ["", f"{label}: {text_cell(result_status(entry, text))}"]
        if entry["changes"]:
            out += ["", "| " + " | ".join(cols) + " |", "|---|---|---|---|"]
        for change in entry["changes"]:
            before, after = (code(value_text(change.get(k), text), cell=True) for k in ("before", "after"))
            activation = text_cell(activation_label(change, text))
            out.append(f"| {code(change.get('target'), cell=True)} | {before} | {after} | {activation} |")
    if not host["changes"]:
        out += ["", text("report.change.no_results")]
    if host["blocked"]:
        out += ["", f"**{text('report.change.blocked')}**", ""]
        for b in host["blocked"]:
            kind = text(f"report.change.blocker.{blocker_kind(b)}")
            out.append(f"- {kind} {code(b['code'])} {code(b['target'])}: {text_cell(b['message'])}")
    warnings = [w for e in host["changes"] for w in e["warnings"]]
    if warnings:
        out += ["", f"**{text('report.change.warnings')}**", ""]
        out += [f"- {text_cell(w['message'])}" for w in warnings]
    return out


def per_host(report: Mapping[str, Any], text: Text) -> list[str]:
    out = [f"## {text('report.change.per_host')}"]
    for host in report["hosts"]:
        out += _host(host, text)
    return out
