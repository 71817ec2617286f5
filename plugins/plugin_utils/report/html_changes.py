"""The before/after sections of report.html: the matrix, its legend and the changes per host."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from .change_text import (
    Text,
    activation_label,
    blocker_kind,
    failed_line,
    marks,
    pending_lines,
    result_label,
    result_status,
    scenarios_line,
    value_text,
)

# One colour per state, used nowhere else on the page (tests/integration count its pixels).
CSS = """
table.before-after td.cell{text-align:center;font-weight:600;min-width:4.2rem;white-space:nowrap}
.st-clean{background:#eef1f4;color:#59636e}.st-fixed{background:#aceebb;color:#0f5323}
.st-pending{background:#b6e3ff;color:#0a3069}.st-remaining{background:#ffcecb;color:#82071e}
.st-blocked{background:#fdd49e;color:#6f3800}.st-new{background:#ff8182;color:#4c0014}
.st-unknown{background:#c4cbd4;color:#24292f}.host-failed{background:#cf222e;color:#ffffff}
.legend-states span{display:inline-block;margin:0 .8rem .3rem 0;padding:0 .5rem;border-radius:4px}
.host-changes{border-top:1px solid #d0d7de;margin-top:1rem}
.failed{background:#ffebe9;border-left:4px solid #cf222e;padding:.3rem .8rem}
.pending{background:#ddf4ff;border-left:4px solid #0969da;padding:.3rem .8rem}
.blocker{border-left:4px solid #bc4c00;padding:.2rem .8rem;margin:.4rem 0}
.blocker.unfixable{border-color:#82071e}.blocker.forced{border-color:#8250df}
td.value{font-family:ui-monospace,Consolas,monospace;font-size:.85rem;word-break:break-all}
"""

LEGEND = ("fixed", "pending", "remaining", "blocked", "new", "unknown", "clean")


def _badge(state: str, label: str) -> str:
    return f'<span class="badge st-{state}">{escape(label)}</span>'


def _status(host: Mapping[str, Any], text: Text) -> str:
    badges = []
    if host["failed"]:
        badges.append(f'<span class="badge host-failed">{escape(text("report.change.badge.failed"))}</span>')
    if host["pending"]["reboot"]:
        badges.append(_badge("pending", text("report.change.badge.reboot")))
    if host["pending"]["restart_instances"]:
        badges.append(_badge("pending", text("report.change.badge.restart")))
    refused = sum(1 for b in host["blocked"] if not b["forced"])
    if refused:
        badges.append(_badge("blocked", text("report.change.badge.blocked", count=refused)))
    return " ".join(badges) or "-"


def _cell(host: Mapping[str, Any], scenario: int, text: Text) -> str:
    state = host["scenario_states"][str(scenario)]
    title = escape(text(f"report.change.state.{state}"))
    return f'<td class="cell st-{escape(state)}" title="{title}">{marks(host, scenario)}</td>'


def before_after_matrix(report: Mapping[str, Any], text: Text) -> str:
    head = "".join(f'<th title="{escape(s["title"])}">S{s["scenario"]}</th>' for s in report["scenarios"])
    rows = []
    for host in report["hosts"]:
        name = escape(host["name"])
        cells = "".join(_cell(host, s["scenario"], text) for s in report["scenarios"])
        rows.append(
            f'<tr class="host-row"><th><a href="#changes-{name}">{name}</a></th>{cells}'
            f"<td>{_status(host, text)}</td></tr>"
        )
    legend = "".join(_badge(state, text(f"report.change.state.{state}")) for state in LEGEND)
    return (
        f'<table class="before-after" id="before-after"><thead><tr>'
        f"<th>{escape(text('report.column.host'))}</th>{head}"
        f"<th>{escape(text('report.change.column.status'))}</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="meta">{escape(text("report.change.legend"))}</p><p class="legend-states">{legend}</p>'
    )


def summary_cards(report: Mapping[str, Any], text: Text) -> list[tuple[str, int]]:
    counts = report["summary"]["remediation"]
    return [
        (text("report.change.hosts_fixed"), counts["hosts_fixed"]),
        (text("report.change.hosts_with_scenarios_after"), counts["hosts_with_scenarios_after"]),
        (text("report.change.hosts_pending_reboot"), counts["hosts_pending_reboot"]),
        (text("report.change.hosts_pending_restart"), counts["hosts_pending_restart"]),
        (text("report.change.blocked_items"), counts["blocked"]),
        (text("report.change.hosts_failed"), counts["hosts_failed"]),
    ]


def _changes_table(host: Mapping[str, Any], text: Text) -> str:
    rows = []
    for entry in host["changes"]:
        rows.append(
            f'<tr class="result"><th>{escape(result_label(entry))}</th>'
            f'<td colspan="4">{escape(result_status(entry, text))}</td></tr>'
        )
        for change in entry["changes"]:
            rows.append(
                '<tr class="change"><td></td>'
                f'<td class="value">{escape(str(change.get("target")))}</td>'
                f'<td class="value">{escape(value_text(change.get("before"), text))}</td>'
                f'<td class="value">{escape(value_text(change.get("after"), text))}</td>'
                f"<td>{escape(activation_label(change, text))}</td></tr>"
            )
    if not rows:
        return f'<p class="meta">{escape(text("report.change.no_results"))}</p>'
    head = "".join(
        f"<th>{escape(text('report.change.column.' + k))}</th>"
        for k in ("module", "target", "before", "after", "activation")
    )
    return f'<table class="changes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _blockers(host: Mapping[str, Any], text: Text) -> str:
    items = []
    for b in host["blocked"]:
        kind = blocker_kind(b)
        items.append(
            f'<div class="blocker {kind}"><p>{_badge("blocked", text("report.change.blocker." + kind))} '
            f"<code>{escape(b['code'])}</code> <code>{escape(b['target'])}</code></p>"
            f"<p>{escape(b['message'])}</p></div>"
        )
    return "".join(items)


def _host_changes(host: Mapping[str, Any], text: Text) -> str:
    name = escape(host["name"])
    parts = [f'<section class="host-changes" id="changes-{name}"><h3>{name}</h3>']
    parts.append(f'<p class="meta">{escape(scenarios_line(host, text))}</p>')
    before = host["before"]
    if before is not None and before["error"]:
        parts.append(
            f'<p class="meta">{escape(text("report.change.before_error", error=before["error"]))}</p>'
        )
    failed = failed_line(host, text)
    if failed:
        parts.append(f'<p class="failed">{escape(failed)}</p>')
    if host["error"]:
        parts.append(f'<p class="meta">{escape(text("report.change.after_error", error=host["error"]))}</p>')
    parts += [f'<p class="pending">{escape(line)}</p>' for line in pending_lines(host, text)]
    parts.append(_changes_table(host, text))
    if host["blocked"]:
        parts.append(f"<h4>{escape(text('report.change.blocked'))}</h4>{_blockers(host, text)}")
    warnings = [w for e in host["changes"] for w in e["warnings"]]
    if warnings:
        items = "".join(f"<li>{escape(w['message'])}</li>" for w in warnings)
        parts.append(f"<h4>{escape(text('report.change.warnings'))}</h4><ul>{items}</ul>")
    parts.append("</section>")
    return "".join(parts)


def before_after_section(report: Mapping[str, Any], text: Text) -> str:
    return f"<h2>{escape(text('report.change.before_after'))}</h2>{before_after_matrix(report, text)}"


def changes_section(report: Mapping[str, Any], text: Text) -> str:
    details = "".join(_host_changes(h, text) for h in report["hosts"])
    return f'<h2 id="changes">{escape(text("report.change.per_host"))}</h2>{details}'
