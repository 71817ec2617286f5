"""tls.suites / os.info / event.count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import schannel
from .model import iso, parse_iso
from .opcore import OpContext, OpError, invalid


def tls_suites(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    """Get-TlsCipherSuite: the TLS module exists from Server 2016 (windows-schannel.md section 4)."""
    if ctx.state.os.major < 10:
        raise OpError(
            "unsupported",
            "The term 'Get-TlsCipherSuite' is not recognized as the name of a cmdlet, function, "
            "script file, or operable program.",
        )
    out = []
    for name in schannel.effective_cipher_suites(ctx.state).suites:
        info = schannel.suite_info(name)
        out.append(
            {
                "name": name,
                "protocols": list(info.protocols),
                "cipher": info.cipher,
                "exchange": info.exchange,
                "hash": info.hash,
                "certificate": info.certificate,
            }
        )
    return out


def os_info(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    s = ctx.state
    return {
        "computer_name": s.computer_name,
        "dns_domain": s.dns_domain,
        "ps_version": s.os.ps_version,
        "last_boot_utc": s.boot.boot_utc,
        "is_64bit": True,
    }


def event_count(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    hours = op.get("since_hours", 168)
    if hours < 0:
        raise invalid("field 'since_hours': expected 0 or more")
    since = ctx.clock.now() - dt.timedelta(hours=hours)
    counts = {str(i): 0 for i in op["ids"]}
    latest: dict[str, str | None] = {str(i): None for i in op["ids"]}
    for ev in ctx.state.events:
        if ev.log.lower() != op["log"].lower() or str(ev.id) not in counts:
            continue
        if "provider" in op and ev.provider.lower() != op["provider"].lower():
            continue
        when = parse_iso(ev.time_utc)
        if when < since:
            continue
        counts[str(ev.id)] += 1
        prev = latest[str(ev.id)]
        if prev is None or parse_iso(prev) < when:
            latest[str(ev.id)] = iso(when)
    return {"counts": counts, "latest_utc": latest}
