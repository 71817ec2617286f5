"""The pairing section of report.md, report.html and junit.xml: clients x SQL Server instances,
each failing cell linked to its evidence (the drivers, what they negotiated, the sources)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any
from xml.etree import ElementTree as ET

from ..assess.pairing import FAILING
from .markdown_changes import text_cell

Text = Callable[..., str]

# One colour per result, used nowhere else on the page.
CSS = """
table.pairing td.cell{text-align:center;font-weight:600;min-width:5rem;white-space:nowrap}
table.pairing td.cell a{color:inherit}
.pair-fails{background:#ffb8b3;color:#6e011a}.pair-intermittent{background:#ffd8a8;color:#5c2c00}
.pair-connects{background:#d2f4d9;color:#0b4a1b}.pair-unknown{background:#d8dee4;color:#32383f}
.pair-none{background:#ffffff;color:#8c959f}.pair-fixed{background:#a2f2c9;color:#04361a}
.pair{border-left:4px solid #d0d7de;padding:.2rem .8rem;margin:.8rem 0}
"""
MARK = {"fails": "✗", "intermittent": "~", "connects": "✓", "unknown": "?"}


def _scenarios(scenarios: list[int]) -> str:
    return ", ".join(f"S{s}" for s in scenarios)


def _label(status: str, scenarios: list[int]) -> str:
    return f"{MARK[status]} {_scenarios(scenarios)}".strip()


def _cell_state(cell: Mapping[str, Any]) -> tuple[str, str]:
    """(css class suffix, label) of a cell; a cell that failed before the run and no longer does is fixed."""
    label = _label(cell["status"], cell["scenarios"])
    before = cell.get("before")
    if before and before["status"] in FAILING and cell["status"] not in FAILING:
        return "fixed", f"{_label(before['status'], before['scenarios'])} → {label}"
    return cell["status"], label


def _grid(section: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(c["client"], f"{c['server']}/{c['instance']}"): c for c in section["cells"]}


def _pair_detail(pair: Mapping[str, Any], text: Text) -> str:
    params = {
        "client_protocols": ", ".join(pair["client_protocols"]) or "-",
        "server_protocols": ", ".join(pair["server_protocols"]) or "-",
        "protocol": pair["protocol"] or "-",
        "key_type": pair["key_type"],
    }
    return text(f"report.pairing.code.{pair['code']}", **params)


def _failing_cells(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        c
        for c in section["cells"]
        if c["status"] in FAILING or (c.get("before") or {}).get("status") in FAILING
    ]


def _pairs_of(section: Mapping[str, Any], cell: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in section["pairs"] if p["id"] in cell["pairs"]]


def _seen(pairs: list[Mapping[str, Any]]) -> int:
    seen = pairs[0]["seen"] if pairs else []
    return sum(int(s.get("errors_17830_10054") or 0) for s in seen)


def _sources(cell: Mapping[str, Any], text: Text) -> str:
    return ", ".join(text(f"pairing.source.{s}") for s in cell["sources"])


def summary_line(section: Mapping[str, Any], text: Text) -> str:
    s = section["summary"]
    return text(
        "report.pairing.summary",
        pairs=s["pairs"],
        clients=s["clients"],
        instances=s["instances"],
        failing=s["failing_pairs"],
        cells=s["failing_cells"],
    )


# ---- report.md -----------------------------------------------------------------------------------


def markdown(section: Mapping[str, Any], text: Text) -> list[str]:
    grid = _grid(section)
    head = [text("report.pairing.column.client"), *section["instances"]]
    out = [
        f"## {text('report.pairing.title')}",
        "",
        summary_line(section, text),
        "",
        text_cell(text("report.pairing.legend")),
        "",
        "| " + " | ".join(text_cell(h) for h in head) + " |",
        "|" + "---|" * len(head),
    ]
    for client in section["clients"]:
        row = [text_cell(client)]
        for instance in section["instances"]:
            cell = grid.get((client, instance))
            if cell is None:
                row.append("")
                continue
            _state, label = _cell_state(cell)
            row.append(
                f"[{text_cell(label)}](#{cell['anchor']})" if _failing_cells({"cells": [cell]}) else label
            )
        out.append("| " + " | ".join(row) + " |")
    upgrades = section["summary"]["remaining_upgrades"]
    if upgrades:
        out += ["", text_cell(text("report.pairing.upgrades", upgrades="; ".join(upgrades)))]
    out += ["", f"### {text('report.pairing.failing')}"]
    failing = _failing_cells(section)
    if not failing:
        out += ["", text("report.pairing.none_failing")]
    for cell in failing:
        pairs = _pairs_of(section, cell)
        title = f"{cell['client']} → {cell['server']}/{cell['instance']}"
        out += [
            "",
            f'<a id="{cell["anchor"]}"></a>',
            f"#### {text_cell(title)}",
            "",
            text_cell(text("report.pairing.known_from", sources=_sources(cell, text), count=_seen(pairs))),
            "",
            "| " + " | ".join(text(f"report.pairing.column.{k}") for k in _COLUMNS) + " |",
            "|" + "---|" * len(_COLUMNS),
        ]
        for p in pairs:
            out.append("| " + " | ".join(text_cell(v) for v in _row(p, text)) + " |")
    notes = section["notes"]
    if notes:
        out += [
            "",
            f"### {text('report.pairing.notes')}",
            "",
            *(f"- {text_cell(n['message'])}" for n in notes),
        ]
    return out


_COLUMNS = ("driver", "version", "result", "protocol", "suite", "detail", "clears_with")


def _row(pair: Mapping[str, Any], text: Text) -> list[str]:
    scenario = f" (S{pair['scenario']})" if pair["scenario"] else ""
    return [
        pair["driver"],
        ", ".join(pair["driver_versions"]),
        text(f"report.pairing.status.{pair['status']}") + scenario,
        pair["protocol"] or "-",
        pair["suite"] or "-",
        _pair_detail(pair, text),
        pair["clears_with"] or "-",
    ]


# ---- report.html ---------------------------------------------------------------------------------


def html(section: Mapping[str, Any], text: Text) -> str:
    grid = _grid(section)
    head = "".join(f"<th>{escape(i)}</th>" for i in section["instances"])
    rows = []
    for client in section["clients"]:
        cells = []
        for instance in section["instances"]:
            cell = grid.get((client, instance))
            if cell is None:
                cells.append('<td class="cell pair-none"></td>')
                continue
            state, label = _cell_state(cell)
            drivers = "; ".join(
                f"{d}: {text('report.pairing.status.' + s)}" for d, s in cell["drivers"].items()
            )
            content = escape(label)
            if _failing_cells({"cells": [cell]}):
                content = f'<a href="#{cell["anchor"]}">{content}</a>'
            cells.append(f'<td class="cell pair-{state}" title="{escape(drivers)}">{content}</td>')
        rows.append(
            f'<tr><th><a href="#host-{escape(client)}">{escape(client)}</a></th>{"".join(cells)}</tr>'
        )
    parts = [
        f'<h2 id="pairing">{escape(text("report.pairing.title"))}</h2>',
        f'<p class="meta">{escape(summary_line(section, text))}</p>',
        f'<p class="meta">{escape(text("report.pairing.legend"))}</p>',
        f'<table class="pairing"><thead><tr><th>{escape(text("report.pairing.column.client"))}</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    upgrades = section["summary"]["remaining_upgrades"]
    if upgrades:
        parts.append(f"<p>{escape(text('report.pairing.upgrades', upgrades='; '.join(upgrades)))}</p>")
    parts.append(f"<h3>{escape(text('report.pairing.failing'))}</h3>")
    failing = _failing_cells(section)
    if not failing:
        parts.append(f'<p class="ok">{escape(text("report.pairing.none_failing"))}</p>')
    for cell in failing:
        parts.append(_html_cell(section, cell, text))
    if section["notes"]:
        items = "".join(f"<li>{escape(n['message'])}</li>" for n in section["notes"])
        parts.append(f"<h3>{escape(text('report.pairing.notes'))}</h3><ul>{items}</ul>")
    return "".join(parts)


def _html_cell(section: Mapping[str, Any], cell: Mapping[str, Any], text: Text) -> str:
    pairs = _pairs_of(section, cell)
    state, label = _cell_state(cell)
    client, server = escape(cell["client"]), escape(cell["server"])
    title = f"{client} → {server}/{escape(cell['instance'])}"
    known = escape(text("report.pairing.known_from", sources=_sources(cell, text), count=_seen(pairs)))
    links = escape(text("report.pairing.findings_of"))
    head = "".join(f"<th>{escape(text('report.pairing.column.' + k))}</th>" for k in _COLUMNS)
    body = "".join(
        f'<tr class="pair-{escape(p["status"])}">'
        + "".join(f"<td>{escape(v)}</td>" for v in _row(p, text))
        + "</tr>"
        for p in pairs
    )
    return (
        f'<div class="pair" id="{cell["anchor"]}"><h4>{title} '
        f'<span class="badge pair-{state}">{escape(label)}</span></h4>'
        f'<p class="meta">{known} · {links} <a href="#host-{client}">{client}</a>, '
        f'<a href="#host-{server}">{server}</a></p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


# ---- junit.xml -----------------------------------------------------------------------------------


def junit_suite(suites: ET.Element, section: Mapping[str, Any], text: Text | None) -> None:
    """One ``pairing`` suite: a testcase per (client, driver, instance), failed while the pair fails."""
    suite = ET.SubElement(suites, "testsuite", name="pairing", tests=str(len(section["pairs"])))
    failures = skipped = 0
    for p in section["pairs"]:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"mssql.tls.pairing.{p['client']}",
            name=f"{p['driver']} -> {p['server']}/{p['instance']}",
        )
        detail = _pair_detail(p, text) if text else p["code"]
        if p["status"] in FAILING:
            failures += 1
            node = ET.SubElement(case, "failure", message=f"S{p['scenario']} {p['code']}", type=p["status"])
            node.text = "\n".join(x for x in (detail, p["clears_with"]) if x)
        elif p["status"] == "unknown":
            skipped += 1
            ET.SubElement(case, "skipped", message=detail)
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
