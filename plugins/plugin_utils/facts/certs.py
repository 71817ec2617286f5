"""Certificate facts from ``cert.list`` entries: DER parsed on the controller with ``cryptography``.

Signature-hash classes follow reference/sqlserver-tls.md 5 (MD5, SHA224, SHA512 are
weak for TLS 1.2; SHA1 gets a warning; RSASSA-PSS is classified by the hash in its
parameters). Effective purposes follow section 6: the EKU extension and certificate
property 9 intersect, and an empty property means "no purposes".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ..certificate import CertificateParseError, describe_certificate, iso_utc
from .der import DerError, decode_oid_sequence

SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
ALL_PURPOSES = "all"
WEAK_HASHES = frozenset({"md2", "md4", "md5", "sha224", "sha512"})


def hash_class(signature_hash: str | None) -> str:
    """weak (scenario 4), sha1 (warning), ok, or unknown."""
    if signature_hash is None:
        return "unknown"
    if signature_hash in WEAK_HASHES:
        return "weak"
    return "sha1" if signature_hash == "sha1" else "ok"


def effective_purposes(extension: list[str] | None, prop: list[str] | None) -> str | list[str]:
    """CertGetEnhancedKeyUsage(ctx, 0): neither => all; one => it; both => intersection."""
    if extension is None and prop is None:
        return ALL_PURPOSES
    if prop is None:
        return list(extension or [])
    if extension is None:
        return list(prop)
    return [oid for oid in extension if oid in prop]


def has_server_auth(purposes: str | list[str]) -> bool:
    return purposes == ALL_PURPOSES or SERVER_AUTH in purposes


def _matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _dot, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _property9(entry: Mapping[str, Any]) -> tuple[list[str] | None, str | None]:
    raw = entry.get("prop9")
    if raw is None:
        return None, None
    try:
        return decode_oid_sequence(base64.b64decode(raw, validate=True)), None
    except (DerError, binascii.Error, ValueError) as exc:
        # Windows cannot decode it either; read as "no purposes" rather than "all" (inference)
        return [], f"property 9 is not a DER SEQUENCE OF OID: {exc}"


def purpose_fields(
    extension: list[str] | None, prop9: str | None, has_private_key: bool, valid_now: bool
) -> dict[str, Any]:
    """The fields that follow from the EKU extension and the raw property 9 (base64 or None)."""
    eku_property, property_error = _property9({"prop9": prop9})
    purposes = effective_purposes(extension, eku_property)
    server_auth = has_server_auth(purposes)
    return {
        "prop9": prop9,
        "eku_property": eku_property,
        "eku_property_error": property_error,
        "effective_purposes": purposes,
        "server_auth": server_auth,
        # The auto-pick algorithm is undocumented (sqlserver-tls.md 3): "finds a certificate
        # that supports the server authentication function"; a private key and the
        # validity period are certificate requirements (section 4). Host-name matching is
        # only reported, not required (inference).
        "sql_auto_pick_candidate": has_private_key and server_auth and valid_now,
    }


def _key_acl(entry: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    acl, error = entry.get("key_acl"), entry.get("key_acl_error")
    acl = {"kind": acl.get("kind"), "sddl": acl.get("sddl")} if isinstance(acl, Mapping) else None
    if isinstance(error, Mapping):
        error = {"kind": error.get("kind"), "message": error.get("message")}
    else:
        error = None
    return acl, error


def certificate_facts(
    entry: Mapping[str, Any], now: dt.datetime, host_names: Iterable[str]
) -> dict[str, Any]:
    thumbprint = str(entry.get("thumbprint") or "").lower()
    key_acl, key_acl_error = _key_acl(entry)
    base = {
        "thumbprint": thumbprint,
        "has_private_key": bool(entry.get("has_private_key")),
        "key_provider": entry.get("key_provider"),
        "key_spec": entry.get("key_spec"),
        # CRYPT_KEY_PROV_INFO (property 2): provider type (0 = a CNG key storage provider) and
        # container; the private key's DACL as SDDL (docs/agent-protocol.md, cert.list key_acl).
        "key_provider_type": entry.get("key_provider_type"),
        "key_container": entry.get("key_container"),
        "key_acl": key_acl,
        "key_acl_error": key_acl_error,
        "prop9": entry.get("prop9"),
    }
    try:
        cert = describe_certificate(base64.b64decode(entry.get("der") or "", validate=True))
    except (CertificateParseError, ValueError) as exc:  # binascii.Error, and non-ASCII text, are ValueErrors
        return {**base, "parse_error": f"certificate {thumbprint or '?'}: DER does not parse: {exc}"}

    valid_now = cert.not_before <= now <= cert.not_after
    sans = [*cert.dns_names, *cert.ip_addresses]
    hosts = [h for h in host_names if h]
    candidates = [n for n in [cert.common_name, *cert.dns_names] if n and not _is_ip(n)]
    purposes = purpose_fields(cert.eku, entry.get("prop9"), bool(entry.get("has_private_key")), valid_now)
    return {
        **base,
        "parse_error": None,
        "eku_property_error": purposes["eku_property_error"],
        "subject": cert.subject,
        "issuer": cert.issuer,
        "common_name": cert.common_name,
        "self_signed": cert.self_issued,
        "sans": sans,
        "not_before": iso_utc(cert.not_before),
        "not_after": iso_utc(cert.not_after),
        "days_left": (cert.not_after - now).days,
        "expired": now > cert.not_after,
        "valid_now": valid_now,
        "signature_algorithm_oid": cert.signature_algorithm,
        "signature_hash": cert.signature_hash,
        "signature_hash_class": hash_class(cert.signature_hash),
        "key_type": cert.key_type,
        "key_size": cert.key_size,
        "key_curve": cert.curve,
        "eku_extension": cert.eku,
        "eku_property": purposes["eku_property"],
        "effective_purposes": purposes["effective_purposes"],
        "server_auth": purposes["server_auth"],
        "matches_host_name": any(_matches(n, h) for n in candidates for h in hosts),
        "sql_auto_pick_candidate": purposes["sql_auto_pick_candidate"],
    }
