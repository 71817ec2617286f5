"""Real X.509 certificates with any signature hash, and the EKU property rules.

cryptography's CertificateBuilder refuses some legacy hashes (SHA-1, MD5), yet
scenario 4 needs exactly such certificates (sqlserver-tls.md section 5). So the
builder signs with SHA-256 first; the TBS is then re-encoded with the wanted
signature AlgorithmIdentifier, signed with the wanted hash and reassembled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from . import der

SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
EKU_NAMES = {
    "server_auth": SERVER_AUTH,
    "client_auth": "1.3.6.1.5.5.7.3.2",
    "code_signing": "1.3.6.1.5.5.7.3.3",
    "email_protection": "1.3.6.1.5.5.7.3.4",
}

# Signature AlgorithmIdentifier OIDs (sqlserver-tls.md section 5; RFC 8017, RFC 5758).
_RSA_SIG_OIDS = {
    "md5": "1.2.840.113549.1.1.4",
    "sha1": "1.2.840.113549.1.1.5",
    "sha224": "1.2.840.113549.1.1.14",
    "sha256": "1.2.840.113549.1.1.11",
    "sha384": "1.2.840.113549.1.1.12",
    "sha512": "1.2.840.113549.1.1.13",
}
_ECDSA_SIG_OIDS = {
    "sha1": "1.2.840.10045.4.1",
    "sha224": "1.2.840.10045.4.3.1",
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
_HASHES = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CertSpecError(ValueError):
    """A certificate description the lab cannot build; names the bad field."""


@dataclass(frozen=True)
class KeySpec:
    type: str = "rsa"  # "rsa" or "ecdsa"
    size: int = 2048  # RSA modulus bits
    curve: str = "P-256"  # ECDSA curve

    def cache_name(self) -> str:
        return f"rsa{self.size}" if self.type == "rsa" else f"ecdsa-{self.curve}"


@dataclass(frozen=True)
class CertSpec:
    subject_cn: str
    key: KeySpec = KeySpec()
    sans: tuple[str, ...] = ()
    signature_hash: str = "sha256"
    not_before_days: int = -30  # relative to the lab's `now`
    expires_in_days: int = 365
    eku: tuple[str, ...] | None = (SERVER_AUTH,)  # extension OIDs; None = no extension
    key_usage: tuple[str, ...] = ("digital_signature", "key_encipherment")
    issuer_cn: str | None = None  # None = self-issued
    serial: int = 0x1000

    def check(self, where: str) -> None:
        if self.key.type not in ("rsa", "ecdsa"):
            raise CertSpecError(f"{where}.key.type: expected 'rsa' or 'ecdsa', got {self.key.type!r}")
        if self.key.type == "rsa" and not 1024 <= self.key.size <= 8192:
            raise CertSpecError(f"{where}.key.size: expected 1024..8192 bits, got {self.key.size}")
        if self.key.type == "ecdsa" and self.key.curve not in _CURVES:
            raise CertSpecError(f"{where}.key.curve: expected one of {sorted(_CURVES)}")
        table = _RSA_SIG_OIDS if self.key.type == "rsa" else _ECDSA_SIG_OIDS
        if self.signature_hash not in table:
            raise CertSpecError(
                f"{where}.signature_hash: expected one of {sorted(table)} for {self.key.type} keys, "
                f"got {self.signature_hash!r}"
            )
        bad = [u for u in self.key_usage if u not in _KEY_USAGES]
        if bad:
            raise CertSpecError(f"{where}.key_usage: unknown {bad}, expected some of {list(_KEY_USAGES)}")


def eku_oid(name_or_oid: str, where: str = "eku") -> str:
    if name_or_oid in EKU_NAMES:
        return EKU_NAMES[name_or_oid]
    if all(p.isdigit() for p in name_or_oid.split(".")) and name_or_oid.count(".") >= 2:
        return name_or_oid
    raise CertSpecError(f"{where}: expected one of {sorted(EKU_NAMES)} or a dotted OID, got {name_or_oid!r}")


# ---- keys -------------------------------------------------------------------


def generate_key(spec: KeySpec) -> PrivateKey:
    if spec.type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.size)
    return ec.generate_private_key(_CURVES[spec.curve]())


def key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def key_from_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


@dataclass
class KeyCache:
    """Private keys kept on disk so rebuilding a host does not regenerate RSA keys."""

    directory: Path | None
    _memory: dict[str, str] = field(default_factory=dict)

    def get(self, owner: str, name: str, spec: KeySpec) -> PrivateKey:
        slot = f"{owner}--{name}--{spec.cache_name()}"
        pem = self._memory.get(slot)
        path = None if self.directory is None else self.directory / f"{slot}.pem"
        if pem is None and path is not None and path.exists():
            pem = path.read_text("ascii")
        if pem is None:
            pem = key_to_pem(generate_key(spec))
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(pem, "ascii")
                tmp.replace(path)
        self._memory[slot] = pem
        return key_from_pem(pem)


# ---- certificates -----------------------------------------------------------


def _name(cn: str) -> x509.Name:
    # Windows imports and uses a certificate whose CN is longer than X.520's ub-common-name (64);
    # cryptography refuses to build one unless told not to check (and then warns).
    if len(cn) <= 64:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])


def _sign(key: PrivateKey, data: bytes, hash_name: str) -> bytes:
    algorithm = _HASHES[hash_name]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    return key.sign(data, ec.ECDSA(algorithm))


def _algorithm_identifier(key: PrivateKey, hash_name: str) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return der.tlv(der.SEQUENCE, der.encode_oid(_RSA_SIG_OIDS[hash_name]) + der.tlv(der.NULL, b""))
    return der.tlv(der.SEQUENCE, der.encode_oid(_ECDSA_SIG_OIDS[hash_name]))


def resign(cert_der: bytes, key: PrivateKey, hash_name: str) -> bytes:
    """Re-sign a certificate with another hash: new AlgorithmIdentifier in the TBS and outside."""
    _tag, outer, _end = der.read_tlv(cert_der)
    tbs_der = der.children(outer)[0]
    _tag, tbs_content, _end = der.read_tlv(tbs_der)
    fields = der.children(tbs_content)
    # TBSCertificate: [0] version (explicit tag 0xA0), serialNumber, signature AlgorithmIdentifier, ...
    sig_index = 2 if fields[0][0] == 0xA0 else 1
    algid = _algorithm_identifier(key, hash_name)
    fields[sig_index] = algid
    new_tbs = der.tlv(der.SEQUENCE, b"".join(fields))
    signature = _sign(key, new_tbs, hash_name)
    return der.tlv(der.SEQUENCE, new_tbs + algid + der.tlv(der.BIT_STRING, b"\x00" + signature))


def build_certificate(spec: CertSpec, key: PrivateKey, now: dt.datetime) -> bytes:
    """DER of a certificate for `spec`, signed by `key` with spec.signature_hash."""
    usages = {u: u in spec.key_usage for u in _KEY_USAGES}
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.subject_cn))
        .issuer_name(_name(spec.issuer_cn or spec.subject_cn))
        .public_key(key.public_key())
        .serial_number(spec.serial)
        .not_valid_before(now + dt.timedelta(days=spec.not_before_days))
        .not_valid_after(now + dt.timedelta(days=spec.expires_in_days))
        .add_extension(x509.KeyUsage(encipher_only=False, decipher_only=False, **usages), critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if spec.sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in spec.sans]), critical=False
        )
    if spec.eku is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in spec.eku]), critical=False
        )
    cert_der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    if spec.signature_hash == "sha256":
        return cert_der
    return resign(cert_der, key, spec.signature_hash)


def thumbprint(cert_der: bytes) -> str:
    return hashlib.sha1(cert_der).hexdigest().upper()


# ---- reading what SQL Server and Windows look at -----------------------------


@dataclass(frozen=True)
class CertFacts:
    subject_cn: str | None
    dns_names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    eku_extension: frozenset[str] | None  # None = no EKU extension
    signature_hash: str | None
    key_type: str


def read_facts(cert_der: bytes) -> CertFacts:
    cert = x509.load_der_x509_certificate(cert_der)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns = ()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku_ext: frozenset[str] | None = frozenset(o.dotted_string for o in eku)
    except x509.ExtensionNotFound:
        eku_ext = None
    hash_alg = cert.signature_hash_algorithm
    return CertFacts(
        subject_cn=str(cns[0].value) if cns else None,
        dns_names=dns,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        eku_extension=eku_ext,
        signature_hash=None if hash_alg is None else hash_alg.name,
        key_type="rsa" if isinstance(cert.public_key(), rsa.RSAPublicKey) else "ecdsa",
    )


def effective_eku(extension: frozenset[str] | None, prop9: bytes | None) -> frozenset[str] | None:
    """CertGetEnhancedKeyUsage(ctx, 0): None = valid for all uses (sqlserver-tls.md section 6).

    Neither extension nor property: all uses; one present: that one; both: the
    intersection. An unreadable property counts as "no uses" (inference: Windows
    would fail the call, and the certificate would not qualify).
    """
    prop: frozenset[str] | None = None
    if prop9 is not None:
        try:
            prop = frozenset(der.decode_oid_sequence(prop9))
        except der.DerError:
            prop = frozenset()
    if extension is None:
        return prop
    if prop is None:
        return extension
    return extension & prop


def allows_server_auth(usages: frozenset[str] | None) -> bool:
    return usages is None or SERVER_AUTH in usages
