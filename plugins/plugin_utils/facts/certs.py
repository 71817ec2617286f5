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

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from .der import DerError, decode_oid_sequence

SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
ALL_PURPOSES = "all"
WEAK_HASHES = frozenset({"md2", "md4", "md5", "sha224", "sha512"})
RSASSA_PSS = "1.2.840.113549.1.1.10"

# signature algorithm OID -> hash (RFC 8017, RFC 5758, RFC 3279, RFC 5754)
SIGNATURE_HASH_BY_OID = {
    "1.2.840.113549.1.1.2": "md2",
    "1.2.840.113549.1.1.3": "md4",
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.3.14.3.2.29": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.10040.4.3": "sha1",
    "2.16.840.1.101.3.4.3.1": "sha224",
    "2.16.840.1.101.3.4.3.2": "sha256",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
}


def hash_class(signature_hash: str | None) -> str:
    """weak (scenario 4), sha1 (warning), ok, or unknown."""
    if signature_hash is None:
        return "unknown"
    if signature_hash in WEAK_HASHES:
        return "weak"
    return "sha1" if signature_hash == "sha1" else "ok"


def _signature_hash(cert: x509.Certificate) -> str | None:
    oid = cert.signature_algorithm_oid.dotted_string
    if oid != RSASSA_PSS:
        return SIGNATURE_HASH_BY_OID.get(oid)
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # unsupported PSS parameters
        return None
    return algorithm.name.replace("-", "") if algorithm is not None else None


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA", None, None
    return "unknown", None, None


def _extension(cert: x509.Certificate, kind: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    # *_utc arrived in cryptography 42; requirements.txt still allows 41.
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    return cert.not_valid_before.replace(tzinfo=dt.UTC), cert.not_valid_after.replace(tzinfo=dt.UTC)


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


def _names(cert: x509.Certificate) -> tuple[str | None, list[str]]:
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn = str(common[0].value) if common else None
    san = _extension(cert, x509.SubjectAlternativeName)
    names: list[str] = []
    if san is not None:
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    return cn, names


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


def certificate_facts(
    entry: Mapping[str, Any], now: dt.datetime, host_names: Iterable[str]
) -> dict[str, Any]:
    thumbprint = str(entry.get("thumbprint") or "").lower()
    base = {
        "thumbprint": thumbprint,
        "has_private_key": bool(entry.get("has_private_key")),
        "key_provider": entry.get("key_provider"),
        "key_spec": entry.get("key_spec"),
    }
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(entry.get("der") or "", validate=True))
    except (ValueError, binascii.Error) as exc:
        return {**base, "parse_error": f"certificate {thumbprint or '?'}: DER does not parse: {exc}"}

    signature_hash = _signature_hash(cert)
    key_type, key_size, curve = _key(cert)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    eku_extension = [oid.dotted_string for oid in eku] if eku is not None else None
    eku_property, property_error = _property9(entry)
    purposes = effective_purposes(eku_extension, eku_property)
    not_before, not_after = _validity(cert)
    valid_now = not_before <= now <= not_after
    cn, sans = _names(cert)
    hosts = [h for h in host_names if h]
    candidates = [n for n in [cn, *sans] if n and not _is_ip(n)]
    server_auth = has_server_auth(purposes)
    return {
        **base,
        "parse_error": None,
        "eku_property_error": property_error,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "common_name": cn,
        "self_signed": cert.subject == cert.issuer,
        "sans": sans,
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": (not_after - now).days,
        "expired": now > not_after,
        "valid_now": valid_now,
        "signature_algorithm_oid": cert.signature_algorithm_oid.dotted_string,
        "signature_hash": signature_hash,
        "signature_hash_class": hash_class(signature_hash),
        "key_type": key_type,
        "key_size": key_size,
        "key_curve": curve,
        "eku_extension": eku_extension,
        "eku_property": eku_property,
        "effective_purposes": purposes,
        "server_auth": server_auth,
        "matches_host_name": any(_matches(n, h) for n in candidates for h in hosts),
        # The auto-pick algorithm is undocumented (sqlserver-tls.md 3): "finds a certificate
        # that supports the server authentication function"; a private key and the
        # validity period are certificate requirements (section 4). Host-name matching is
        # only reported, not required (inference).
        "sql_auto_pick_candidate": bool(entry.get("has_private_key")) and server_auth and valid_now,
    }
