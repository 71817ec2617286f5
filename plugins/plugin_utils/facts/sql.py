"""SQL Server instance facts: discovery, build, TLS 1.2 verdict, services, encryption settings.

Layout: reference/sqlserver-tls.md 1 (Instance Names\\SQL, Setup), 2 (SuperSocketNetLib),
3 (ERRORLOG), 10 (service names), 11 (FCI and Always On detection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import errorlog
from . import registry as reg
from .service_sid import service_sid
from .sqlbuild import normalise_setup_version, parse_version, tls12_verdict, version_text

SQL_ROOT_KEY = r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server"
DEFAULT_INSTANCE = "MSSQLSERVER"
# What an engine speaks without TLS 1.2 (KB3135244); SSL 2.0 is left out: Schannel on
# 2016+ does not have it and SQL clients never offered it (inference).
LEGACY_PROTOCOLS = ("SSL 3.0", "TLS 1.0", "TLS 1.1")


def service_names(instance_name: str) -> tuple[str, str]:
    if instance_name.upper() == DEFAULT_INSTANCE:
        return "MSSQLSERVER", "SQLSERVERAGENT"
    return f"MSSQL${instance_name}", f"SQLAgent${instance_name}"


def instance_id_of_key(key: str | None) -> str | None:
    """``HKLM\\...\\Microsoft SQL Server\\MSSQL15.X\\Setup`` -> ``MSSQL15.X``."""
    marker = "\\microsoft sql server\\"
    lowered = (key or "").casefold()
    at = lowered.find(marker)
    if at < 0:
        return None
    rest = (key or "")[at + len(marker) :]
    return rest.split("\\", 1)[0] or None


def _for_instance(entries: Sequence[Mapping[str, Any]], instance_id: str) -> list[Mapping[str, Any]]:
    return [
        e
        for e in entries
        if isinstance(e, Mapping)
        and (instance_id_of_key(e.get("source_key")) or "").casefold() == instance_id.casefold()
    ]


def _service(services: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    for svc in services:
        if isinstance(svc, Mapping) and str(svc.get("name", "")).casefold() == name.casefold():
            return {
                "name": svc.get("name"),
                "exists": bool(svc.get("exists", True)),
                "state": svc.get("state"),
                "start_mode": svc.get("start_mode"),
            }
    return {"name": name, "exists": None, "state": None, "start_mode": None}


def _version(binary: Sequence[Mapping[str, Any]], setup: reg.Node | None) -> tuple[Any, str | None]:
    for entry in binary:
        version = parse_version(entry.get("product_version")) if entry.get("exists") else None
        if version:
            return version, "sqlservr.exe"
    # Never Setup\Version alone and never FileVersion (section 1).
    version = normalise_setup_version(reg.text(setup, "PatchLevel"))
    return version, "setup_patch_level" if version else None


def _errorlog_path(parameters: reg.Node | None) -> str | None:
    for name in reg.value_names(parameters):
        data = reg.text(parameters, name) or ""
        if name.lower().startswith("sqlarg") and data.startswith("-e"):
            return data[2:]
    return None


def _split_logs(files: Sequence[Mapping[str, Any]], current_path: str | None) -> tuple[list[str], list[str]]:
    """(current ERRORLOG lines, previous ERRORLOG.1 lines)."""
    current: list[str] = []
    previous: list[str] = []
    for entry in files:
        if not entry.get("exists"):
            continue
        path = str(entry.get("path") or "")
        lines = [str(line) for line in entry.get("lines") or []]
        is_current = path.casefold() == (current_path or "").casefold() or (
            current_path is None and not path.rsplit(".", 1)[-1].isdigit()
        )
        (current if is_current else previous).extend(lines)
    return current, previous


def normalise_thumbprint(value: str | None) -> str | None:
    """``Certificate`` as SQL Server reads it: spaces dropped, case ignored; empty = none (section 2)."""
    return (value or "").strip().replace(" ", "").lower() or None


def netlib_settings(netlib: reg.Node | None) -> dict[str, Any]:
    """The ``SuperSocketNetLib`` values SQL Server reads at start (section 2)."""
    return {
        "bound": normalise_thumbprint(reg.text(netlib, "Certificate")),
        # SQLCheck treats the legacy "Encrypt" value like ForceEncryption (section 2).
        "force_encryption": bool(reg.dword(netlib, "ForceEncryption")) or bool(reg.dword(netlib, "Encrypt")),
        "force_strict": bool(reg.dword(netlib, "ForceStrict")),
        "hide_instance": bool(reg.dword(netlib, "HideInstance")),
    }


def _clustered(root: reg.Node | None) -> tuple[bool, str | None]:
    cluster = reg.subkey(root, "Cluster")
    state = reg.subkey(root, "ClusterState")
    state_set = any(reg.dword(state, n) == 1 for n in reg.value_names(state))
    return cluster is not None or state_set, reg.text(cluster, "ClusterName")


def instance_facts(
    name: str,
    instance_id: str,
    tree: reg.Node | None,
    binaries: Sequence[Mapping[str, Any]],
    startup_logs: Sequence[Mapping[str, Any]],
    evidence_logs: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    root = reg.subkey(tree, instance_id)
    setup = reg.subkey(root, "Setup")
    netlib = reg.subkey(root, "MSSQLServer", "SuperSocketNetLib")
    ipall = reg.subkey(netlib, "Tcp", "IPAll")
    parameters = reg.subkey(root, "MSSQLServer", "Parameters")
    version, version_source = _version(_for_instance(binaries, instance_id), setup)
    tls12 = tls12_verdict(version)
    engine_service, agent_service = service_names(name)
    errorlog_path = _errorlog_path(parameters)
    current, previous = _split_logs(_for_instance(startup_logs, instance_id), errorlog_path)
    ev_current, ev_previous = _split_logs(_for_instance(evidence_logs, instance_id), errorlog_path)
    settings = netlib_settings(netlib)
    clustered, cluster_name = _clustered(root)
    return {
        "id": instance_id,
        "name": name,
        "version": version_text(version),
        "version_source": version_source,
        "major": version[0] if version else None,
        "edition": reg.text(setup, "Edition"),
        "patch_level": reg.text(setup, "PatchLevel"),
        "tls12": tls12,
        "protocols": list(LEGACY_PROTOCOLS) + (["TLS 1.2"] if tls12["supported"] else []),
        "service": _service(services, engine_service),
        "agent": _service(services, agent_service),
        # NT SERVICE\<engine service>, computed (docs/reference-windows-bindings.md 4): the
        # identity that needs read access to the certificate's private key (section 4).
        "service_sid": service_sid(engine_service),
        "certificate": {
            "bound": settings["bound"],
            "loaded": errorlog.loaded_certificate([current, previous]),
            "load_problems": errorlog.load_problems(current),
        },
        "force_encryption": settings["force_encryption"],
        "force_strict": settings["force_strict"],
        "hide_instance": settings["hide_instance"],
        "clustered": clustered,
        "cluster_name": cluster_name,
        "hadr_enabled": reg.dword(reg.subkey(root, "MSSQLServer", "HADR"), "HADR_Enabled") == 1,
        "tcp_port": reg.text(ipall, "TcpPort") or None,
        "tcp_dynamic_ports": reg.text(ipall, "TcpDynamicPorts") or None,
        "errorlog": {
            "path": errorlog_path,
            "read": bool(current or previous or ev_current or ev_previous),
            "evidence": errorlog.evidence(ev_previous + ev_current),
        },
    }


def sql_facts(
    tree: reg.Node | None,
    binaries: Sequence[Mapping[str, Any]],
    startup_logs: Sequence[Mapping[str, Any]],
    evidence_logs: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    names = reg.subkey(tree, "Instance Names", "SQL")
    instances = []
    for name in sorted(reg.value_names(names), key=str.casefold):
        instance_id = reg.text(names, name)
        if instance_id:
            instances.append(
                instance_facts(name, instance_id, tree, binaries, startup_logs, evidence_logs, services)
            )
    return instances
