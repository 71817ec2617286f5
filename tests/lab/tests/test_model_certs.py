"""Certificates with any signature hash, and property 9 (effective EKU)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from labtest import NOW
from winlab import certs, der

CASES = [("rsa", h) for h in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")] + [
    ("ecdsa", h) for h in ("sha1", "sha224", "sha256", "sha384", "sha512")
]
SERVER, CLIENT = certs.SERVER_AUTH, certs.EKU_NAMES["client_auth"]


@pytest.mark.parametrize(("key_type", "hash_name"), CASES)
def test_certificate_carries_the_wanted_signature_hash_and_verifies(
    keys: certs.KeyCache, key_type: str, hash_name: str
) -> None:
    spec = certs.CertSpec(
        subject_cn="h.lab.example.com",
        key=certs.KeySpec(key_type),
        signature_hash=hash_name,
        sans=("h.lab.example.com",),
    )
    spec.check("cert")
    key = keys.get("tests", f"k-{key_type}", spec.key)
    cert = x509.load_der_x509_certificate(certs.build_certificate(spec, key, NOW))
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == hash_name
    algorithm = {
        "md5": hashes.MD5,
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }[hash_name]()
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
    facts = certs.read_facts(cert.public_bytes(serialization.Encoding.DER))
    assert facts.signature_hash == hash_name
    assert facts.subject_cn == "h.lab.example.com"
    assert facts.not_after == NOW + dt.timedelta(days=365)


def test_ecdsa_with_md5_is_refused_naming_the_field() -> None:
    spec = certs.CertSpec(subject_cn="x", key=certs.KeySpec("ecdsa"), signature_hash="md5")
    with pytest.raises(certs.CertSpecError, match=r"cert\.signature_hash: expected one of"):
        spec.check("cert")


def test_eku_property_der_matches_the_reference_bytes() -> None:
    # sqlserver-tls.md section 6: Server+Client Auth, and the empty list
    expected = bytes.fromhex("3014 0608 2B06010505070301 0608 2B06010505070302".replace(" ", ""))
    assert der.encode_oid_sequence([SERVER, CLIENT]) == expected
    assert der.decode_oid_sequence(expected) == [SERVER, CLIENT]
    assert der.encode_oid_sequence([]) == b"\x30\x00"


@pytest.mark.parametrize(
    ("extension", "prop", "effective"),
    [
        (None, None, None),  # neither: valid for all uses
        (frozenset({SERVER, CLIENT}), None, frozenset({SERVER, CLIENT})),
        (None, [CLIENT], frozenset({CLIENT})),
        (frozenset({SERVER, CLIENT}), [CLIENT], frozenset({CLIENT})),  # both: intersection
        (frozenset({SERVER}), [], frozenset()),  # empty property: no uses at all
    ],
)
def test_effective_eku_follows_certgetenhancedkeyusage(extension, prop, effective) -> None:
    prop9 = None if prop is None else der.encode_oid_sequence(prop)
    assert certs.effective_eku(extension, prop9) == effective
    assert certs.allows_server_auth(effective) == (effective is None or SERVER in effective)


def test_key_cache_reuses_keys_from_disk(tmp_path) -> None:
    first = certs.KeyCache(tmp_path).get("p", "k", certs.KeySpec("ecdsa"))
    second = certs.KeyCache(tmp_path).get("p", "k", certs.KeySpec("ecdsa"))
    assert certs.key_to_pem(first) == certs.key_to_pem(second)
    other = certs.KeyCache(tmp_path).get("p", "k", certs.KeySpec("ecdsa", curve="P-384"))
    assert certs.key_to_pem(other) != certs.key_to_pem(first)


def test_unknown_eku_name_is_an_error() -> None:
    with pytest.raises(certs.CertSpecError, match="expected one of"):
        certs.eku_oid("server-auth")
