"""Who a host is, from the raw agent data: name, domain and Windows build."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

CURRENT_VERSION_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def _value(values: Mapping[str, Any], name: str) -> Any:
    entry = values.get(name)
    return entry.get("data") if isinstance(entry, Mapping) else None


def _values(current_version: Any) -> Mapping[str, Any]:
    values = current_version.get("values") if isinstance(current_version, Mapping) else None
    return values if isinstance(values, Mapping) else {}


# A version part as the registry holds it: a DWORD, or a string of ASCII digits. Bounded, so
# that a hostile value of thousands of digits (int() refuses more than 4300) or a non-ASCII
# digit ("²".isdigit() is true, int("²") raises) reads as unknown, not as an exception.
_NUMBER = re.compile(r"[0-9]{1,10}")


def _number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def windows_build(current_version: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    """(major, minor, build, ubr) from Windows NT\\CurrentVersion, None when the build is unreadable.

    Server 2012 R2 has no CurrentMajorVersionNumber; its `CurrentVersion` is
    "6.3", which Windows 10+ also keeps, so it is used only when the DWORDs
    are absent (reference/windows-schannel.md section 9).
    """
    values = _values(current_version)
    build = _number(_value(values, "CurrentBuildNumber") or _value(values, "CurrentBuild"))
    if build is None:
        return None
    major = _number(_value(values, "CurrentMajorVersionNumber"))
    minor = _number(_value(values, "CurrentMinorVersionNumber"))
    if major is None:
        legacy = str(_value(values, "CurrentVersion") or "0.0").split(".")
        major, minor = _number(legacy[0]), _number(legacy[1]) if len(legacy) > 1 else 0
        if major is None:
            return None
    ubr = _number(_value(values, "UBR")) or 0
    return major, minor or 0, build, ubr & 0xFFFFFFFF


def host_identity(os_info: Mapping[str, Any], current_version: Mapping[str, Any]) -> dict[str, Any]:
    os_info = os_info if isinstance(os_info, Mapping) else {}
    values = _values(current_version)
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
