"""Describe a server certificate from its DER bytes with ``cryptography``.

The fields are those the scenario rules need (sqlserver-tls.md sections 4-6):
signature hash (MD5/SHA1/SHA224/SHA512 are scenario 4 material; the hash of
an RSASSA-PSS signature comes from its parameters), key type and size,
validity, SANs and the EKU *extension*. Whether a hash is "weak" is decided by
the assess layer, not here.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache

from .errors import ProbeError, ProbeInputError

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
    from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
except ImportError as error:  # requirements.txt has it; ansible-test's import check runs without it
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = error
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    common_name: str | None
    dns_names: list[str]
    ip_addresses: list[str]
    not_before: str  # ISO 8601, UTC
    not_after: str
    serial_number: str  # hex
    thumbprint_sha1: str  # upper-case hex, as Windows shows thumbprints
    fingerprint_sha256: str
    signature_algorithm: str  # dotted OID
    signature_algorithm_name: str
    signature_hash: str | None  # "md5", "sha1", "sha224", "sha256", "sha384", "sha512"; None for EdDSA
    key_type: str  # "RSA", "EC", "DSA", "Ed25519", "Ed448", or "unknown"
    key_size: int | None
    curve: str | None
    eku: list[str] | None  # dotted OIDs of the EKU extension; None when the extension is absent
    self_issued: bool
    extensions_error: str | None  # the extensions could not be parsed: SANs and EKU unknown

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def describe_certificate(der: bytes) -> CertificateInfo:
    """Parse one DER certificate; bytes that are not one raise ProbeInputError naming ``certificate``."""
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        raise ProbeError(f"parsing certificates needs the cryptography package: {CRYPTOGRAPHY_IMPORT_ERROR}")
    try:
        return _describe(x509.load_der_x509_certificate(der), der)
    except (ValueError, TypeError) as error:  # cryptography parses lazily: fields can fail late
        raise ProbeInputError(
            "certificate", "a DER-encoded X.509 certificate", f"{len(der)} bytes: {error}"
        ) from None


def _describe(cert: x509.Certificate, der: bytes) -> CertificateInfo:
    key_type, key_size, curve = _key(cert)
    try:
        extensions: x509.Extensions | None = cert.extensions
        extensions_error = None
    except ValueError as error:  # e.g. an empty EKU SEQUENCE: keep describing the rest
        extensions, extensions_error = None, str(error)
    sig_oid = cert.signature_algorithm_oid
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=_common_name(cert),
        dns_names=_san(extensions, x509.DNSName),
        ip_addresses=[str(ip) for ip in _san(extensions, x509.IPAddress)],
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
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


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _san(extensions: x509.Extensions | None, kind: type) -> list:
    if extensions is None:
        return []
    try:
        extension = extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(extension.value.get_values_for_type(kind))


def _eku(extensions: x509.Extensions | None) -> list[str] | None:
    if extensions is None:
        return None
    try:
        extension = extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return None
    return [oid.dotted_string for oid in extension.value]


def _signature_hash(cert: x509.Certificate) -> str | None:
    # For RSASSA-PSS cryptography reads the hash from the signature parameters.
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "unknown"
    return algorithm.name if algorithm is not None else None


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
