"""Real X.509 certificates for tests, with any signature hash (MD5 and SHA1 included).

``cryptography`` refuses to sign certificates with MD5 or SHA1, so those are built
with SHA256 first and then re-signed: the signature AlgorithmIdentifier inside the TBS
and outside it is swapped and the new TBS signed with PKCS#1 v1.5 over MD5/SHA1.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH.dotted_string
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string

_HASHES = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
}
# DER of AlgorithmIdentifier { rsaEncryption-with-<hash>, NULL }
_LEGACY_ALGORITHM_ID = {
    "md5": bytes.fromhex("300d06092a864886f70d0101040500"),
    "sha1": bytes.fromhex("300d06092a864886f70d0101050500"),
}


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _children(der: bytes) -> list[bytes]:
    """The encoded children of a DER SEQUENCE."""
    assert der[0] == 0x30
    offset = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    children = []
    while offset < len(der):
        first = der[offset + 1]
        if first < 0x80:
            length, head = first, 2
        else:
            count = first & 0x7F
            length, head = int.from_bytes(der[offset + 2 : offset + 2 + count], "big"), 2 + count
        children.append(der[offset : offset + head + length])
        offset += head + length
    return children


def _resign_legacy(cert: x509.Certificate, hash_name: str, key: rsa.RSAPrivateKey) -> bytes:
    tbs = _children(cert.tbs_certificate_bytes)
    algorithm_id = _LEGACY_ALGORITHM_ID[hash_name]
    tbs[2] = algorithm_id  # version [0], serial, signature AlgorithmIdentifier, ...
    new_tbs = _tlv(0x30, b"".join(tbs))
    signature = key.sign(new_tbs, padding.PKCS1v15(), _HASHES[hash_name]())
    return _tlv(0x30, new_tbs + algorithm_id + _tlv(0x03, b"\x00" + signature))


def make_cert(
    cn: str = "sql1.lab.local",
    *,
    hash_name: str = "sha256",
    key_type: str = "rsa",
    sans: tuple[str, ...] = (),
    eku: tuple[str, ...] | None = (SERVER_AUTH,),
    not_before: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    not_after: dt.datetime = dt.datetime(2049, 1, 1, tzinfo=dt.UTC),
    pss: bool = False,
    issuer_cn: str | None = None,
    serial: int = 1001,
) -> bytes:
    key = ec_key() if key_type == "ec" else rsa_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]) if issuer_cn else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in eku]), False)
    legacy = hash_name in _LEGACY_ALGORITHM_ID
    sign_hash = _HASHES["sha256" if legacy else hash_name]()
    if pss:
        cert = builder.sign(
            key, sign_hash, rsa_padding=padding.PSS(padding.MGF1(sign_hash), sign_hash.digest_size)
        )
    else:
        cert = builder.sign(key, sign_hash)
    if legacy:
        return _resign_legacy(cert, hash_name, key)
    return cert.public_bytes(serialization.Encoding.DER)


def thumbprint(der: bytes) -> str:
    return hashlib.sha1(der).hexdigest().upper()


def eku_property(*oids: str) -> str:
    """Base64 of the DER ``SEQUENCE OF OBJECT IDENTIFIER`` that property 9 holds."""
    body = b"".join(_tlv(0x06, _encode_oid(oid)) for oid in oids)
    return base64.b64encode(_tlv(0x30, body)).decode()


def _encode_oid(oid: str) -> bytes:
    arcs = [int(a) for a in oid.split(".")]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def cert_entry(
    der: bytes,
    *,
    has_private_key: bool = True,
    prop9: str | None = None,
    key_provider: str | None = "Microsoft RSA SChannel Cryptographic Provider",
    key_spec: int | None = 1,
    key_provider_type: int | None = 12,
    key_acl: str | None = "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)",
    key_acl_error: dict | None = None,
) -> dict:
    """One ``cert.list`` result row with ``key_acl: true``, as the agent sends it."""
    has_key = has_private_key
    return {
        "thumbprint": thumbprint(der),
        "der": base64.b64encode(der).decode(),
        "has_private_key": has_private_key,
        "key_provider": key_provider if has_key else None,
        "key_provider_type": key_provider_type if has_key else None,
        "key_spec": key_spec if has_key else None,
        "key_container": f"le-{thumbprint(der)[:8].lower()}" if has_key else None,
        "prop9": prop9,
        "key_acl": {"kind": "cng" if key_provider_type == 0 else "csp", "sddl": key_acl}
        if has_key and key_acl is not None and key_acl_error is None
        else None,
        "key_acl_error": key_acl_error if has_key else None,
    }
