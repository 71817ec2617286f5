"""Short per-endpoint summaries of probe results, and the text lines a playbook prints.

A summary answers the questions of the 10054 article from the client's side:
which protocols the endpoint accepts (scenario 1), whether it accepts a
TLS_DHE suite (scenarios 3 and 5), whether its certificate is signed with a
hash the article names (scenario 4), and which client profiles fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .suites import suite_by_name

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


_COLUMNS = ("ENDPOINT", "INSTANCE", "MODE", "PROTOCOLS", "DHE", "CERT HASH", "FAILING CLIENTS")


def summary_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """A fixed-width table: a header, then one line per summary."""
    rows = [_COLUMNS, *(_row(s) for s in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]


def _row(summary: Mapping[str, Any]) -> tuple[str, ...]:
    head = (str(summary["target"]), summary.get("instance") or "-", str(summary["mode"]))
    if not summary["reachable"]:
        reason = summary["errors"][0] if summary["errors"] else "no answer"
        return (*head, "unreachable", "-", "-", reason)
    certificate = summary["certificate_hash"] or "-"
    if summary["weak_hash_certificate"]:
        certificate += " (weak)"
    return (
        *head,
        ", ".join(summary["protocols"]) or "none",
        "yes" if summary["dhe_accepted"] else "no",
        certificate,
        ", ".join(summary["failing_profiles"]) or "none",
    )


def client_lines(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """What each judged client profile sees, endpoint by endpoint."""
    lines: list[str] = []
    for result in results:
        instance = f" ({result['instance']})" if result.get("instance") else ""
        lines.append(f"{result.get('target')}{instance} {result.get('mode')}:")
        verdicts = result.get("client_verdicts") or []
        if not verdicts:
            errors = result.get("errors") or []
            reason = f"[{errors[0]['stage']}] {errors[0]['message']}" if errors else "no client judged"
            lines.append(f"  no verdicts: {reason}")
        width = max((len(v["profile"]) for v in verdicts), default=0)
        for verdict in verdicts:
            mark = "OK  " if verdict["connects"] else "FAIL"
            lines.append(f"  {verdict['profile']:<{width}}  {mark}  {verdict['reason']}")
            lines += [f"  {'':<{width}}        warning: {w}" for w in verdict.get("warnings") or []]
    return lines
