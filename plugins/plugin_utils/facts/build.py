"""Raw results of the gather batch -> ``ansible_facts.mssql_tls`` (schema: docs/facts-schema.md).

Pure: the same results and ``now`` always give the same facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .bindings import bindings_facts, used_by
from .certs import certificate_facts
from .ciphers import LOCAL_LIST_KEY, POLICY_LIST_KEY, cipher_suite_facts
from .clients import DOTNET_KEYS, WINHTTP_KEYS, dotnet_facts, fips_facts, winhttp_facts
from .drivers import driver_facts
from .gather import (
    EVENT_WINDOW_HOURS,
    EVIDENCE_MATCHES,
    EVIDENCE_MAX_LINES,
    GATHER_KEYS,
    SCHANNEL_EVENT_IDS,
    STARTUP_MATCHES,
    STARTUP_MAX_LINES,
    gather_ops,
)
from .osinfo import os_facts, version_tuple
from .pending import pending_facts
from .schannel import SCHANNEL_KEY, schannel_facts
from .shape import checked_result
from .sql import SQL_ROOT_KEY, sql_facts

SCHEMA_VERSION = 1
# Failures that are normal and already visible in the facts themselves.
_EXPECTED_FAILURES = {("suites.cmdlet", "unsupported")}


def _as_result(item: Any) -> dict[str, Any]:
    """Accept an ``OpResult`` (client.py) or a raw agent result ``{"ok", "data"|"error"}``."""
    if hasattr(item, "ok") and hasattr(item, "data"):
        return {
            "ok": bool(item.ok),
            "data": item.data,
            "error_kind": item.error_kind,
            "error_message": item.error_message,
        }
    if isinstance(item, Mapping) and isinstance(item.get("ok"), bool):
        error = item.get("error") if isinstance(item.get("error"), Mapping) else {}
        return {
            "ok": item["ok"],
            "data": item.get("data"),
            "error_kind": item.get("error_kind", error.get("kind")),
            "error_message": item.get("error_message", error.get("message")),
        }
    raise ValueError(f"batch_results: expected agent results with an 'ok' field, got {type(item).__name__}")


def _results(batch_results: Any) -> list[dict[str, Any]]:
    if hasattr(batch_results, "results"):
        batch_results = batch_results.results
    elif isinstance(batch_results, Mapping):
        batch_results = batch_results.get("results")
    if not isinstance(batch_results, Sequence) or isinstance(batch_results, str | bytes):
        raise ValueError("batch_results: expected the list of results of gather_ops()")
    if len(batch_results) != len(GATHER_KEYS):
        raise ValueError(
            f"batch_results: expected {len(GATHER_KEYS)} results (one per gather op), "
            f"got {len(batch_results)}"
        )
    return [_as_result(item) for item in batch_results]


class _Results:
    def __init__(self, results: list[dict[str, Any]]):
        # Data of another shape than documented is a failed read, named (shape.py).
        op_names = [spec["op"] for spec in gather_ops()]
        self.by_key = {
            key: checked_result(op_name, result, key)
            for key, op_name, result in zip(GATHER_KEYS, op_names, results, strict=True)
        }

    def data(self, key: str, default: Any = None) -> Any:
        result = self.by_key[key]
        return result["data"] if result["ok"] and result["data"] is not None else default

    def node(self, key: str) -> Mapping[str, Any] | None:
        data = self.data(key)
        return data if isinstance(data, Mapping) else None

    def rows(self, key: str) -> list[Mapping[str, Any]]:
        data = self.data(key, [])
        return [row for row in data if isinstance(row, Mapping)] if isinstance(data, list) else []

    def errors(self) -> list[dict[str, Any]]:
        return [
            {"key": key, "kind": r["error_kind"], "message": r["error_message"]}
            for key, r in self.by_key.items()
            if not r["ok"] and (key, r["error_kind"]) not in _EXPECTED_FAILURES
        ]


def _errorlog_rows(rows: Sequence[Mapping[str, Any]], index: int, max_lines: int) -> list[dict[str, Any]]:
    """The file.tail rows of the ERRORLOG op as one pattern's tail: `lines` = that pattern's
    `matches`, its last `max_lines`."""
    out = []
    for row in rows:
        matches = row.get("matches")
        lines = matches[index] if isinstance(matches, list) and len(matches) > index else None
        lines = list(lines) if isinstance(lines, list) else []
        tail = {key: value for key, value in row.items() if key != "matches"}
        tail["lines"] = lines[-max_lines:] if max_lines else []
        out.append(tail)
    return out


def _host(info: Mapping[str, Any]) -> dict[str, Any]:
    name, domain = info.get("computer_name"), info.get("dns_domain")
    return {
        "computer_name": name,
        "dns_domain": domain,
        "fqdn": f"{name}.{domain}".lower() if name and domain else (name or "").lower() or None,
        "ps_version": info.get("ps_version"),
        "last_boot_utc": info.get("last_boot_utc"),
        "is_64bit": info.get("is_64bit", True) is not False,
        # The host's own clock, for change windows in host-local time (activate/window.py).
        "local_time": info.get("local_time"),
        "utc_offset_minutes": info.get("utc_offset_minutes"),
        "time_zone": info.get("time_zone"),
    }


def _cluster(data: Mapping[str, Any] | None) -> dict[str, Any]:
    data = data or {}
    resources = [r for r in data.get("resources") or [] if isinstance(r, Mapping)]
    return {
        "is_node": bool(data.get("is_node")),
        "cluster_name": data.get("cluster_name"),
        "nodes": list(data.get("nodes") or []),
        "sql_resources": [dict(r) for r in resources if r.get("type") in ("SQL Server", "SQL Server Agent")],
        # Always On: the group's resource is online on the primary replica's node
        # (docs/reference-windows-bindings.md 8).
        "ag_resources": [dict(r) for r in resources if r.get("type") == "SQL Server Availability Group"],
    }


def _events(result: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = (data or {}).get("counts") or {}
    latest = (data or {}).get("latest_utc") or {}
    return {
        "available": bool(result["ok"]),
        "since_hours": EVENT_WINDOW_HOURS,
        "counts": {str(i): int(counts.get(str(i)) or 0) for i in SCHANNEL_EVENT_IDS},
        "latest_utc": {str(i): latest.get(str(i)) for i in SCHANNEL_EVENT_IDS},
    }


def link_certificates(instances: list[dict[str, Any]], certificates: list[dict[str, Any]]) -> None:
    """Per instance: is the bound certificate in the store, and which ones SQL could auto-pick."""
    in_store = {c["thumbprint"] for c in certificates}
    candidates = [c["thumbprint"] for c in certificates if c.get("sql_auto_pick_candidate")]
    for instance in instances:
        cert = instance["certificate"]
        cert["bound_in_store"] = cert["bound"] in in_store if cert["bound"] else None
        cert["auto_pick_candidates"] = [] if cert["bound"] else list(candidates)


def _raw_registry(r: _Results) -> dict[str, Any]:
    """The reg.read nodes of the keys the fix modules write, typed as the agent sent them
    (plan/registry.py): every planned write then carries the exact ``expect``. A read that
    failed is left out, and planning against it is refused rather than guessed."""
    roots = {
        "schannel": SCHANNEL_KEY,
        "suites.local": LOCAL_LIST_KEY,
        "suites.policy": POLICY_LIST_KEY,
        "sql.tree": SQL_ROOT_KEY,
        **{f"dotnet.{label}": path for label, path in DOTNET_KEYS.items()},
        **{f"winhttp.{label}": path for label, path in WINHTTP_KEYS.items()},
    }
    return {path: r.node(key) for key, path in roots.items() if r.node(key) is not None}


def build_facts(batch_results: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Normalise the results of ``gather_ops()`` (same order) into the mssql_tls facts.

    ``now`` (timezone-aware) fixes certificate day counts; the action plugin passes the
    controller's clock, tests pass a constant.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now: expected a timezone-aware datetime")
    r = _Results(_results(batch_results))
    host = _host(r.data("os.info", {}))
    os = os_facts(r.node("os.current_version"))
    version = version_tuple(os)
    schannel = schannel_facts(r.node("schannel"), version)
    instances = sql_facts(
        r.node("sql.tree"),
        r.rows("sql.binaries"),
        _errorlog_rows(r.rows("sql.errorlog"), STARTUP_MATCHES, STARTUP_MAX_LINES),
        _errorlog_rows(r.rows("sql.errorlog"), EVIDENCE_MATCHES, EVIDENCE_MAX_LINES),
        r.rows("sql.services"),
    )
    host_names = [host["computer_name"] or "", host["fqdn"] or ""] + [
        i["cluster_name"] or "" for i in instances
    ]
    certificates = [certificate_facts(entry, now, host_names) for entry in r.rows("certificates")]
    link_certificates(instances, certificates)
    bindings = bindings_facts(
        r.node("bindings.rdp"),
        r.node("bindings.wsman"),
        r.node("bindings.http_ssl"),
        r.node("bindings.http_ssl_sni"),
    )
    for cert in certificates:
        cert["used_by"] = used_by(bindings, cert["thumbprint"]) if cert["thumbprint"] else []
    journal = r.data("journal")
    return {
        "schema_version": SCHEMA_VERSION,
        "gathered_at": now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": host,
        "os": os,
        "schannel": schannel,
        "cipher_suites": cipher_suite_facts(
            r.node("suites.local"),
            r.node("suites.policy"),
            r.by_key["suites.cmdlet"],
            schannel,
            version,
            os["is_server"],
        ),
        "dotnet": dotnet_facts(
            {label: r.node(f"dotnet.{label}") for label in DOTNET_KEYS}, r.node("dotnet.ndp_v4")
        ),
        "winhttp": winhttp_facts({label: r.node(f"winhttp.{label}") for label in WINHTTP_KEYS}),
        "fips": fips_facts(r.node("fips")),
        "sql": {"instances": instances},
        "certificates": certificates,
        "drivers": driver_facts(
            r.node("drivers.odbcinst"),
            r.node("drivers.odbcinst_wow64"),
            r.rows("drivers.odbc_files"),
            r.rows("drivers.odbc_files_wow64"),
            r.rows("drivers.dlls"),
            version,
            host["is_64bit"],
        ),
        "cluster": _cluster(r.node("cluster")),
        "schannel_events": _events(r.by_key["events.schannel"], r.node("events.schannel")),
        "gather_errors": r.errors(),
        "registry": _raw_registry(r),
        "bindings": bindings,
        "pending": pending_facts(
            journal.get("records") if isinstance(journal, Mapping) else None, host["last_boot_utc"]
        ),
    }
