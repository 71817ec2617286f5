"""report.html: one self-contained page (inline CSS, no scripts, no external assets)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from . import html_changes, pairing_render
from .changes import is_change_report
from .document import max_severity

# text(key, **params): the catalog message in the report's language.
Text = Callable[..., str]

_CSS = """
body{font-family:"Segoe UI","Noto Sans CJK JP","Noto Sans JP",Meiryo,system-ui,sans-serif;
margin:2rem auto;max-width:78rem;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#59636e}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.35rem .6rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}
table.matrix td.cell{text-align:center;font-weight:600;min-width:3.2rem}
.sev-high{background:#ffd7d5;color:#82071e}.sev-medium{background:#ffe8c2;color:#7d4e00}
.sev-low{background:#fff8c5;color:#6b5900}.sev-info{background:#ddf4ff;color:#0a3069}
.ok{background:#dafbe1;color:#116329}.err{background:#eaeef2;color:#57606a}
.badge{border-radius:1rem;padding:0 .5rem;font-size:.85rem;white-space:nowrap}
code{background:#f6f8fa;padding:0 .25rem;border-radius:4px}
.finding{border-left:4px solid #d0d7de;padding:.2rem .8rem;margin:.6rem 0}
.finding.sev-high{border-color:#cf222e;background:none;color:inherit}.finding.sev-medium{border-color:#bc4c00;background:none;color:inherit}
.finding.sev-low{border-color:#9a6700;background:none;color:inherit}.finding.sev-info{border-color:#0969da;background:none;color:inherit}
"""


def _severity_badge(severity: str | None, text: Text) -> str:
    if severity is None:
        return f'<span class="badge ok">{escape(text("report.compliant"))}</span>'
    return f'<span class="badge sev-{escape(severity)}">{escape(text("severity." + severity))}</span>'


def _matrix_cell(host: Mapping[str, Any], scenario: int | None, text: Text) -> str:
    if host["error"]:
        return f'<td class="cell err">{escape(text("report.cell.unreachable"))}</td>'
    hits = [f for f in host["findings"] if f.get("scenario") == scenario]
    if not hits:
        return '<td class="cell ok" title="ok">✓</td>'
    worst = max_severity(hits)
    label = str(len(hits)) if scenario is None else "✗"
    titles = escape("; ".join(f["title"] for f in hits))
    return f'<td class="cell sev-{worst}" title="{titles}">{label}</td>'


def _matrix(report: Mapping[str, Any], text: Text) -> str:
    head = "".join(f'<th title="{escape(s["title"])}">S{s["scenario"]}</th>' for s in report["scenarios"])
    rows = []
    for host in report["hosts"]:
        cells = "".join(_matrix_cell(host, s["scenario"], text) for s in report["scenarios"])
        # A host that could not be audited is not compliant: it says so instead.
        badge = (
            f'<span class="badge err">{escape(text("report.cell.unreachable"))}</span>'
            if host["error"]
            else _severity_badge(host["max_severity"], text)
        )
        rows.append(
            f'<tr><th><a href="#host-{escape(host["name"])}">{escape(host["name"])}</a></th>'
            f"{cells}{_matrix_cell(host, None, text)}"
            f"<td>{badge}</td></tr>"
        )
    return (
        f'<table class="matrix" id="matrix"><thead><tr><th>{escape(text("report.column.host"))}</th>{head}'
        f"<th>{escape(text('report.column.other'))}</th><th>{escape(text('report.column.severity'))}</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _host_details(host: Mapping[str, Any], text: Text) -> str:
    name = escape(host["name"])
    parts = [f'<h3 id="host-{name}">{name} {_severity_badge(host["max_severity"], text)}</h3>']
    facts = []
    if host["os_build"]:
        facts.append(f"{escape(text('report.os_build'))}: <code>{escape(host['os_build'])}</code>")
    for inst in host["sql_instances"]:
        version = escape(str(inst.get("version") or ""))
        facts.append(f"SQL Server <code>{escape(str(inst.get('name')))}</code> {version}")
    if facts:
        parts.append('<p class="meta">' + "<br>".join(facts) + "</p>")
    if host["error"]:
        parts.append(f'<p class="err">{escape(text("report.unreachable", error=host["error"]))}</p>')
        return "".join(parts)
    if not host["findings"]:
        parts.append(f'<p class="ok">{escape(text("report.no_findings"))}</p>')
        return "".join(parts)
    for f in host["findings"]:
        scenario = f"S{f['scenario']} · " if f.get("scenario") else ""
        fix = escape(f.get("fixable_by") or "-")
        parts.append(
            f'<div class="finding sev-{escape(f["severity"])}">'
            f"<p>{_severity_badge(f['severity'], text)} <b>{escape(scenario)}{escape(f['title'])}</b> "
            f"<code>{escape(f['id'])}</code></p>"
            f"<p><b>{escape(text('report.column.evidence'))}:</b> {escape(f['evidence'])}</p>"
            f"<p><b>{escape(text('report.column.remediation'))}:</b> {escape(f['remediation'])}</p>"
            f'<p class="meta">{escape(text("report.column.fixable_by"))}: <code>{fix}</code></p></div>'
        )
    return "".join(parts)


def render_html(report: Mapping[str, Any], text: Text) -> str:
    summary = report["summary"]
    change = is_change_report(report)
    cards = [
        (text("report.hosts"), summary["hosts"]),
        *(html_changes.summary_cards(report, text) if change else ()),
        (text("report.hosts_with_findings"), summary["hosts_with_findings"]),
        (text("report.unreachable_hosts"), summary["unreachable"]),
        *((text("severity." + s), n) for s, n in summary["by_severity"].items()),
    ]
    card_html = "".join(f'<div class="card">{escape(label)}<b>{n}</b></div>' for label, n in cards)
    legend = "".join(f"<li><b>S{s['scenario']}</b>: {escape(s['title'])}</li>" for s in report["scenarios"])
    details = "".join(_host_details(h, text) for h in report["hosts"])
    title = text("report.change.title" if change else "report.title")
    css = _CSS + (html_changes.CSS if change else "") + (pairing_render.CSS if report.get("pairing") else "")
    return (
        f'<!DOCTYPE html><html lang="{escape(report["lang"])}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{css}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{escape(text("report.generated", generated=report["generated_utc"]))}</p>'
        f'<h2>{escape(text("report.fleet_summary"))}</h2><div class="cards">{card_html}</div>'
        f"{html_changes.before_after_section(report, text) if change else ''}"
        f"<h2>{escape(text('report.change.matrix_after' if change else 'report.matrix'))}</h2>"
        f"{_matrix(report, text)}"
        f'<h2>{escape(text("report.scenarios"))}</h2><ul class="legend">{legend}</ul>'
        f"{pairing_render.html(report['pairing'], text) if report.get('pairing') else ''}"
        f"{html_changes.changes_section(report, text) if change else ''}"
        f"<h2>{escape(text('report.change.findings_after' if change else 'report.findings'))}</h2>"
        f"{details}</body></html>\n"
    )
