"""Default enabled cipher-suite lists per Windows release, in priority order, as data.

Source: reference/windows-schannel.md 5 (MicrosoftDocs/win32 tls-cipher-suites-in-*
pages). Used only when neither the Policy list, Get-TlsCipherSuite nor the Local list
says what is in force. Client releases are mapped to the closest server list
(inference): Windows 10 1703-1803 drop DHE_RSA CBC and DHE_DSS, Windows 11 22H2+
matches 2025.
"""

from __future__ import annotations

from .osinfo import SERVER_23H2, SERVER_2016, SERVER_2019, SERVER_2022, SERVER_2025, Version

_E = "TLS_ECDHE_ECDSA_WITH_"
_R = "TLS_ECDHE_RSA_WITH_"
_DR = "TLS_DHE_RSA_WITH_"
_DD = "TLS_DHE_DSS_WITH_"
_RSA = "TLS_RSA_WITH_"

WINDOWS_2012_R2 = (
    f"{_R}AES_256_CBC_SHA384_P256",
    f"{_R}AES_256_CBC_SHA384_P384",
    f"{_R}AES_128_CBC_SHA256_P256",
    f"{_R}AES_128_CBC_SHA256_P384",
    f"{_R}AES_256_CBC_SHA_P256",
    f"{_R}AES_256_CBC_SHA_P384",
    f"{_R}AES_128_CBC_SHA_P256",
    f"{_R}AES_128_CBC_SHA_P384",
    f"{_DR}AES_256_GCM_SHA384",
    f"{_DR}AES_128_GCM_SHA256",
    f"{_DR}AES_256_CBC_SHA",
    f"{_DR}AES_128_CBC_SHA",
    f"{_RSA}AES_256_GCM_SHA384",
    f"{_RSA}AES_128_GCM_SHA256",
    f"{_RSA}AES_256_CBC_SHA256",
    f"{_RSA}AES_128_CBC_SHA256",
    f"{_RSA}AES_256_CBC_SHA",
    f"{_RSA}AES_128_CBC_SHA",
    f"{_E}AES_256_GCM_SHA384_P384",
    f"{_E}AES_128_GCM_SHA256_P256",
    f"{_E}AES_128_GCM_SHA256_P384",
    f"{_E}AES_256_CBC_SHA384_P384",
    f"{_E}AES_128_CBC_SHA256_P256",
    f"{_E}AES_128_CBC_SHA256_P384",
    f"{_E}AES_256_CBC_SHA_P256",
    f"{_E}AES_256_CBC_SHA_P384",
    f"{_E}AES_128_CBC_SHA_P256",
    f"{_E}AES_128_CBC_SHA_P384",
    f"{_DD}AES_256_CBC_SHA256",
    f"{_DD}AES_128_CBC_SHA256",
    f"{_DD}AES_256_CBC_SHA",
    f"{_DD}AES_128_CBC_SHA",
    f"{_RSA}3DES_EDE_CBC_SHA",
    f"{_DD}3DES_EDE_CBC_SHA",
    f"{_RSA}RC4_128_SHA",
    f"{_RSA}RC4_128_MD5",
    f"{_RSA}NULL_SHA256",
    f"{_RSA}NULL_SHA",
    "SSL_CK_RC4_128_WITH_MD5",
    "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
)

_ECDHE_GCM = (
    f"{_E}AES_256_GCM_SHA384",
    f"{_E}AES_128_GCM_SHA256",
    f"{_R}AES_256_GCM_SHA384",
    f"{_R}AES_128_GCM_SHA256",
)
_DHE_RSA_GCM = (f"{_DR}AES_256_GCM_SHA384", f"{_DR}AES_128_GCM_SHA256")
_ECDHE_CBC = (
    f"{_E}AES_256_CBC_SHA384",
    f"{_E}AES_128_CBC_SHA256",
    f"{_R}AES_256_CBC_SHA384",
    f"{_R}AES_128_CBC_SHA256",
    f"{_E}AES_256_CBC_SHA",
    f"{_E}AES_128_CBC_SHA",
    f"{_R}AES_256_CBC_SHA",
    f"{_R}AES_128_CBC_SHA",
)
_DHE_RSA_CBC = (f"{_DR}AES_256_CBC_SHA", f"{_DR}AES_128_CBC_SHA")
_RSA_AES = (
    f"{_RSA}AES_256_GCM_SHA384",
    f"{_RSA}AES_128_GCM_SHA256",
    f"{_RSA}AES_256_CBC_SHA256",
    f"{_RSA}AES_128_CBC_SHA256",
    f"{_RSA}AES_256_CBC_SHA",
    f"{_RSA}AES_128_CBC_SHA",
)
_RSA_3DES = (f"{_RSA}3DES_EDE_CBC_SHA",)
_DHE_DSS = (
    f"{_DD}AES_256_CBC_SHA256",
    f"{_DD}AES_128_CBC_SHA256",
    f"{_DD}AES_256_CBC_SHA",
    f"{_DD}AES_128_CBC_SHA",
    f"{_DD}3DES_EDE_CBC_SHA",
)
_RC4 = (f"{_RSA}RC4_128_SHA", f"{_RSA}RC4_128_MD5")
_NULL = (f"{_RSA}NULL_SHA256", f"{_RSA}NULL_SHA")
_TLS13 = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256")

WINDOWS_2016 = (
    _ECDHE_GCM + _DHE_RSA_GCM + _ECDHE_CBC + _DHE_RSA_CBC + _RSA_AES + _RSA_3DES + _DHE_DSS + _RC4 + _NULL
)
WINDOWS_10_1703 = _ECDHE_GCM + _DHE_RSA_GCM + _ECDHE_CBC + _RSA_AES + _RSA_3DES + _RC4 + _NULL
WINDOWS_2019 = _ECDHE_GCM + _DHE_RSA_GCM + _ECDHE_CBC + _RSA_AES + _RSA_3DES + _NULL
WINDOWS_2022 = _TLS13 + WINDOWS_2019
# 2022 page: "not enabled by default in Windows Server 2022 23H2 and later": 3DES and DHE_RSA GCM.
WINDOWS_2022_23H2 = _TLS13 + _ECDHE_GCM + _ECDHE_CBC + _RSA_AES + _NULL
WINDOWS_2025 = _TLS13 + _ECDHE_GCM + _ECDHE_CBC + _RSA_AES + _NULL


def default_suites(version: Version | None, is_server: bool = True) -> tuple[str, tuple[str, ...]]:
    """(label, list) of the OS default enabled suites; an unknown build is read as 2016."""
    v = version or SERVER_2016
    if v < (10, 0, 0, 0):
        return "windows_2012_r2", WINDOWS_2012_R2
    if v >= SERVER_2025 or (not is_server and v >= (10, 0, 22621, 0)):
        return "windows_2025", WINDOWS_2025
    if v >= SERVER_23H2 and is_server:
        return "windows_2022_23h2", WINDOWS_2022_23H2
    if v >= SERVER_2022:
        return "windows_2022", WINDOWS_2022
    if v >= SERVER_2019:
        return "windows_2019", WINDOWS_2019
    if v >= (10, 0, 15063, 0) and not is_server:
        return "windows_10_1703", WINDOWS_10_1703
    return "windows_2016", WINDOWS_2016
