"""tls.suites / tls.suite.disable / tls.suite.enable / os.info / os.reboot / event.count."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from . import registry as regmod
from . import schannel
from .model import iso, parse_iso
from .opcore import OpContext, OpError, has_expect, invalid

_SUITE_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")
# Printable ASCII without quotes or backslashes (the agent's rule for shutdown.exe /c).
_REBOOT_REASON = re.compile(r"^[\x20-\x21\x23-\x26\x28-\x5B\x5D-\x7E]{1,200}$")
CRYPT_PRIORITY_BOTTOM = 0xFFFFFFFF


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


def _require_tls_module(ctx: OpContext, cmdlet: str) -> None:
    if ctx.state.os.major < 10:
        raise OpError(
            "unsupported",
            f"The term '{cmdlet}' is not recognized as the name of a cmdlet, function, "
            "script file, or operable program.",
        )


def _suite_name(op: dict[str, Any]) -> str:
    if not _SUITE_NAME.fullmatch(op["name"]):
        raise invalid(f"field 'name': expected a cipher suite name, got {op['name']!r}")
    return op["name"]


def local_list(ctx: OpContext) -> list[str]:
    """The Local (CNG) list the TLS cmdlets edit (windows-schannel.md section 4). When the Local
    `Functions` value is absent, the lab starts from its OS default list of section 5: what
    CNG's default configuration holds there is not documented in the sources at hand
    (inference)."""
    local = schannel.local_suites(ctx.state)
    return list(local) if local is not None else schannel.default_suites(ctx.state.os.build)


def _write_local_list(ctx: OpContext, suites: list[str]) -> None:
    regmod.set_value(ctx.state.registry, schannel.LOCAL_SUITES, "Functions", "REG_MULTI_SZ", list(suites))


def tls_suite_disable(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Disable-TlsCipherSuite: remove the suite from the Local list; immediate (section 4)."""
    _require_tls_module(ctx, "Disable-TlsCipherSuite")
    name = _suite_name(op)
    suites = local_list(ctx)
    position = suites.index(name) if name in suites else None
    if has_expect(op):
        if op["expect"] != {"present": True}:
            raise invalid("field 'expect': expected {'present': true} or no field")
        if position is None:
            raise OpError("conflict", f"{name}: expected it in the Local suite list, found it absent")
    if position is None:
        return {"removed": False, "position_before": None}
    del suites[position]
    _write_local_list(ctx, suites)
    return {"removed": True, "position_before": position}


def tls_suite_enable(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Enable-TlsCipherSuite -Position: insert ahead of the suite at that position (0 = top;
    default or beyond the end: the bottom); a suite already listed moves there
    (BCryptAddContextFunction, MicrosoftDocs/sdk-api bcrypt/nf-bcrypt-bcryptaddcontextfunction.md)."""
    _require_tls_module(ctx, "Enable-TlsCipherSuite")
    name = _suite_name(op)
    position = op.get("position", CRYPT_PRIORITY_BOTTOM)
    if not 0 <= position <= CRYPT_PRIORITY_BOTTOM:
        raise invalid(f"field 'position': expected 0..{CRYPT_PRIORITY_BOTTOM}, got {position}")
    suites = local_list(ctx)
    if has_expect(op):
        if op["expect"] is not None:
            raise invalid("field 'expect': expected null (the suite must not be in the list yet) or no field")
        if name in suites:
            raise OpError("conflict", f"{name}: expected it absent from the Local suite list, found it")
    if name in suites:
        suites.remove(name)
    suites.insert(min(position, len(suites)), name)
    _write_local_list(ctx, suites)
    return {"position": suites.index(name)}


def os_info(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    s = ctx.state
    offset = dt.timedelta(minutes=s.utc_offset_minutes)
    local = ctx.clock.now().astimezone(dt.timezone(offset)).replace(microsecond=0)
    return {
        "computer_name": s.computer_name,
        "dns_domain": s.dns_domain,
        "ps_version": s.os.ps_version,
        "last_boot_utc": s.boot.boot_utc,
        "is_64bit": True,
        "local_time": local.isoformat(timespec="seconds"),
        "utc_offset_minutes": s.utc_offset_minutes,
        "time_zone": s.time_zone,
    }


def os_reboot(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Schedule a restart (shutdown.exe /r /t <delay_s> /c <reason> on Windows). The reply goes
    out; delay_s later the lab host goes away for a while, then boots (wsman.py, host.py)."""
    delay = op.get("delay_s", 10)
    if not 0 <= delay <= 600:
        raise invalid(f"field 'delay_s': expected 0..600, got {delay}")
    if not _REBOOT_REASON.fullmatch(op["reason"]):
        raise invalid(
            "field 'reason': expected 1-200 printable ASCII characters without quotes or backslashes"
        )
    now = ctx.clock.now()
    ctx.reboot_after_s = float(delay)
    return {
        "previous_boot_utc": ctx.state.boot.boot_utc,
        "scheduled_utc": iso(now + dt.timedelta(seconds=delay)),
        "delay_s": delay,
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
