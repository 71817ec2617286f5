"""Default Schannel cipher-suite order per Windows version (what a Windows client offers).

Transcribed from windows-schannel.md section 5 (MicrosoftDocs/win32
``tls-cipher-suites-in-windows-8-1.md``, ``…-windows-10-v1607.md``,
``…-windows-10-v1809.md``, ``…-windows-server-2022.md``). The 2012 R2 list
keeps its curve-suffixed names; :func:`client_offer` folds them onto IANA IDs.
"""

from __future__ import annotations

from collections.abc import Sequence

from .suites import SSL2_ONLY_NAMES, suite_by_name
from .versions import TlsVersion

WINDOWS_2012R2: tuple[str, ...] = (
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256_P256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256_P384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA_P256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA_P384",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384_P384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256_P256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256_P384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384_P384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256_P256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256_P384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA_P256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA_P384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA_P256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA_P384",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_RC4_128_MD5",
    "TLS_RSA_WITH_NULL_SHA256",
    "TLS_RSA_WITH_NULL_SHA",
    "SSL_CK_RC4_128_WITH_MD5",
    "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
)

WINDOWS_2016: tuple[str, ...] = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_RC4_128_MD5",
    "TLS_RSA_WITH_NULL_SHA256",
    "TLS_RSA_WITH_NULL_SHA",
)

# 2019: the 2016 list without DHE_RSA CBC, DHE_DSS and RC4 (DHE_RSA GCM stays).
WINDOWS_2019: tuple[str, ...] = tuple(
    name
    for name in WINDOWS_2016
    if not (name.startswith("TLS_DHE_RSA") and "_CBC_" in name)
    and not name.startswith("TLS_DHE_DSS")
    and "_RC4_" not in name
)

WINDOWS_2022: tuple[str, ...] = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", *WINDOWS_2019)


def client_offer(names: Sequence[str], version: TlsVersion) -> tuple[int, ...]:
    """Suite IDs a Windows client with this list puts in a ClientHello for ``version``, in order.

    Curve-suffixed duplicates collapse to one ID; SSL 2.0-only kinds cannot
    appear in a TLS hello. NULL suites are left out: Schannel uses them only
    when an application asks for no encryption, and no SQL driver does
    (inference, consistent with Windows ClientHello captures that never list them).
    """
    offer: list[int] = []
    for name in names:
        if name in SSL2_ONLY_NAMES:
            continue
        suite = suite_by_name(name)
        if suite.cipher == "NULL" or not suite.negotiable_in(version) or suite.id in offer:
            continue
        offer.append(suite.id)
    return tuple(offer)
