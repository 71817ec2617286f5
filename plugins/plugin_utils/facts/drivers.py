"""SQL Server client drivers on the host and whether they can speak TLS 1.2.

Detection and minimum versions: reference/sqlserver-tls.md 8 (SQLCheck DriverInfo.cs):
ODBC drivers from ODBCINST.INI, OLE DB providers from their DLLs in System32/SysWOW64;
versions are the DLL's ProductVersion. SQLCheck compares major.minor exactly and the
build as a minimum. The MDAC components that ship with Windows (ODBC "SQL Server",
SQLOLEDB) have TLS 1.2 only on some Windows builds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from . import registry as reg
from .osinfo import Version
from .sqlbuild import parse_version

ODBCINST_KEY = r"HKLM\SOFTWARE\ODBC\ODBCINST.INI"
ODBCINST_WOW_KEY = r"HKLM\SOFTWARE\WOW6432Node\ODBC\ODBCINST.INI"

# OLE DB provider DLL -> ProgID. sqlsrv32.dll is the ODBC "SQL Server" driver, read
# here too so its version is known even if ODBCINST.INI lacks it.
OLEDB_DLLS = {
    "sqloledb.dll": "SQLOLEDB",
    "sqlncli.dll": "SQLNCLI",
    "sqlncli10.dll": "SQLNCLI10",
    "sqlncli11.dll": "SQLNCLI11",
    "msoledbsql.dll": "MSOLEDBSQL",
    "msoledbsql19.dll": "MSOLEDBSQL19",
}
SYSTEM_DIRS = {r"%SystemRoot%\System32": "native", r"%SystemRoot%\SysWOW64": "wow64"}
DLL_PATHS = [f"{d}\\{dll}" for d in SYSTEM_DIRS for dll in (*OLEDB_DLLS, "sqlsrv32.dll")]

_ODBC_DRIVER = re.compile(r"^ODBC Driver ([0-9]{1,9})(?:\.[0-9]+)? for SQL Server$", re.I)
_SQL_ODBC_NAMES = re.compile(
    r"^(SQL Server|SQL Native Client|SQL Server Native Client \d+\.\d+|ODBC Driver .* for SQL Server)$", re.I
)

# (major, minor) -> minimum build, per driver family (SQLCheck: exact major.minor)
_MINIMUMS = {
    "SNAC10": {(10, 0): 6543, (10, 50): 6537, (10, 51): 6537},
    "SNAC11": {(11, 0): 6538},
    "ODBC11": {(12, 0): 4219},
}
# MDAC (sqlsrv32.dll / sqloledb.dll) fixed by Windows servicing: build -> UBR that must be exceeded
_MDAC_FIXED_AFTER_UBR = {17763: 1553, 18362: 1197, 18363: 1197, 19041: 609, 19042: 609}
_MDAC_ALWAYS_FROM_BUILD = 19043  # 21H1 and later (and > 10.0.19999: Windows 11, Server 2022+)


def family(name: str) -> str | None:
    """Driver family of an ODBC driver name or an OLE DB ProgID."""
    upper = name.upper()
    if upper in ("SQL SERVER", "SQLOLEDB"):
        return "MDAC"
    if upper in ("SQL NATIVE CLIENT", "SQL SERVER NATIVE CLIENT 9.0", "SQLNCLI"):
        return "SNAC9"
    if upper in ("SQL SERVER NATIVE CLIENT 10.0", "SQLNCLI10"):
        return "SNAC10"
    if upper in ("SQL SERVER NATIVE CLIENT 11.0", "SQLNCLI11"):
        return "SNAC11"
    if upper in ("MSOLEDBSQL", "MSOLEDBSQL19"):
        return "MSOLEDBSQL"
    match = _ODBC_DRIVER.match(name)
    if match:
        return "ODBC11" if int(match[1]) == 11 else "ODBC13+" if int(match[1]) >= 13 else None
    return None


def mdac_tls12(os_version: Version | None) -> tuple[bool | None, str]:
    if os_version is None:
        return None, "unknown_os_version"
    build, ubr = os_version[2], os_version[3]
    if os_version[0] < 10:
        return False, "mdac_windows_before_10_no_fix"
    if build >= _MDAC_ALWAYS_FROM_BUILD:
        return True, "mdac_fixed_in_this_windows_release"
    if build in _MDAC_FIXED_AFTER_UBR:
        fixed = ubr > _MDAC_FIXED_AFTER_UBR[build]
        return fixed, "mdac_fixed_by_os_update" if fixed else "mdac_os_update_missing"
    return False, "mdac_windows_release_no_fix"


def driver_tls12(name: str, product_version: str | None, os_version: Version | None) -> dict[str, Any]:
    fam = family(name)
    if fam == "MDAC":
        supported, reason = mdac_tls12(os_version)
    elif fam in ("ODBC13+", "MSOLEDBSQL"):
        supported, reason = True, "all_versions"
    elif fam == "SNAC9":
        supported, reason = False, "no_tls12_version_exists"
    elif fam in _MINIMUMS:
        version = parse_version(product_version)
        if version is None:
            supported, reason = None, "unknown_version"
        else:
            minimum = _MINIMUMS[fam].get(version[:2])
            supported = minimum is not None and version[2] >= minimum
            reason = "version_has_tls12" if supported else "version_below_minimum"
    else:
        supported, reason = None, "unknown_driver"
    return {"supported": supported, "reason": reason, "family": fam}


def _by_source_key(files: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(f.get("source_key") or "").casefold(): f for f in files if isinstance(f, Mapping)}


def _odbc_drivers(
    odbcinst: reg.Node | None,
    files: Sequence[Mapping[str, Any]],
    root: str,
    bitness: int,
    os_version: Version | None,
) -> list[dict[str, Any]]:
    installed = reg.value_names(reg.subkey(odbcinst, "ODBC Drivers"))
    by_key = _by_source_key(files)
    drivers = []
    for name in installed:
        if not _SQL_ODBC_NAMES.match(name):
            continue
        file = by_key.get(f"{root}\\{name}".casefold(), {})
        version = file.get("product_version") if file.get("exists") else None
        drivers.append(
            {
                "name": name,
                "kind": "odbc",
                "bitness": bitness,
                "file": file.get("path") or reg.text(reg.subkey(odbcinst, name), "Driver"),
                "exists": bool(file.get("exists")),
                "product_version": version,
                "tls12": driver_tls12(name, version, os_version),
            }
        )
    return drivers


def _oledb_providers(
    files: Sequence[Mapping[str, Any]], is_64bit: bool, os_version: Version | None
) -> list[dict]:
    providers = []
    for file in files:
        if not isinstance(file, Mapping) or not file.get("exists"):
            continue
        path = str(file.get("path") or "")
        directory, _sep, dll = path.rpartition("\\")
        progid = OLEDB_DLLS.get(dll.lower())
        if progid is None:
            continue
        native = "syswow64" not in directory.lower()
        providers.append(
            {
                "name": progid,
                "kind": "oledb",
                "bitness": 64 if native and is_64bit else 32,
                "file": path,
                "exists": True,
                "product_version": file.get("product_version"),
                "tls12": driver_tls12(progid, file.get("product_version"), os_version),
            }
        )
    return providers


def driver_facts(
    odbcinst: reg.Node | None,
    odbcinst_wow: reg.Node | None,
    odbc_files: Sequence[Mapping[str, Any]],
    odbc_wow_files: Sequence[Mapping[str, Any]],
    dll_files: Sequence[Mapping[str, Any]],
    os_version: Version | None,
    is_64bit: bool,
) -> list[dict[str, Any]]:
    drivers = _odbc_drivers(odbcinst, odbc_files, ODBCINST_KEY, 64 if is_64bit else 32, os_version)
    if is_64bit:
        drivers += _odbc_drivers(odbcinst_wow, odbc_wow_files, ODBCINST_WOW_KEY, 32, os_version)
    return drivers + _oledb_providers(dll_files, is_64bit, os_version)
