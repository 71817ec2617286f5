"""The fleet report's pairing part (docs/report-schema.md "Fleet pairing"): pair findings on the
hosts, and the clients x instances section built from the result of mssql.tls.pairing.

Pure: the registered pairing result (plain data) in, report data out. The findings of a failing
pair are already in the shape of the audit's findings (assess/pairing_findings.py); they join
the host entries, so severities, scenarios, ``fail_on`` and the before/after states count them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..assess.pairing import FAILING
from ..assess.pairing_findings import PAIR_CHECK_IDS
from .changes import HostRun
from .document import HostResult

# The pair fields the report keeps (the rest of a pair result is for the gate and the action).
_PAIR_FIELDS = (
    "id",
    "client",
    "driver",
    "driver_versions",
    "server",
    "instance",
    "sources",
    "seen",
    "status",
    "code",
    "scenario",
    "protocol",
    "suite",
    "client_protocols",
    "server_protocols",
    "key_type",
    "dh_fix",
    "remedy",
    "fixable_by",
    "clears_with",
)
_SLUG = re.compile(r"[^a-z0-9]+")


def pairing_result(
    hostvars: Mapping[str, Any], hosts: list[str], var: str | None
) -> Mapping[str, Any] | None:
    """The registered mssql.tls.pairing result, or None. Run once, it is on every host that ran the
    task; a host that skipped a later run (a conditional include) still holds an older one, so the
    newest (``paired_at``) wins. A fleet without client hosts has nothing to pair: the report stays
    as it was."""
    if not var:
        return None
    found = [
        value
        for value in ((hostvars.get(name) or {}).get(var) for name in hosts)
        if isinstance(value, Mapping) and isinstance(value.get("pairs"), list) and not value.get("failed")
    ]
    newest = max(found, key=lambda value: str(value.get("paired_at") or ""), default=None)
    return newest if newest is not None and newest.get("clients") else None


def _with(host: HostResult, found: list[Mapping[str, Any]]) -> HostResult:
    if host.error is not None or not found:
        return host
    return replace(host, findings=[*host.findings, *(dict(f) for f in found)])


def with_pair_findings(hosts: list[HostResult], pairing: Mapping[str, Any] | None) -> list[HostResult]:
    """Each host with the findings of its failing pairs, as a client and as a server."""
    findings = (pairing or {}).get("findings") or {}
    return [_with(host, findings.get(host.name) or []) for host in hosts]


def with_before_pair_findings(
    runs: dict[str, HostRun], before: Mapping[str, Any] | None
) -> dict[str, HostRun]:
    """The audit before the run with the pair findings of the pairing before the run."""
    findings = (before or {}).get("findings") or {}
    return {
        name: run if run.before is None else replace(run, before=_with(run.before, findings.get(name) or []))
        for name, run in runs.items()
    }


def checks(pairing: Mapping[str, Any] | None) -> tuple[str, ...]:
    return PAIR_CHECK_IDS if pairing is not None else ()


def anchor(client: str, server: str, instance: str) -> str:
    """A stable HTML/Markdown id for a client x instance cell, whatever the host names hold."""
    digest = hashlib.sha256(f"{client}\0{server}\0{instance}".encode()).hexdigest()[:8]
    slug = _SLUG.sub("-", f"{client}-{server}-{instance}".lower()).strip("-")[:60]
    return f"pair-{slug}-{digest}"


def pairing_section(
    pairing: Mapping[str, Any], before: Mapping[str, Any] | None, hosts: list[str]
) -> dict[str, Any]:
    """The report's ``pairing``: summary, the matrix cells (with the state before the run when
    known), every pair of the report's hosts, and the notes."""
    shown = set(hosts)
    before_cells = {
        (c["client"], c["server"], c["instance"]): c
        for c in ((before or {}).get("matrix") or {}).get("cells", [])
    }
    cells = []
    for cell in (pairing.get("matrix") or {}).get("cells", []):
        if cell["client"] not in shown or cell["server"] not in shown:
            continue
        entry = {**cell, "anchor": anchor(cell["client"], cell["server"], cell["instance"])}
        previous = before_cells.get((cell["client"], cell["server"], cell["instance"]))
        if before is not None:
            entry["before"] = (
                None
                if previous is None
                else {"status": previous["status"], "scenarios": previous["scenarios"]}
            )
        cells.append(entry)
    pairs = [
        {**{k: p.get(k) for k in _PAIR_FIELDS}, "anchor": anchor(p["client"], p["server"], p["instance"])}
        for p in pairing["pairs"]
        if p["client"] in shown and p["server"] in shown
    ]
    failing = [p for p in pairs if p["status"] in FAILING]
    return {
        "summary": {
            "clients": len({c["client"] for c in cells}),
            "instances": len({(c["server"], c["instance"]) for c in cells}),
            "pairs": len(pairs),
            "failing_pairs": len(failing),
            "failing_cells": sum(1 for c in cells if c["status"] in FAILING),
            "by_scenario": {str(n): sum(1 for p in failing if p["scenario"] == n) for n in (1, 2, 5)},
            "remaining_upgrades": sorted({p["clears_with"] for p in failing if p["clears_with"]}),
        },
        "clients": sorted({c["client"] for c in cells}),
        "instances": sorted({f"{c['server']}/{c['instance']}" for c in cells}),
        "cells": cells,
        "pairs": pairs,
        "notes": [dict(n) for n in pairing.get("notes") or []],
    }
