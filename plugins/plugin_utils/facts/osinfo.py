"""Windows version facts: build tuple, release name, TLS 1.3 support, DHE leading-zero fix.

Versions are compared as integer tuples (reference/windows-schannel.md section 9).
"""

from __future__ import annotations

from typing import Any

from ..host_identity import windows_build
from . import registry as reg

Version = tuple[int, int, int, int]

SERVER_2012_R2 = (6, 3, 9600, 0)
SERVER_2016 = (10, 0, 14393, 0)
SERVER_2019 = (10, 0, 17763, 0)
SERVER_2022 = (10, 0, 20348, 0)
SERVER_23H2 = (10, 0, 25398, 0)
SERVER_2025 = (10, 0, 26100, 0)
WINDOWS_11 = (10, 0, 22000, 0)

# TLS 1.3 exists from Windows Server 2022 / Windows 11 (windows-schannel.md 1.1, 2).
TLS13_MIN = SERVER_2022
# KB4537806 (OS build 14393.3542) brought the leading-zero fix to Server 2016 (windows-schannel.md 6).
DHE_FIX_SERVER_2016 = (10, 0, 14393, 3542)
# Windows 10 1511 (build 10586) and later client builds compute the padded value (same section).
DHE_FIX_CLIENT_MIN_BUILD = 10586

_SERVER_RELEASES = (
    (SERVER_2025, "Windows Server 2025"),
    (SERVER_23H2, "Windows Server 23H2"),
    (SERVER_2022, "Windows Server 2022"),
    (SERVER_2019, "Windows Server 2019"),
    (SERVER_2016, "Windows Server 2016"),
    ((10, 0, 0, 0), "Windows Server (10.0 pre-2016)"),
    (SERVER_2012_R2, "Windows Server 2012 R2"),
    ((6, 2, 0, 0), "Windows Server 2012"),
    ((6, 1, 0, 0), "Windows Server 2008 R2"),
)
_CLIENT_RELEASES = (
    (WINDOWS_11, "Windows 11"),
    ((10, 0, 0, 0), "Windows 10"),
    ((6, 3, 0, 0), "Windows 8.1"),
    ((6, 2, 0, 0), "Windows 8"),
    ((6, 1, 0, 0), "Windows 7"),
)


def version_text(version: Version | None) -> str | None:
    return ".".join(str(part) for part in version) if version else None


def release_name(version: Version | None, is_server: bool) -> str | None:
    if version is None:
        return None
    for first, name in _SERVER_RELEASES if is_server else _CLIENT_RELEASES:
        if version >= first:
            return name
    return None


def tls13_supported(version: Version | None) -> bool:
    return version is not None and version >= TLS13_MIN


def dhe_fix_status(version: Version | None, is_server: bool) -> dict[str, Any]:
    """Whether the OS computes TLS_DHE keys with the leading-zero fix (SQLCheck's DH version 2).

    SQLCheck: major < 10 (2012 R2 has no CurrentMajorVersionNumber) => old; Server SKUs
    of major 10 need >= 10.0.14393.3542; client SKUs need release 1511 or later.
    """
    if version is None:
        return {"fixed": None, "reason": "unknown_os_version", "fixed_from": None}
    if version[0] < 10:
        return {"fixed": False, "reason": "windows_before_10", "fixed_from": None}
    if is_server:
        fixed = version >= DHE_FIX_SERVER_2016
        return {
            "fixed": fixed,
            "reason": "server_build_with_fix" if fixed else "server_build_before_fix",
            "fixed_from": version_text(DHE_FIX_SERVER_2016),
        }
    fixed = version[2] >= DHE_FIX_CLIENT_MIN_BUILD
    return {
        "fixed": fixed,
        "reason": "client_release_with_fix" if fixed else "client_release_before_fix",
        "fixed_from": f"10.0.{DHE_FIX_CLIENT_MIN_BUILD}",
    }


def _is_server(installation_type: str | None, product_name: str | None) -> bool:
    # InstallationType ("Server", "Server Core", "Client") is the robust test; SQLCheck
    # looks for "Server" in ProductName (windows-schannel.md 9).
    if installation_type:
        return installation_type.lower().startswith("server")
    return "server" in (product_name or "").lower()


def os_facts(current_version: reg.Node | None) -> dict[str, Any]:
    node = current_version if reg.exists(current_version) else {"values": {}}
    version = windows_build(node)
    product_name = reg.text(node, "ProductName")
    installation_type = reg.text(node, "InstallationType")
    is_server = _is_server(installation_type, product_name)
    return {
        "version": version_text(version),
        "version_tuple": list(version) if version else None,
        "product_name": product_name,
        "installation_type": installation_type,
        "display_version": reg.text(node, "DisplayVersion"),
        "release_id": reg.text(node, "ReleaseId"),
        "is_server": is_server,
        "release": release_name(version, is_server),
        "tls13_supported": tls13_supported(version),
        "dhe_leading_zero_fix": dhe_fix_status(version, is_server),
    }


def version_tuple(facts_os: dict[str, Any]) -> Version | None:
    raw = facts_os.get("version_tuple")
    return tuple(raw) if raw else None  # type: ignore[return-value]
