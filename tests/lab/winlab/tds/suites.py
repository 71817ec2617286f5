"""Schannel cipher suites: Windows name -> IANA id, key exchange, certificate type, versions.

The IDs come from reference/tds-tls-probing.md §9 (IANA registry); which suites exist in which
OS list is reference/windows-schannel.md §5. Windows Server 2012 R2 names carry a curve suffix
(`_P256`, `_P384`, `_P521`) that pins the ECDHE curve while keeping the IANA id
(reference/windows-schannel.md §4), so a 2012 R2 list can hold one id several times.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocols import SSL3, TLS10, TLS11, TLS12, TLS13

# Named groups (RFC 8422 / RFC 8446 registry values) and the curve suffixes of 2012 R2 names.
GROUP_X25519 = 0x001D
GROUP_SECP256R1 = 0x0017
GROUP_SECP384R1 = 0x0018
GROUP_SECP521R1 = 0x0019

GROUP_BY_SUFFIX: dict[str, int] = {
    "_P256": GROUP_SECP256R1,
    "_P384": GROUP_SECP384R1,
    "_P521": GROUP_SECP521R1,
}

# Curves Schannel offers for unsuffixed ECDHE suites on Windows 10 / Server 2016 and later, in
# its default ECC curve order (curve25519, NistP256, NistP384; the `EccCurves` policy value of
# reference/windows-schannel.md §4 can change it, which the lab does not model: inference).
DEFAULT_SERVER_GROUPS: tuple[int, ...] = (GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1)


@dataclass(frozen=True)
class Suite:
    """One cipher suite as Schannel knows it."""

    windows_name: str
    iana_id: int
    # "ECDHE", "DHE", "RSA" (RSA key transport) or "TLS13" (key exchange is negotiated apart).
    key_exchange: str
    # Key type the server certificate must have: "RSA", "EC", "DSA", or "ANY" for TLS 1.3.
    certificate_key: str
    min_version: int
    max_version: int
    # OpenSSL's name of the same suite (what SSLContext.set_ciphers takes).
    openssl_name: str
    # The curve a 2012 R2 `_Pxxx` name pins; None means any curve the two sides share.
    pinned_group: int | None = None

    def allows(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


def _suite(name: str, iana_id: int, kx: str, cert: str, lo: int, hi: int, openssl: str) -> Suite:
    return Suite(name, iana_id, kx, cert, lo, hi, openssl)


# Version ranges: GCM and SHA-256/SHA-384 MAC suites exist only from TLS 1.2 (RFC 5246, 5288,
# 5289); ECC suites only from TLS 1.0 (RFC 4492); DES is gone in TLS 1.2 and export suites in
# TLS 1.1 (RFC 4346 / 5246 appendices); TLS 1.3 suites are TLS 1.3 only (RFC 8446). Schannel's
# own tables ("TLS Cipher Suites in Windows ...", protocol versions column) list AES suites for
# TLS 1.0-1.2 only and RC4 for SSL 3.0 too; 3DES, DES, NULL and export suites are the SSL 3.0
# suites of the older Schannel documentation. "Cipher suites can only be negotiated for TLS
# versions which support them" (same pages).
_TABLE: tuple[Suite, ...] = (
    _suite("TLS_AES_256_GCM_SHA384", 0x1302, "TLS13", "ANY", TLS13, TLS13, "TLS_AES_256_GCM_SHA384"),
    _suite("TLS_AES_128_GCM_SHA256", 0x1301, "TLS13", "ANY", TLS13, TLS13, "TLS_AES_128_GCM_SHA256"),
    _suite(
        "TLS_CHACHA20_POLY1305_SHA256", 0x1303, "TLS13", "ANY", TLS13, TLS13, "TLS_CHACHA20_POLY1305_SHA256"
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02C,
        "ECDHE",
        "EC",
        TLS12,
        TLS12,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02B,
        "ECDHE",
        "EC",
        TLS12,
        TLS12,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xC030,
        "ECDHE",
        "RSA",
        TLS12,
        TLS12,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC02F,
        "ECDHE",
        "RSA",
        TLS12,
        TLS12,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    _suite(
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 0x009F, "DHE", "RSA", TLS12, TLS12, "DHE-RSA-AES256-GCM-SHA384"
    ),
    _suite(
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 0x009E, "DHE", "RSA", TLS12, TLS12, "DHE-RSA-AES128-GCM-SHA256"
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xC024,
        "ECDHE",
        "EC",
        TLS12,
        TLS12,
        "ECDHE-ECDSA-AES256-SHA384",
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xC023,
        "ECDHE",
        "EC",
        TLS12,
        TLS12,
        "ECDHE-ECDSA-AES128-SHA256",
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xC028,
        "ECDHE",
        "RSA",
        TLS12,
        TLS12,
        "ECDHE-RSA-AES256-SHA384",
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC027,
        "ECDHE",
        "RSA",
        TLS12,
        TLS12,
        "ECDHE-RSA-AES128-SHA256",
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xC00A, "ECDHE", "EC", TLS10, TLS12, "ECDHE-ECDSA-AES256-SHA"
    ),
    _suite(
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC009, "ECDHE", "EC", TLS10, TLS12, "ECDHE-ECDSA-AES128-SHA"
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014, "ECDHE", "RSA", TLS10, TLS12, "ECDHE-RSA-AES256-SHA"
    ),
    _suite(
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, "ECDHE", "RSA", TLS10, TLS12, "ECDHE-RSA-AES128-SHA"
    ),
    _suite("TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x0039, "DHE", "RSA", TLS10, TLS12, "DHE-RSA-AES256-SHA"),
    _suite("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0033, "DHE", "RSA", TLS10, TLS12, "DHE-RSA-AES128-SHA"),
    _suite("TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, "RSA", "RSA", TLS12, TLS12, "AES256-GCM-SHA384"),
    _suite("TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, "RSA", "RSA", TLS12, TLS12, "AES128-GCM-SHA256"),
    _suite("TLS_RSA_WITH_AES_256_CBC_SHA256", 0x003D, "RSA", "RSA", TLS12, TLS12, "AES256-SHA256"),
    _suite("TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003C, "RSA", "RSA", TLS12, TLS12, "AES128-SHA256"),
    _suite("TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, "RSA", "RSA", TLS10, TLS12, "AES256-SHA"),
    _suite("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, "RSA", "RSA", TLS10, TLS12, "AES128-SHA"),
    _suite("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, "RSA", "RSA", SSL3, TLS12, "DES-CBC3-SHA"),
    _suite(
        "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", 0x006A, "DHE", "DSA", TLS12, TLS12, "DHE-DSS-AES256-SHA256"
    ),
    _suite(
        "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", 0x0040, "DHE", "DSA", TLS12, TLS12, "DHE-DSS-AES128-SHA256"
    ),
    _suite("TLS_DHE_DSS_WITH_AES_256_CBC_SHA", 0x0038, "DHE", "DSA", TLS10, TLS12, "DHE-DSS-AES256-SHA"),
    _suite("TLS_DHE_DSS_WITH_AES_128_CBC_SHA", 0x0032, "DHE", "DSA", TLS10, TLS12, "DHE-DSS-AES128-SHA"),
    _suite("TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", 0x0013, "DHE", "DSA", SSL3, TLS12, "EDH-DSS-DES-CBC3-SHA"),
    _suite("TLS_RSA_WITH_RC4_128_SHA", 0x0005, "RSA", "RSA", SSL3, TLS12, "RC4-SHA"),
    _suite("TLS_RSA_WITH_RC4_128_MD5", 0x0004, "RSA", "RSA", SSL3, TLS12, "RC4-MD5"),
    _suite("TLS_RSA_WITH_NULL_SHA256", 0x003B, "RSA", "RSA", TLS12, TLS12, "NULL-SHA256"),
    _suite("TLS_RSA_WITH_NULL_SHA", 0x0002, "RSA", "RSA", SSL3, TLS12, "NULL-SHA"),
    _suite("TLS_RSA_WITH_NULL_MD5", 0x0001, "RSA", "RSA", SSL3, TLS12, "NULL-MD5"),
    _suite("TLS_RSA_WITH_DES_CBC_SHA", 0x0009, "RSA", "RSA", SSL3, TLS11, "DES-CBC-SHA"),
    _suite("TLS_DHE_DSS_WITH_DES_CBC_SHA", 0x0012, "DHE", "DSA", SSL3, TLS11, "EDH-DSS-DES-CBC-SHA"),
    _suite("TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", 0x0064, "RSA", "RSA", SSL3, TLS10, "EXP1024-RC4-SHA"),
    _suite("TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", 0x0062, "RSA", "RSA", SSL3, TLS10, "EXP1024-DES-CBC-SHA"),
    _suite(
        "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
        0x0063,
        "DHE",
        "DSA",
        SSL3,
        TLS10,
        "EXP1024-DHE-DSS-DES-CBC-SHA",
    ),
    _suite("TLS_RSA_EXPORT_WITH_RC4_40_MD5", 0x0003, "RSA", "RSA", SSL3, TLS10, "EXP-RC4-MD5"),
    _suite("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", 0x0006, "RSA", "RSA", SSL3, TLS10, "EXP-RC2-CBC-MD5"),
)

_BY_NAME: dict[str, Suite] = {s.windows_name: s for s in _TABLE}
_BY_ID: dict[int, Suite] = {s.iana_id: s for s in _TABLE}


def suite_for_windows_name(name: str) -> Suite | None:
    """The suite a Windows list entry names, with its 2012 R2 curve pin; None if unknown.

    Unknown entries (SSL 2.0 `SSL_CK_*` names, PSK suites) can never be chosen for a SQL
    Server client, so the decision simply skips them.
    """
    for suffix, group in GROUP_BY_SUFFIX.items():
        if name.endswith(suffix):
            base = _BY_NAME.get(name[: -len(suffix)])
            if base is None or base.key_exchange != "ECDHE":
                return None
            return Suite(
                base.windows_name + suffix,
                base.iana_id,
                base.key_exchange,
                base.certificate_key,
                base.min_version,
                base.max_version,
                base.openssl_name,
                pinned_group=group,
            )
    return _BY_NAME.get(name)


def suite_for_id(iana_id: int) -> Suite | None:
    return _BY_ID.get(iana_id)


def known_suites() -> tuple[Suite, ...]:
    return _TABLE
