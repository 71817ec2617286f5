"""Scenario 6: login worker (IOCP listener) starvation on SQL Server 2017 and earlier.

Flagged only with evidence: 17830 lines with network error 0x2746, 17197 login
timeouts, or Schannel handshake events; SQL Server 2019's dedicated login dispatcher
pool is the remedy, with no registry fix (reference/sqlserver-tls.md 14, 14a).
"""

from __future__ import annotations

from typing import Any

from . import view
from .findings import make_finding

LAST_AFFECTED_MAJOR = 14  # SQL Server 2017


def login_starvation_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    schannel_events = sum(view.event_count(facts, i) for i in (36874, 36888, 36887))
    findings = []
    for instance in view.instances(facts):
        major = instance.get("major")
        if major is None or major > LAST_AFFECTED_MAJOR:
            continue
        evidence = instance["errorlog"]["evidence"]
        if not (evidence["errors_17830_10054"] or evidence["errors_17197"] or schannel_events):
            continue
        findings.append(
            make_finding(
                "s6.login_starvation_risk",
                lang,
                target=instance["id"],
                instance=instance["name"],
                version=instance["version"],
                errors_10054=evidence["errors_17830_10054"],
                errors_17197=evidence["errors_17197"],
                enqueued_ms=evidence["login_ms_10054"]["enqueued"],
                schannel_events=schannel_events,
            )
        )
    return findings
