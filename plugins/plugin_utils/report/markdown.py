"""report.md: a fleet report that reads well in a terminal, a wiki or a change ticket."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import markdown_changes, pairing_render
from .changes import is_change_report
from .markdown_changes import code

# text(key, **params): the catalog message in the report's language.
Text = Callable[..., str]


_cell = markdown_changes.text_cell


def _matrix(report: Mapping[str, Any], text: Text) -> list[str]:
    scenarios = [s["scenario"] for s in report["scenarios"]]
    head = [text("report.column.host"), *(f"S{s}" for s in scenarios), text("report.column.other")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for host in report["hosts"]:
        if host["error"]:
            cells = [text("report.cell.unreachable")] * (len(scenarios) + 1)
        else:
            cells = ["✗" if s in host["scenarios"] else "✓" for s in scenarios]
            others = sum(1 for f in host["findings"] if f.get("scenario") is None)
            cells.append(str(others) if others else "-")
        lines.append("| " + " | ".join([_cell(host["name"]), *cells]) + " |")
    return lines


def render_markdown(report: Mapping[str, Any], text: Text) -> str:
    summary = report["summary"]
    change = is_change_report(report)
    out = [
        f"# {text('report.change.title' if change else 'report.title')}",
        "",
        text("report.generated", generated=report["generated_utc"]),
        "",
        f"## {text('report.fleet_summary')}",
        "",
        f"- {text('report.hosts')}: {summary['hosts']}",
        *(markdown_changes.summary(report, text) if change else ()),
        f"- {text('report.hosts_with_findings')}: {summary['hosts_with_findings']}",
        f"- {text('report.unreachable_hosts')}: {summary['unreachable']}",
        *(f"- {text('severity.' + s)}: {n}" for s, n in summary["by_severity"].items()),
        "",
        *([*markdown_changes.before_after(report, text), ""] if change else ()),
        f"## {text('report.change.matrix_after' if change else 'report.matrix')}",
        "",
        *_matrix(report, text),
        "",
        f"## {text('report.scenarios')}",
        "",
        *(f"- **S{s['scenario']}**: {_cell(s['title'])}" for s in report["scenarios"]),
        "",
        *([*pairing_render.markdown(report["pairing"], text), ""] if report.get("pairing") else ()),
        *([*markdown_changes.per_host(report, text), ""] if change else ()),
        f"## {text('report.change.findings_after' if change else 'report.findings')}",
    ]
    for host in report["hosts"]:
        out += ["", f"### {_cell(host['name'])}", ""]
        if host["os_build"]:
            out.append(f"{text('report.os_build')}: {_cell(host['os_build'])}  ")
        for inst in host["sql_instances"]:
            out.append(f"SQL Server {code(inst.get('name'))} {_cell(inst.get('version') or '')}  ")
        if host["error"]:
            out += ["", f"**{_cell(text('report.unreachable', error=host['error']))}**"]
            continue
        if not host["findings"]:
            out += ["", text("report.no_findings")]
            continue
        out += [
            "",
            "| "
            + " | ".join(text(f"report.column.{k}") for k in ("severity", "scenario", "title", "fixable_by"))
            + " |",
            "|---|---|---|---|",
        ]
        for f in host["findings"]:
            scenario = f"S{f['scenario']}" if f.get("scenario") else "-"
            out.append(
                f"| {text('severity.' + f['severity'])} | {scenario} | {_cell(f['title'])} (`{f['id']}`) "
                f"| {_cell(f.get('fixable_by') or '-')} |"
            )
        for f in host["findings"]:
            out += [
                "",
                f"**{_cell(f['title'])}** (`{f['id']}`)",
                "",
                f"- {text('report.column.evidence')}: {_cell(f['evidence'])}",
                f"- {text('report.column.remediation')}: {_cell(f['remediation'])}",
            ]
    return "\n".join(out) + "\n"
