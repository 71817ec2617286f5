""".NET Framework, WinHTTP and FIPS settings that decide what client processes on the host offer.

Keys and values: reference/windows-schannel.md 7 and 10 (rows 14-17).
"""

from __future__ import annotations

from typing import Any

from . import registry as reg

DOTNET_KEYS = {
    "v4": r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319",
    "v4_wow64": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319",
    "v2": r"HKLM\SOFTWARE\Microsoft\.NETFramework\v2.0.50727",
    "v2_wow64": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v2.0.50727",
}
NDP_V4_KEY = r"HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4"
WINHTTP_KEYS = {
    "native": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp",
    "wow64": r"HKLM\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp",
}
FIPS_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa\FipsAlgorithmPolicy"

# WINHTTP_FLAG_SECURE_PROTOCOL_* bits of DefaultSecureProtocols
WINHTTP_BITS = (
    (0x8, "SSL 2.0"),
    (0x20, "SSL 3.0"),
    (0x80, "TLS 1.0"),
    (0x200, "TLS 1.1"),
    (0x800, "TLS 1.2"),
    (0x2000, "TLS 1.3"),
)


def dotnet_facts(nodes: dict[str, reg.Node | None], ndp_v4: reg.Node | None) -> dict[str, Any]:
    keys = {
        label: {
            "exists": reg.exists(nodes.get(label)),
            "SchUseStrongCrypto": reg.dword(nodes.get(label), "SchUseStrongCrypto"),
            "SystemDefaultTlsVersions": reg.dword(nodes.get(label), "SystemDefaultTlsVersions"),
        }
        for label in DOTNET_KEYS
    }
    full = reg.subkey(ndp_v4, "Full")
    # SQLCheck reads NDP\v4\Client\1033 Version; Full carries Version and Release too.
    version = reg.text(full, "Version") or reg.text(reg.subkey(ndp_v4, "Client", "1033"), "Version")
    return {"keys": keys, "v4_version": version, "v4_release": reg.dword(full, "Release")}


def winhttp_facts(nodes: dict[str, reg.Node | None]) -> dict[str, Any]:
    result = {}
    for label in WINHTTP_KEYS:
        value = reg.dword(nodes.get(label), "DefaultSecureProtocols")
        result[label] = {
            "DefaultSecureProtocols": value,
            "protocols": None if value is None else [name for bit, name in WINHTTP_BITS if value & bit],
        }
    return result


def fips_facts(node: reg.Node | None) -> dict[str, Any]:
    value = reg.dword(node, "Enabled")
    return {"Enabled": value, "enabled": bool(value)}
