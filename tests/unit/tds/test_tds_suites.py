"""The cipher-suite table against the reference (tds-tls-probing.md section 9) and the local OpenSSL."""

from __future__ import annotations

import ssl

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.suites import (
    ALL_SUITES,
    candidates_for,
    canonical_name,
    name_for_id,
    suite_by_id,
    suite_by_name,
    suite_by_openssl_name,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion

# Transcribed from the reference's IANA table (section 9), "TLS_" and "_WITH_" restored.
REFERENCE_IDS = {
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
}


def test_every_reference_suite_has_its_iana_id_and_is_marked_windows():
    for suite_id, name in REFERENCE_IDS.items():
        suite = suite_by_id(suite_id)
        assert suite is not None, name
        assert suite.name == name
        assert suite.windows
        assert suite_by_name(name).id == suite_id


def test_ids_and_names_are_unique():
    assert len({s.id for s in ALL_SUITES}) == len(ALL_SUITES)
    assert len({s.name for s in ALL_SUITES}) == len(ALL_SUITES)


def test_openssl_names_agree_with_the_local_openssl_ids():
    # An independent source: OpenSSL's own (id, name) pairs for every suite this build knows.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    checked = 0
    for cipher in context.get_ciphers():
        suite = suite_by_id(cipher["id"] & 0xFFFF)
        if suite is not None:
            assert suite.openssl_name == cipher["name"], suite.name
            assert suite_by_openssl_name(cipher["name"]) is suite
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize(
    ("name", "kex", "auth", "cipher", "mac"),
    [
        ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE", "RSA", "AES_256_GCM", "SHA384"),
        ("TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", "DHE", "DSS", "3DES_EDE_CBC", "SHA"),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE", "ECDSA", "AES_128_CBC", "SHA"),
        ("TLS_RSA_WITH_RC4_128_MD5", "RSA", "RSA", "RC4_128", "MD5"),
        ("TLS_RSA_WITH_NULL_SHA", "RSA", "RSA", "NULL", "SHA"),
        ("TLS_AES_256_GCM_SHA384", None, None, "AES_256_GCM", "SHA384"),
    ],
)
def test_attributes_come_from_the_name(name, kex, auth, cipher, mac):
    suite = suite_by_name(name)
    assert (suite.kex, suite.auth, suite.cipher, suite.mac) == (kex, auth, cipher, mac)


def test_dhe_suites_are_flagged():
    assert suite_by_name("TLS_DHE_RSA_WITH_AES_128_CBC_SHA").is_dhe
    assert not suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").is_dhe


def test_protocol_ranges():
    assert suite_by_name("TLS_RSA_WITH_AES_128_GCM_SHA256").min_version is TlsVersion.TLS12
    assert suite_by_name("TLS_RSA_WITH_3DES_EDE_CBC_SHA").negotiable_in(TlsVersion.SSL3)
    assert not suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").negotiable_in(TlsVersion.SSL3)
    assert not suite_by_name("TLS_RSA_EXPORT_WITH_RC4_40_MD5").negotiable_in(TlsVersion.TLS11)
    assert suite_by_name("TLS_AES_128_GCM_SHA256").is_tls13


def test_2012r2_curve_suffixes_map_to_the_plain_suite():
    for suffix in ("_P256", "_P384", "_P521"):
        assert suite_by_name(f"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384{suffix}").id == 0xC028
    assert canonical_name("TLS_RSA_WITH_AES_128_CBC_SHA") == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert canonical_name("SSL_RSA_WITH_RC4_128_SHA") == "TLS_RSA_WITH_RC4_128_SHA"


def test_unknown_names_and_ids():
    with pytest.raises(ProbeInputError, match="cipher suite"):
        suite_by_name("TLS_MADE_UP_SUITE")
    assert suite_by_id(0xFAFA) is None
    assert name_for_id(0xFAFA) == "0xFAFA"


def test_candidates_per_version():
    tls10 = {s.name for s in candidates_for(TlsVersion.TLS10)}
    tls13 = [s.name for s in candidates_for(TlsVersion.TLS13)]
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in tls10
    assert "TLS_RSA_WITH_RC4_128_SHA" in tls10
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" not in tls10
    assert tls13[:3] == ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"]
    assert not any(s.kex == "PSK" for s in candidates_for(TlsVersion.TLS12))
