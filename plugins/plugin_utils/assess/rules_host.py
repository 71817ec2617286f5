"""Host-wide client settings and evidence: .NET strong crypto, FIPS, Schannel events.

Keys and meaning: reference/windows-schannel.md 7 (.NET, FIPS) and 8 (events).
"""

from __future__ import annotations

from typing import Any

from ..facts.clients import DOTNET_KEYS
from . import view
from .findings import make_finding


def dotnet_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    # An installed .NET version whose key does not say SchUseStrongCrypto=1 leaves apps
    # that target older frameworks on the old protocols.
    keys = facts["dotnet"]["keys"]
    weak = [
        DOTNET_KEYS[label] for label, key in keys.items() if key["exists"] and key["SchUseStrongCrypto"] != 1
    ]
    return [make_finding("dotnet_strong_crypto_off", lang, keys=weak)] if weak else []


def fips_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    return [make_finding("fips_enabled", lang)] if facts["fips"]["enabled"] else []


def schannel_event_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    counts = {i: view.event_count(facts, i) for i in (36874, 36888, 36887)}
    if not (counts[36874] or counts[36888]):
        return []
    return [
        make_finding(
            "schannel_events",
            lang,
            hours=facts["schannel_events"]["since_hours"],
            events_36874=counts[36874],
            events_36888=counts[36888],
            events_36887=counts[36887],
        )
    ]


def pending_reboot_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    """Our own changes that wait for a reboot (facts ``pending``, from the host's journal): the
    registry already shows the new state, what clients see is still the old one until a reboot."""
    pending = facts.get("pending") or {}
    records = pending.get("reboot_records") or []
    if not pending.get("reboot") or not records:
        return []
    return [
        make_finding(
            "reboot_pending",
            lang,
            records=[r["journal_id"] for r in records],
            since=min(r["created_utc"] for r in records),
            last_boot=pending.get("since_boot_utc"),
        )
    ]
