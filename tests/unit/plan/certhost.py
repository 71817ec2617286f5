"""Hosts for the certificate planners: SQL Server 2022 on sql1.lab.local with certificates to choose from."""

from __future__ import annotations

from typing import Any

from ansible_collections.mssql.tls.tests.unit.facts.certmaker import (
    CLIENT_AUTH,
    SERVER_AUTH,
    cert_entry,
    make_cert,
    thumbprint,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    Host,
    Instance,
    compliant_2022_host,
    loaded_line,
)

FQDN = "sql1.lab.local"
SID_MSSQLSERVER = "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"
DEFAULT_ACL = "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"


def cert(
    hash_name: str = "sha256",
    *,
    eku=(SERVER_AUTH, CLIENT_AUTH),
    serial: int = 2000,
    cn: str = FQDN,
    **entry: Any,
) -> tuple[str, dict[str, Any]]:
    """(lower-case thumbprint, cert.list row) of a certificate for the host's FQDN."""
    der = make_cert(cn, hash_name=hash_name, eku=eku, sans=(cn,), serial=serial)
    return thumbprint(der).lower(), cert_entry(der, **entry)


def host(certificates: list[dict[str, Any]], instances: list[Instance], **changes: Any) -> Host:
    h = compliant_2022_host(certificates=certificates, instances=instances)
    for name, value in changes.items():
        setattr(h, name, value)
    return h


def bound(tp: str | None, name: str = "MSSQLSERVER", **fields: Any) -> Instance:
    """An instance bound to ``tp`` (None: nothing bound) whose last start loaded it."""
    instance_id = "MSSQL16.MSSQLSERVER" if name == "MSSQLSERVER" else f"MSSQL16.{name}"
    return Instance(
        name=name, id=instance_id, certificate=tp, errorlog=[loaded_line(tp)] if tp else [], **fields
    )


def auto(loaded: str | None, name: str = "MSSQLSERVER", **fields: Any) -> Instance:
    """An instance with nothing bound whose last start loaded ``loaded`` (None: ERRORLOG silent)."""
    instance_id = "MSSQL16.MSSQLSERVER" if name == "MSSQLSERVER" else f"MSSQL16.{name}"
    return Instance(
        name=name,
        id=instance_id,
        certificate=None,
        errorlog=[loaded_line(loaded)] if loaded else [],
        **fields,
    )
