"""Hosts for the fleet pairing tests, described the way an engineer would, as mssql_tls facts."""

from __future__ import annotations

from typing import Any

from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_links import Member
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import WINDOWS_2016
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert, thumbprint
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2019,
    Instance,
    compliant_2022_host,
    facts_of,
    loaded_line,
    login_error_lines,
)

SNAC11_RTM = ("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64)
ODBC17 = ("ODBC Driver 17 for SQL Server", "msodbcsql17.dll", "17.10.6.1", 64)
ODBC18 = ("ODBC Driver 18 for SQL Server", "msodbcsql18.dll", "18.3.2.1", 64)
TLS12_ONLY = {
    p: {"Server": {"Enabled": 0, "DisabledByDefault": 1}, "Client": {"Enabled": 0, "DisabledByDefault": 1}}
    for p in ("TLS 1.0", "TLS 1.1")
}
CLIENT_WITHOUT_TLS12 = {"TLS 1.2": {"Client": {"Enabled": 0, "DisabledByDefault": 1}}}
GCM_ONLY = (
    "TLS_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,"
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
)


def app_server(version=WS2012R2, odbc=(SNAC11_RTM, ODBC17), **changes: Any) -> dict[str, Any]:
    """An application server: no SQL Server, Schannel and the suite list at the OS defaults,
    the built-in driver of its Windows release plus ``odbc``, .NET Framework 4.8."""
    release = "Windows Server 2012 R2 Standard" if version < (10, 0, 0, 0) else "Windows Server 2016 Standard"
    mdac = ("SQL Server", "SQLSRV32.dll", ".".join(map(str, version)), 64)
    host = compliant_2022_host(
        version=version,
        product_name=release,
        instances=[],
        certificates=[],
        local_suites=None,
        odbc=[mdac, *odbc],
        dlls=[],
    )
    for name, value in changes.items():
        setattr(host, name, value)
    return facts_of(host)


def sql_server(
    name: str = "sql01",
    version=WS2019,
    sql_version: str = "15.0.4395.2",
    clients: tuple[str, ...] = (),
    **changes: Any,
) -> dict[str, Any]:
    """A SQL Server host with one default instance and an RSA certificate, Schannel and the
    suite list at the OS defaults unless ``changes`` say otherwise; ``clients`` are the
    [CLIENT: ...] addresses of 17830 lines in its ERRORLOG."""
    der = make_cert(f"{name}.lab.local", sans=(f"{name}.lab.local",))
    tp = thumbprint(der).lower()
    errorlog = [loaded_line(tp)]
    for address in clients:
        errorlog += login_error_lines(12, 0, 11, client=address)
    host = compliant_2022_host(
        version=version,
        local_suites=None,
        instances=[
            Instance(
                id=f"MSSQL{sql_version.split('.')[0]}.MSSQLSERVER",
                version=sql_version,
                certificate=tp,
                errorlog=errorlog,
            )
        ],
        certificates=[cert_entry(der)],
    )
    for key, value in changes.items():
        setattr(host, key, value)
    return facts_of(host)


def client(name: str, facts: dict[str, Any], address: str | None = None, **fields: Any) -> Member:
    return Member(name=name, address=address or name, facts=facts, client=True, **fields)


def server(name: str, facts: dict[str, Any], address: str | None = None) -> Member:
    return Member(name=name, address=address or name, facts=facts)


__all__ = [
    "CLIENT_WITHOUT_TLS12",
    "GCM_ONLY",
    "ODBC17",
    "ODBC18",
    "SNAC11_RTM",
    "TLS12_ONLY",
    "WINDOWS_2016",
    "WS2012R2",
    "WS2016",
    "WS2019",
    "app_server",
    "client",
    "server",
    "sql_server",
]
