"""Short per-endpoint summaries of probe results, and the text lines a playbook prints.

A summary answers the questions of the 10054 article from the client's side:
which protocols the endpoint accepts (scenario 1), whether it accepts a
TLS_DHE suite (scenarios 3 and 5), whether its certificate is signed with a
hash the article names (scenario 4), and which client profiles fail.
The summary dicts are language-neutral; the lines are built in ``lang`` from the
``probe.*`` keys of the message catalogs (plugin_utils/i18n).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from ..i18n.catalog import message
from .suites import suite_by_name
from .verdict import verdict_reason, verdict_warnings

# The article's weak signature hashes (sqlserver-tls.md, scenario 4). SHA1 is
# weak too, but it is not one of the hashes that break SQL Server's TLS 1.2.
SCENARIO4_HASHES = ("md5", "sha224", "sha512")


def summarize(result: Mapping[str, Any]) -> dict[str, Any]:
    """The short view of one probe result (schema: docs/prober.md)."""
    protocols = result.get("protocols") or {}
    cipher_suites = result.get("cipher_suites") or {}
    certificate = result.get("certificate") or {}
    verdicts = result.get("client_verdicts") or []
    dhe_suites = sorted({name for names in cipher_suites.values() for name in names if _is_dhe(name)})
    signature_hash = certificate.get("signature_hash")
    return {
        "target": result.get("target"),
        "instance": result.get("instance"),
        "mode": result.get("mode"),
        "reachable": any(state is not None for state in protocols.values()),
        "protocols": [label for label, state in protocols.items() if state is True],
        "dhe_accepted": bool(dhe_suites),
        "dhe_suites": dhe_suites,
        "certificate_hash": signature_hash,
        "weak_hash_certificate": signature_hash in SCENARIO4_HASHES,
        "encryption_forced": (result.get("encryption") or {}).get("forced"),
        "failing_profiles": [v["profile"] for v in verdicts if not v["connects"]],
        "connecting_profiles": [v["profile"] for v in verdicts if v["connects"]],
        "errors": [f"[{e['stage']}] {e['message']}" for e in result.get("errors") or []],
    }


def _is_dhe(name: str) -> bool:
    try:
        return suite_by_name(name).is_dhe
    except ValueError:  # an ID outside the table ("0x1234") is reported, not judged
        return False


_COLUMNS = ("endpoint", "instance", "mode", "protocols", "dhe", "certificate_hash", "failing_clients")


def summary_lines(summaries: Sequence[Mapping[str, Any]], lang: str = "en") -> list[str]:
    """A fixed-width table in ``lang``: a header, then one line per summary.

    Columns are padded to their display width (a CJK character takes two terminal cells).
    """
    header = tuple(message(f"probe.column.{name}", lang) for name in _COLUMNS)
    rows = [header, *(_row(s, lang) for s in summaries)]
    widths = [max(_display_width(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    return [
        "  ".join(_pad(cell, width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


# A cell is one line of at most this many characters: an instance name with newlines or
# thousands of characters (it is host data) must not break the table.
_CELL_MAX = 60


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _CELL_MAX else text[: _CELL_MAX - 1] + "…"


def _row(summary: Mapping[str, Any], lang: str) -> tuple[str, ...]:
    head = (str(summary["target"]), _cell(summary.get("instance") or "-"), str(summary["mode"]))
    if not summary["reachable"]:
        reason = summary["errors"][0] if summary["errors"] else message("probe.cell.no_answer", lang)
        return (*head, message("probe.cell.unreachable", lang), "-", "-", reason)
    certificate = summary["certificate_hash"] or "-"
    if summary["weak_hash_certificate"]:
        certificate = message("probe.cell.weak_hash", lang, hash=certificate)
    none = message("probe.word.none", lang)
    return (
        *head,
        ", ".join(summary["protocols"]) or none,
        message("probe.word.yes" if summary["dhe_accepted"] else "probe.word.no", lang),
        certificate,
        ", ".join(summary["failing_profiles"]) or none,
    )


def client_lines(results: Sequence[Mapping[str, Any]], lang: str = "en") -> list[str]:
    """What each judged client profile sees, endpoint by endpoint, in ``lang``."""
    ok, fail = message("probe.client.ok", lang), message("probe.client.fail", lang)
    mark_width = max(_display_width(ok), _display_width(fail))
    lines: list[str] = []
    for result in results:
        instance = f" ({result['instance']})" if result.get("instance") else ""
        lines.append(f"{result.get('target')}{instance} {result.get('mode')}:")
        verdicts = result.get("client_verdicts") or []
        if not verdicts:
            errors = result.get("errors") or []
            reason = (
                f"[{errors[0]['stage']}] {errors[0]['message']}"
                if errors
                else message("probe.client.none_judged", lang)
            )
            lines.append("  " + message("probe.client.no_verdicts", lang, reason=reason))
        width = max((len(v["profile"]) for v in verdicts), default=0)
        indent = " " * (2 + width + 2 + mark_width + 2)
        for verdict in verdicts:
            mark = _pad(ok if verdict["connects"] else fail, mark_width)
            lines.append(f"  {verdict['profile']:<{width}}  {mark}  {verdict_reason(verdict, lang)}")
            lines += [
                indent + message("probe.client.warning", lang, warning=warning)
                for warning in verdict_warnings(verdict, lang)
            ]
    return lines
