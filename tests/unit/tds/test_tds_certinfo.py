"""Certificate description from DER: the fields scenario 4 needs (sqlserver-tls.md sections 4-6)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.certificate import (
    CertificateParseError,
    describe_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTS = Path(__file__).parent / "certs"


def _der(name: str) -> bytes:
    pem = (CERTS / name).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("fixture", "hash_name", "algorithm"),
    [
        ("rsa-md5.pem", "md5", "1.2.840.113549.1.1.4"),
        ("rsa-sha1.pem", "sha1", "1.2.840.113549.1.1.5"),
        ("rsa-sha224.pem", "sha224", "1.2.840.113549.1.1.14"),
        ("rsa-sha512.pem", "sha512", "1.2.840.113549.1.1.13"),
        ("rsa-pss.pem", "sha384", "1.2.840.113549.1.1.10"),  # RSASSA-PSS: hash from its parameters
    ],
)
def test_signature_hash_of_weak_and_unusual_certificates(fixture, hash_name, algorithm):
    info = describe_certificate(_der(fixture))

    assert info.signature_hash == hash_name
    assert info.signature_algorithm == algorithm
    assert info.key_type == "RSA"
    assert info.key_size == 2048
    assert info.self_issued


def test_thumbprint_is_the_windows_style_sha1_of_the_der():
    der = _der("rsa-sha1.pem")
    info = describe_certificate(der)
    assert info.thumbprint_sha1 == hashlib.sha1(der).hexdigest().upper()
    assert info.fingerprint_sha256 == hashlib.sha256(der).hexdigest().upper()


def _built(key, *, eku=None, sans=None, issuer_cn="Lab Issuing CA") -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sql01.corp.test")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(0x1234ABCD)
        .not_valid_before(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA384()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.DER)


def test_ec_certificate_with_sans_eku_and_validity():
    der = _built(
        ec.generate_private_key(ec.SECP384R1()),
        eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        sans=[
            x509.DNSName("sql01.corp.test"),
            x509.DNSName("sql01"),
            x509.IPAddress(ipaddress.ip_address("10.0.0.5")),
        ],
    )

    info = describe_certificate(der).to_dict()

    assert info["subject"] == "CN=sql01.corp.test"
    assert info["issuer"] == "CN=Lab Issuing CA"
    assert info["common_name"] == "sql01.corp.test"
    assert info["dns_names"] == ["sql01.corp.test", "sql01"]
    assert info["ip_addresses"] == ["10.0.0.5"]
    assert info["not_before"] == "2024-01-02T03:04:05Z"
    assert info["not_after"] == "2026-01-02T03:04:05Z"
    assert info["serial_number"] == "1234abcd"
    assert (info["key_type"], info["key_size"], info["curve"]) == ("EC", 384, "secp384r1")
    assert info["signature_hash"] == "sha384"
    assert info["eku"] == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]
    assert info["self_issued"] is False


def test_missing_eku_extension_is_none_not_empty():
    # "no EKU extension" (any purpose) differs from a client-only EKU (sqlserver-tls.md s6)
    assert describe_certificate(_built(ec.generate_private_key(ec.SECP256R1()))).eku is None
    client_only = _built(ec.generate_private_key(ec.SECP256R1()), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    assert describe_certificate(client_only).eku == ["1.3.6.1.5.5.7.3.2"]


def test_unparseable_extensions_leave_the_rest_of_the_description_intact():
    # An empty EKU SEQUENCE violates RFC 5280 (SIZE 1..MAX); cryptography refuses the extensions.
    info = describe_certificate(_built(ec.generate_private_key(ec.SECP256R1()), eku=[]))

    assert info.extensions_error
    assert (info.eku, info.dns_names) == (None, [])
    assert info.subject == "CN=sql01.corp.test"
    assert info.signature_hash == "sha384"


def test_ed25519_certificate_has_no_separate_signature_hash():
    info = describe_certificate(_built(ed25519.Ed25519PrivateKey.generate()))
    assert (info.key_type, info.signature_hash) == ("Ed25519", None)


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01\x01", b"not a certificate at all"])
def test_bytes_that_are_not_a_certificate_raise_a_named_error(garbage):
    with pytest.raises(CertificateParseError, match="certificate"):
        describe_certificate(garbage)
