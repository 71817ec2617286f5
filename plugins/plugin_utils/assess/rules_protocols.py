"""Scenario 1 and its neighbours: protocols in common, builds and drivers without TLS 1.2.

A party on the host has no TLS protocol in common with Schannel when none of the TLS
versions it can speak is effective on its side: the SQL engine on the server side, each
client driver on the client side. Builds without TLS 1.2 (KB3135244) and such drivers
speak TLS 1.0 / TLS 1.1 (and SSL 3.0) only (reference/sqlserver-tls.md 0, 7, 8).
SSL 3.0 does not count as common: the article's scenario is "no matching TLS
protocols", and SQL clients do not fall back to SSL 3.0 (2012 R2 still has it on by
default, WS 2) (inference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..facts.sql import LEGACY_PROTOCOLS
from . import view
from .findings import make_finding


def sql_protocol_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    server = view.tls_only(view.effective_protocols(facts, "server"))
    findings = []
    for instance in view.instances(facts):
        supported = instance["tls12"]["supported"]
        if supported is None:
            continue  # build unknown: no verdict rather than a guess
        speaks = view.tls_only(view.instance_protocols(instance))
        common = speaks & server
        params = {
            "instance": instance["name"],
            "version": instance["version"],
            "first_build": instance["tls12"]["first_tls12_build"],
        }
        if not common:
            findings.append(
                make_finding(
                    "s1.sql_no_common_protocol",
                    lang,
                    target=instance["id"],
                    fixable_by="tls12" if supported else None,
                    remediation_variant=None if supported else "upgrade",
                    instance_protocols=view.ordered(speaks),
                    server_protocols=view.ordered(server),
                    **params,
                )
            )
        elif not supported:
            findings.append(make_finding("sql_no_tls12", lang, target=instance["id"], **params))
    return findings


def _driver_groups(drivers: list[Mapping[str, Any]]) -> dict[tuple[str, bool], list[Mapping[str, Any]]]:
    """One finding per driver family and verdict: the ODBC driver and the OLE DB provider of
    one DLL (SQL Server Native Client 10.0 / SQLNCLI10), or the two MDAC components that ship
    with Windows (SQL Server / SQLOLEDB), are one thing to fix."""
    groups: dict[tuple[str, bool], list[Mapping[str, Any]]] = {}
    for driver in drivers:
        supported = driver["tls12"]["supported"]
        if supported is not None:
            family = driver["tls12"].get("family") or driver["name"]
            groups.setdefault((family, supported), []).append(driver)
    return groups


def driver_protocol_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    client = view.tls_only(view.effective_protocols(facts, "client"))
    findings = []
    for (family, supported), entries in sorted(_driver_groups(facts["drivers"]).items()):
        speaks = view.tls_only(set(LEGACY_PROTOCOLS)) | ({"TLS 1.2"} if supported else set())
        names = sorted({d["name"] for d in entries})
        versions = sorted({f"{d['product_version'] or '?'} {d['bitness']}-bit" for d in entries})
        # The MDAC driver is fixed (or not) by Windows servicing, not by a driver update.
        mdac = family == "MDAC"
        common = {"target": family, "driver": names, "versions": versions}
        if not speaks & client:
            findings.append(
                make_finding(
                    "s1.driver_no_common_protocol",
                    lang,
                    fixable_by="tls12" if supported else None,
                    remediation_variant=None if supported else "mdac" if mdac else "upgrade",
                    driver_protocols=view.ordered(speaks),
                    client_protocols=view.ordered(client),
                    **common,
                )
            )
        elif not supported:
            findings.append(
                make_finding("driver_no_tls12", lang, remediation_variant="mdac" if mdac else None, **common)
            )
    return findings


def tls13_key_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    # SQLCheck: "TLS 1.3 registry keys exist on an OS that does not support it"
    # (reference/windows-schannel.md 1.1).
    if facts["schannel"]["tls13_keys_present"] and not facts["os"]["tls13_supported"]:
        return [make_finding("tls13_keys_unsupported_os", lang, os_version=facts["os"]["version"])]
    return []
