"""Describe an X.509 certificate from its DER bytes (with ``cryptography``).

One reading serves both the facts (certificates in LocalMachine\\My, shipped as DER by
the agent) and the prober (the certificate a server presents). The fields are those
the scenario rules need (reference/sqlserver-tls.md sections 4-6): the signature hash
(MD5, SHA224 and SHA512 are scenario 4 material; RSASSA-PSS carries its hash in its
parameters), key type and size, validity, names and the EKU *extension*. Whether a
hash is weak, and what property 9 does to the EKU, is decided by the callers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import asdict, dataclass
from functools import cache

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
except ImportError as error:  # requirements.txt has it; ansible-test's import check runs without it
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = error
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

RSASSA_PSS = "1.2.840.113549.1.1.10"

# Signature algorithm OID -> hash (RFC 8017, RFC 5758, RFC 3279, RFC 5754). PSS is
# absent on purpose: its hash is in the parameters. EdDSA signs without a separate hash.
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
}


class CertificateParseError(ValueError):
    """The bytes are not a DER X.509 certificate (or cryptography is missing)."""


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    common_name: str | None
    dns_names: list[str]
    ip_addresses: list[str]
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    serial_number: str  # hex
    thumbprint_sha1: str  # upper-case hex, as Windows shows thumbprints
    fingerprint_sha256: str
    signature_algorithm: str  # dotted OID
    signature_algorithm_name: str
    signature_hash: str | None  # "md5" ... "sha512"; "unknown" when unreadable; None for EdDSA
    key_type: str  # "RSA", "EC", "DSA", "Ed25519", "Ed448" or "unknown"
    key_size: int | None
    curve: str | None
    eku: list[str] | None  # dotted OIDs of the EKU extension; None when the extension is absent
    self_issued: bool
    extensions_error: str | None  # the extensions could not be parsed: SANs and EKU unknown

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["not_before"] = iso_utc(self.not_before)
        data["not_after"] = iso_utc(self.not_after)
        return data


def iso_utc(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_certificate(der: bytes) -> CertificateInfo:
    """Parse one DER certificate; anything else raises CertificateParseError."""
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        raise CertificateParseError(
            f"parsing certificates needs the cryptography package: {CRYPTOGRAPHY_IMPORT_ERROR}"
        )
    try:
        with warnings.catch_warnings():
            # A name longer than X.520's upper bound (a CN over 64 characters) is what the host
            # has: cryptography warns on reading it, which would print on every task's stderr.
            warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)
            return _describe(x509.load_der_x509_certificate(der), der)
    except (ValueError, TypeError) as error:  # cryptography parses lazily: fields can fail late
        raise CertificateParseError(
            f"certificate: expected a DER-encoded X.509 certificate, got {len(der)} bytes: {error}"
        ) from None


def _describe(cert: x509.Certificate, der: bytes) -> CertificateInfo:
    key_type, key_size, curve = _key(cert)
    try:
        extensions: x509.Extensions | None = cert.extensions
        extensions_error = None
    except ValueError as error:  # e.g. an empty EKU SEQUENCE: keep describing the rest
        extensions, extensions_error = None, str(error)
    not_before, not_after = _validity(cert)
    sig_oid = cert.signature_algorithm_oid
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=_common_name(cert),
        dns_names=[str(n) for n in _san(extensions, x509.DNSName)],
        ip_addresses=[str(ip) for ip in _san(extensions, x509.IPAddress)],
        not_before=not_before,
        not_after=not_after,
        serial_number=format(cert.serial_number, "x"),
        thumbprint_sha1=hashlib.sha1(der).hexdigest().upper(),
        fingerprint_sha256=hashlib.sha256(der).hexdigest().upper(),
        signature_algorithm=sig_oid.dotted_string,
        signature_algorithm_name=_signature_names().get(sig_oid, sig_oid.dotted_string),
        signature_hash=_signature_hash(cert),
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        eku=_eku(extensions),
        self_issued=cert.subject == cert.issuer,
        extensions_error=extensions_error,
    )


@cache
def _signature_names() -> dict[x509.ObjectIdentifier, str]:
    return {
        oid: name.lower()
        for name, oid in vars(SignatureAlgorithmOID).items()
        if isinstance(oid, x509.ObjectIdentifier)
    }


def _validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    # *_utc arrived in cryptography 42; requirements.txt still allows 41.
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    utc = dt.timezone.utc
    return cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc)


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _extension(extensions: x509.Extensions | None, kind: type) -> x509.ExtensionType | None:
    if extensions is None:
        return None
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _san(extensions: x509.Extensions | None, kind: type) -> list:
    san = _extension(extensions, x509.SubjectAlternativeName)
    return list(san.get_values_for_type(kind)) if san is not None else []


def _eku(extensions: x509.Extensions | None) -> list[str] | None:
    eku = _extension(extensions, x509.ExtendedKeyUsage)
    return [oid.dotted_string for oid in eku] if eku is not None else None


def _signature_hash(cert: x509.Certificate) -> str | None:
    oid = cert.signature_algorithm_oid.dotted_string
    if oid in SIGNATURE_HASH_BY_OID:
        return SIGNATURE_HASH_BY_OID[oid]
    try:
        algorithm = cert.signature_hash_algorithm  # reads the hash from PSS parameters
    except UnsupportedAlgorithm:
        return "unknown"
    return algorithm.name.replace("-", "") if algorithm is not None else None


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    return "unknown", None, None
