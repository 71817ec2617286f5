"""Small read helpers over the mssql_tls facts shared by the rule modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..facts.suites import TLS10_TO_12

Facts = Mapping[str, Any]
PROTOCOL_ORDER = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
USAGE_ROLES = ("loaded", "bound", "auto_pick")


def ordered(protocols: set[str] | list[str]) -> list[str]:
    return [p for p in PROTOCOL_ORDER if p in set(protocols)]


def effective_protocols(facts: Facts, side: str) -> set[str]:
    return set(facts["schannel"]["effective"][side])


def instances(facts: Facts) -> list[Mapping[str, Any]]:
    return list(facts["sql"]["instances"])


def instance_protocols(instance: Mapping[str, Any]) -> set[str]:
    """What the engine can negotiate as a TLS server. TLS 1.3 only through TDS 8.0 strict
    on SQL Server 2022+ (reference/sqlserver-tls.md 9), so only when ForceStrict is on."""
    protocols = set(instance["protocols"])
    if (instance.get("major") or 0) >= 16 and instance.get("force_strict"):
        protocols.add("TLS 1.3")
    return protocols


def tls_only(protocols: set[str]) -> set[str]:
    """The TLS versions of a protocol set (SSL 2.0/3.0 dropped)."""
    return protocols & (TLS10_TO_12 | {"TLS 1.3"})


def certificates(facts: Facts) -> dict[str, Mapping[str, Any]]:
    return {c["thumbprint"]: c for c in facts["certificates"] if c.get("thumbprint")}


def certificate_usage(facts: Facts) -> dict[str, list[tuple[str, str]]]:
    """thumbprint -> [(instance name, role)] for what SQL loaded, is bound to, or would auto-pick."""
    usage: dict[str, list[tuple[str, str]]] = {}
    for instance in instances(facts):
        cert = instance["certificate"]
        roles = [
            (cert["loaded"].get("thumbprint"), "loaded"),
            (cert.get("bound"), "bound"),
            *((tp, "auto_pick") for tp in cert.get("auto_pick_candidates") or []),
        ]
        for thumbprint, role in roles:
            if thumbprint and (instance["name"], role) not in usage.setdefault(thumbprint, []):
                usage[thumbprint].append((instance["name"], role))
    return usage


def certificate_in_use(instance: Mapping[str, Any], certs: Mapping[str, Mapping[str, Any]]) -> Mapping | None:
    """The certificate the engine serves now (ERRORLOG), else the one it would load at its next start."""
    cert = instance["certificate"]
    if cert["loaded"].get("self_generated"):
        return None
    for thumbprint in (
        cert["loaded"].get("thumbprint"),
        cert.get("bound"),
        *(cert.get("auto_pick_candidates") or []),
    ):
        if thumbprint and thumbprint in certs:
            return certs[thumbprint]
    return None


def key_type_in_use(instance: Mapping[str, Any], certs: Mapping[str, Mapping[str, Any]]) -> str:
    cert = certificate_in_use(instance, certs)
    # SQL Server's self-generated fallback certificate is RSA (inference: sqlserver-tls.md 3
    # names its hash, not its key; every observed one is RSA).
    return (cert or {}).get("key_type") or "RSA"


def event_count(facts: Facts, event_id: int) -> int:
    return int(facts["schannel_events"]["counts"].get(str(event_id), 0))
