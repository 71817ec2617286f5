"""Cipher suites: IANA ID <-> name, with the attributes the verdicts need.

IDs and names are IANA's (tls-parameters registry; reference/tds-tls-probing.md
section 9 lists the Schannel ones). ``windows`` marks suites Schannel knows
(MicrosoftDocs/win32 cipher-suites-in-schannel and the per-OS pages,
windows-schannel.md sections 4-5); the others are common OpenSSL suites kept so
that plain-TLS servers are enumerated completely. Key exchange, authentication,
cipher and MAC are derived from the IANA name, not typed twice.

Windows Server 2012 R2 names ECDHE suites with a curve suffix
(``TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P256``); those map to the same ID
(windows-schannel.md section 4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ProbeInputError
from .versions import TlsVersion


@dataclass(frozen=True)
class CipherSuite:
    id: int
    name: str
    kex: str | None  # "RSA", "DHE", "ECDHE", "PSK"; None for TLS 1.3 suites
    auth: str | None  # "RSA", "DSS", "ECDSA", "PSK"; None for TLS 1.3 suites
    cipher: str  # e.g. "AES_256_GCM", "3DES_EDE_CBC", "RC4_128", "NULL"
    mac: str  # "MD5", "SHA", "SHA256", "SHA384" (the PRF hash for AEAD suites)
    export: bool
    min_version: TlsVersion
    max_version: TlsVersion
    windows: bool
    openssl_name: str | None

    @property
    def is_dhe(self) -> bool:
        """A TLS_DHE_* suite: scenario 3/5 evidence (windows-schannel.md section 6)."""
        return self.kex == "DHE"

    @property
    def is_tls13(self) -> bool:
        return self.min_version is TlsVersion.TLS13

    def negotiable_in(self, version: TlsVersion) -> bool:
        return self.min_version <= version <= self.max_version


# (IANA ID, IANA name, OpenSSL name or None, known to Schannel). Order = the
# order the enumerator offers them: strongest first, so a server that follows
# the client's preference is still enumerated sensibly.
_TABLE: tuple[tuple[int, str, str | None, bool], ...] = (
    (0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", True),
    (0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", True),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", True),
    (0x1304, "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256", False),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256", False),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", True),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", True),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", True),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", True),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", False),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", False),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", True),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256", True),
    (0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "DHE-DSS-AES256-GCM-SHA384", False),
    (0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "DHE-DSS-AES128-GCM-SHA256", False),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305", False),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384", True),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", True),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384", True),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", True),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256", False),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256", False),
    (0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "DHE-DSS-AES256-SHA256", True),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "DHE-DSS-AES128-SHA256", True),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", True),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", True),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", True),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", True),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA", True),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA", True),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "DHE-DSS-AES256-SHA", True),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "DHE-DSS-AES128-SHA", True),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", True),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", True),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256", True),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", True),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", True),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", True),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", None, False),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", None, False),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", None, False),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", None, True),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", None, True),
    (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", None, False),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", None, False),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA", None, True),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5", None, True),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA", None, True),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", None, True),
    (0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", None, True),
    (0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", None, True),
    (0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", None, True),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", None, True),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", None, True),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256", "NULL-SHA256", True),
    (0x0002, "TLS_RSA_WITH_NULL_SHA", "NULL-SHA", True),
    (0x0001, "TLS_RSA_WITH_NULL_MD5", "NULL-MD5", True),
    (0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "PSK-AES256-GCM-SHA384", True),
    (0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK-AES128-GCM-SHA256", True),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "PSK-AES256-CBC-SHA384", True),
    (0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", "PSK-AES128-CBC-SHA256", True),
    (0x00B1, "TLS_PSK_WITH_NULL_SHA384", "PSK-NULL-SHA384", True),
    (0x00B0, "TLS_PSK_WITH_NULL_SHA256", "PSK-NULL-SHA256", True),
)

# SSL 2.0 cipher kinds in the 2012 R2 default list (windows-schannel.md section 5):
# 3-byte SSLv2 codes that no TLS ClientHello can carry, so they are never probed.
SSL2_ONLY_NAMES = frozenset({"SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"})

_AEAD_MARKERS = ("_GCM", "_CCM", "CHACHA20")
_CURVE_SUFFIX = re.compile(r"_P(256|384|521)$")


def _describe(suite_id: int, name: str, openssl_name: str | None, windows: bool) -> CipherSuite:
    common = {"id": suite_id, "name": name, "windows": windows, "openssl_name": openssl_name}
    if "_WITH_" not in name:  # TLS 1.3: TLS_<cipher>_<hash>
        cipher, _sep, mac = name.removeprefix("TLS_").rpartition("_")
        return CipherSuite(**common, kex=None, auth=None, cipher=cipher, mac=mac, export=False,
                           min_version=TlsVersion.TLS13, max_version=TlsVersion.TLS13)  # fmt: skip
    left, right = name.removeprefix("TLS_").split("_WITH_")
    parts = left.split("_")
    export = parts[-1].startswith("EXPORT")
    kex = parts[0]
    cipher, _sep, mac = right.rpartition("_")
    if any(marker in right for marker in _AEAD_MARKERS) or mac in ("SHA256", "SHA384"):
        min_version = TlsVersion.TLS12
    elif kex == "ECDHE":
        min_version = TlsVersion.TLS10  # RFC 4492 defines ECC suites for TLS only
    else:
        min_version = TlsVersion.SSL3
    return CipherSuite(
        **common,
        kex=kex,
        auth=parts[1] if kex in ("DHE", "ECDHE") else kex,
        cipher=cipher,
        mac=mac,
        export=export,
        min_version=min_version,
        # RFC 4346: TLS 1.1 implementations must not negotiate export suites.
        max_version=TlsVersion.TLS10 if export else TlsVersion.TLS12,
    )


ALL_SUITES: tuple[CipherSuite, ...] = tuple(_describe(*row) for row in _TABLE)
_BY_ID = {suite.id: suite for suite in ALL_SUITES}
_BY_NAME = {suite.name: suite for suite in ALL_SUITES}
_BY_OPENSSL = {suite.openssl_name: suite for suite in ALL_SUITES if suite.openssl_name}


def suite_by_id(suite_id: int) -> CipherSuite | None:
    return _BY_ID.get(suite_id)


def name_for_id(suite_id: int) -> str:
    """IANA name, or ``0xXXXX`` for an ID outside the table."""
    suite = _BY_ID.get(suite_id)
    return suite.name if suite else f"0x{suite_id:04X}"


def canonical_name(name: str) -> str:
    """Windows 2012 R2 curve-suffixed names and ``SSL_`` spellings -> IANA name."""
    base = _CURVE_SUFFIX.sub("", name) if name.startswith("TLS_ECDHE_") else name
    if base.startswith("SSL_") and base not in SSL2_ONLY_NAMES:
        base = "TLS_" + base.removeprefix("SSL_")
    return base


def suite_by_name(name: str) -> CipherSuite:
    """Look up an IANA or Windows suite name; unknown names raise ProbeInputError."""
    suite = _BY_NAME.get(canonical_name(name))
    if suite is None:
        raise ProbeInputError("cipher suite", "an IANA/Schannel cipher suite name", name)
    return suite


def suite_by_openssl_name(name: str) -> CipherSuite | None:
    """Map the name ``ssl.SSLObject.cipher()`` reports to the table entry."""
    return _BY_OPENSSL.get(name)


def candidates_for(version: TlsVersion) -> tuple[CipherSuite, ...]:
    """Every suite worth offering when probing ``version`` (PSK needs a shared key: skipped)."""
    return tuple(s for s in ALL_SUITES if s.negotiable_in(version) and s.kex != "PSK")
