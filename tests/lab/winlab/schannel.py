"""The lab's own reading of Schannel: OS defaults, effective protocols and suites.

Written from reference/windows-schannel.md, independently of the collection.
Protocol keys, the Policy suite list and FIPS are read from the boot snapshot
(they apply at the next reboot, sections 1.2 and 4); the Local suite list is
read live, because changes made through the CNG functions and the TLS cmdlets
"take effect immediately" (section 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import registry as regmod
from .model import HostState

SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
LOCAL_SUITES = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002"
POLICY_SUITES = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002"
FIPS = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\FipsAlgorithmPolicy"
# Keys whose state at boot is what Schannel runs with until the next reboot.
BOOT_KEYS = (SCHANNEL, POLICY_SUITES, FIPS)

PROTOCOLS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")

ENABLED, DISABLED, UNSUPPORTED = "Enabled", "Disabled", "Not supported"


def os_family(build: int) -> str:
    """Server release for an OS build (windows-schannel.md section 9)."""
    if build >= 26100:
        return "2025"
    if build >= 20000:  # SQLCheck's TLS 1.3 cut-over, section 2
        return "2022"
    if build >= 17763:
        return "2019"
    if build >= 10240:
        return "2016"
    return "2012r2"


def os_default(family: str, protocol: str, side: str) -> str:
    """Protocol defaults per OS, section 2 (Microsoft's table, not SQLCheck's SSL 2.0 quirk)."""
    modern = family != "2012r2"
    if protocol == "SSL 2.0":
        return UNSUPPORTED if modern else DISABLED
    if protocol == "SSL 3.0":
        return DISABLED if modern else ENABLED
    if protocol == "TLS 1.3":
        return ENABLED if family in ("2022", "2025") else UNSUPPORTED
    return ENABLED


def _dword(key: regmod.RegKey | None, name: str) -> int | None:
    value = None if key is None else key.value(name)
    if value is None or value.type != "REG_DWORD":
        return None
    return value.data


def protocol_effective(default: str, key: regmod.RegKey | None) -> bool:
    """Section 1.1: the SQLCheck algorithm over Enabled / DisabledByDefault."""
    enabled = _dword(key, "Enabled")
    disabled_by_default = _dword(key, "DisabledByDefault")
    used_by_default = disabled_by_default in (None, 0)
    if default == UNSUPPORTED:
        return False
    if default == DISABLED:
        return enabled not in (None, 0) and used_by_default
    return enabled != 0 and used_by_default


def boot_key(state: HostState, path: str) -> regmod.RegKey | None:
    """A key as it was at the last boot (None if it did not exist then)."""
    root = path.split("\\")
    for snap_path, doc in state.boot.snapshot.items():
        snap = snap_path.split("\\")
        if [s.lower() for s in root[: len(snap)]] != [s.lower() for s in snap]:
            continue
        key = None if doc is None else regmod.key_from_json(doc)
        for seg in root[len(snap) :]:
            key = None if key is None else key.subkey(seg)
        return key
    raise KeyError(f"{path} is not part of the boot snapshot")


def take_boot_snapshot(state: HostState) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for path in BOOT_KEYS:
        key = regmod.find_key(state.registry, path)
        snapshot[path] = None if key is None else regmod.key_to_json(key)
    return snapshot


def _effective_protocols(state: HostState, side: str) -> dict[str, bool]:
    family = os_family(state.os.build)
    return {
        p: protocol_effective(
            os_default(family, p, side), boot_key(state, f"{SCHANNEL}\\Protocols\\{p}\\{side}")
        )
        for p in PROTOCOLS
    }


def effective_server_protocols(state: HostState) -> dict[str, bool]:
    """Protocols Schannel offers as a server (SQL Server's side) in the running boot."""
    return _effective_protocols(state, "Server")


def effective_client_protocols(state: HostState) -> dict[str, bool]:
    return _effective_protocols(state, "Client")


def fips_enabled(state: HostState) -> bool:
    return _dword(boot_key(state, FIPS), "Enabled") not in (None, 0)


# ---- cipher suites ----------------------------------------------------------

_E_RSA, _E_ECDSA = "TLS_ECDHE_RSA_WITH_", "TLS_ECDHE_ECDSA_WITH_"

_2012R2 = [
    *(
        f"{_E_RSA}{s}_{c}"
        for s in ("AES_256_CBC_SHA384", "AES_128_CBC_SHA256", "AES_256_CBC_SHA", "AES_128_CBC_SHA")
        for c in ("P256", "P384")
    ),
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
    f"{_E_ECDSA}AES_256_GCM_SHA384_P384",
    f"{_E_ECDSA}AES_128_GCM_SHA256_P256",
    f"{_E_ECDSA}AES_128_GCM_SHA256_P384",
    f"{_E_ECDSA}AES_256_CBC_SHA384_P384",
    f"{_E_ECDSA}AES_128_CBC_SHA256_P256",
    f"{_E_ECDSA}AES_128_CBC_SHA256_P384",
    f"{_E_ECDSA}AES_256_CBC_SHA_P256",
    f"{_E_ECDSA}AES_256_CBC_SHA_P384",
    f"{_E_ECDSA}AES_128_CBC_SHA_P256",
    f"{_E_ECDSA}AES_128_CBC_SHA_P384",
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
]

_ECDHE_GCM = [
    f"{_E_ECDSA}AES_256_GCM_SHA384",
    f"{_E_ECDSA}AES_128_GCM_SHA256",
    f"{_E_RSA}AES_256_GCM_SHA384",
    f"{_E_RSA}AES_128_GCM_SHA256",
]
_DHE_RSA_GCM = ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]
_ECDHE_CBC = [
    f"{_E_ECDSA}AES_256_CBC_SHA384",
    f"{_E_ECDSA}AES_128_CBC_SHA256",
    f"{_E_RSA}AES_256_CBC_SHA384",
    f"{_E_RSA}AES_128_CBC_SHA256",
    f"{_E_ECDSA}AES_256_CBC_SHA",
    f"{_E_ECDSA}AES_128_CBC_SHA",
    f"{_E_RSA}AES_256_CBC_SHA",
    f"{_E_RSA}AES_128_CBC_SHA",
]
_DHE_RSA_CBC = ["TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"]
_RSA = [
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
]
_DHE_DSS = [
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
]
_RC4 = ["TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_RC4_128_MD5"]
_NULL = ["TLS_RSA_WITH_NULL_SHA256", "TLS_RSA_WITH_NULL_SHA"]
_TLS13 = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]

# Default enabled lists in priority order, section 5.
DEFAULT_SUITES: dict[str, list[str]] = {
    "2012r2": _2012R2,
    "2016": [
        *_ECDHE_GCM,
        *_DHE_RSA_GCM,
        *_ECDHE_CBC,
        *_DHE_RSA_CBC,
        *_RSA,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        *_DHE_DSS,
        *_RC4,
        *_NULL,
    ],
    "2019": [*_ECDHE_GCM, *_DHE_RSA_GCM, *_ECDHE_CBC, *_RSA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", *_NULL],
    "2022": [
        *_TLS13,
        *_ECDHE_GCM,
        *_DHE_RSA_GCM,
        *_ECDHE_CBC,
        *_RSA,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        *_NULL,
    ],
    "2025": [*_TLS13, *_ECDHE_GCM, *_ECDHE_CBC, *_RSA, *_NULL],
}
assert len(_2012R2) == 40  # the section 5 count


def default_suites(build: int) -> list[str]:
    return list(DEFAULT_SUITES[os_family(build)])


@dataclass(frozen=True)
class EffectiveSuites:
    source: str  # "policy", "local" or "os_default"
    suites: list[str]


def policy_suites(state: HostState) -> list[str] | None:
    """The Policy list in force: REG_SZ only ("multistring … not used by the system", section 4)."""
    value = None
    key = boot_key(state, POLICY_SUITES)
    if key is not None:
        value = key.value("Functions")
    if value is None or value.type != "REG_SZ":
        return None
    return [s.strip() for s in value.data.split(",") if s.strip()]


def local_suites(state: HostState) -> list[str] | None:
    value = regmod.get_value(state.registry, LOCAL_SUITES, "Functions")
    if value is None or value.type != "REG_MULTI_SZ":
        return None
    return [s for s in value.data if s]


def effective_cipher_suites(state: HostState) -> EffectiveSuites:
    """Policy > Local > OS default (section 4). On 2016+ the Local list is also what
    Get-TlsCipherSuite shows, so the lab keeps one list for both."""
    policy = policy_suites(state)
    if policy is not None:
        return EffectiveSuites("policy", policy)
    local = local_suites(state)
    if local is not None:
        return EffectiveSuites("local", local)
    return EffectiveSuites("os_default", default_suites(state.os.build))


# ---- suite attributes (Get-TlsCipherSuite columns) --------------------------

TLS_VERSION_CODES = {"TLS 1.3": 772, "TLS 1.2": 771, "TLS 1.1": 770, "TLS 1.0": 769, "SSL 3.0": 768}


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    exchange: str  # ECDH / DH / RSA / "" (TLS 1.3)
    certificate: str  # RSA / ECDSA / DSA / "" (TLS 1.3)
    cipher: str  # AES / 3DES / RC4 / NULL / CHACHA20_POLY1305 / DES
    hash: str  # SHA384 / SHA256 / SHA / MD5 / "" (AEAD)
    protocols: tuple[int, ...]


def suite_info(name: str) -> SuiteInfo:
    """Attributes from the IANA-style name (the lab's own derivation)."""
    base = name
    for curve in ("_P256", "_P384", "_P521"):
        base = base.removesuffix(curve)
    if base in _TLS13 or base == "TLS_CHACHA20_POLY1305_SHA256":
        return SuiteInfo(name, "", "", "CHACHA20_POLY1305" if "CHACHA" in base else "AES", "", (772,))
    if base.startswith("SSL_CK_"):
        return SuiteInfo(name, "RSA", "RSA", "RC4" if "RC4" in base else "3DES", "MD5", (2,))
    kx, _sep, rest = base.partition("_WITH_")
    exchange, certificate = {
        "TLS_ECDHE_RSA": ("ECDH", "RSA"),
        "TLS_ECDHE_ECDSA": ("ECDH", "ECDSA"),
        "TLS_DHE_RSA": ("DH", "RSA"),
        "TLS_DHE_DSS": ("DH", "DSA"),
        "TLS_RSA": ("RSA", "RSA"),
    }.get(kx, ("", ""))
    cipher = next((c for c in ("AES", "3DES", "RC4", "NULL", "DES") if c in rest), "")
    aead = "GCM" in rest
    mac = rest.rsplit("_", 1)[-1]
    hash_name = "" if aead else mac
    tls12_only = aead or mac in ("SHA256", "SHA384")
    protocols = (771,) if tls12_only else (771, 770, 769, 768)
    return SuiteInfo(name, exchange, certificate, cipher, hash_name, protocols)
