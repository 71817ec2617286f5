"""Who a host is, from the raw agent data: name, domain and Windows build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CURRENT_VERSION_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def _value(values: Mapping[str, Any], name: str) -> Any:
    entry = values.get(name)
    return entry.get("data") if isinstance(entry, Mapping) else None


def windows_build(current_version: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    """(major, minor, build, ubr) from Windows NT\\CurrentVersion.

    Server 2012 R2 has no CurrentMajorVersionNumber; its `CurrentVersion` is
    "6.3", which Windows 10+ also keeps, so it is used only when the DWORDs
    are absent (reference/windows-schannel.md section 9).
    """
    values = current_version.get("values") or {}
    build = _value(values, "CurrentBuildNumber") or _value(values, "CurrentBuild")
    if build is None or not str(build).isdigit():
        return None
    major = _value(values, "CurrentMajorVersionNumber")
    minor = _value(values, "CurrentMinorVersionNumber")
    if major is None:
        legacy = str(_value(values, "CurrentVersion") or "0.0").split(".")
        major, minor = int(legacy[0]), int(legacy[1]) if len(legacy) > 1 else 0
    ubr = _value(values, "UBR") or 0
    return int(major), int(minor or 0), int(build), int(ubr) & 0xFFFFFFFF


def host_identity(os_info: Mapping[str, Any], current_version: Mapping[str, Any]) -> dict[str, Any]:
    values = current_version.get("values") or {}
    build = windows_build(current_version)
    return {
        "computer_name": os_info.get("computer_name"),
        "dns_domain": os_info.get("dns_domain"),
        "product_name": _value(values, "ProductName"),
        "installation_type": _value(values, "InstallationType"),
        "os_build": ".".join(str(p) for p in build) if build else None,
        "ps_version": os_info.get("ps_version"),
        "last_boot_utc": os_info.get("last_boot_utc"),
    }
