"""Fleet pairing: which client host cannot talk to which SQL Server instance, and why.

For every link (pairing_links.py) and every driver family on the client host
(pairing_ends.py), the handshake is decided the way Schannel decides it
(reference/windows-schannel.md 4-6, the negotiation model of tds/verdict.py):
- the protocol is the highest TLS version both ends allow; none: scenario 1 (the server
  closes the connection, the client reports 10054);
- the suite is the first of the server's list, in its order (server preference,
  Schannel's default), that the client offers for that protocol and the certificate's key
  type can serve; none: scenario 2;
- a TLS_DHE_* suite chosen between ends whose DH leading-zero handling differs (one side
  with KB4557473's fix, the other without): scenario 5, cross-host, intermittent. "This
  issue also occurs when an application running on Windows Server 2012 R2 tries to
  connect to SQL Server running on Windows Server 2019" (section 6). Removing TLS_DHE_*
  on the server clears it whatever the client.
Pure: plain facts in, plain data out; text is rendered in pairing_findings.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..facts.suites import parse_suite
from .pairing_ends import ClientDriver, ServerEnd, client_drivers, server_ends
from .pairing_links import Link, Member, links
from .view import ordered

STATUSES = ("fails", "intermittent", "unknown", "connects")  # worst first
FAILING = ("fails", "intermittent")
_VERSION_ORDER = ("TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
# The source a peer of the safety gate is named with: the strongest one the link has.
_PEER_SOURCE = ("observed", "declared", "assumed")


@dataclass(frozen=True)
class Negotiation:
    status: str  # one of STATUSES
    code: str  # connects, no_common_protocol, no_common_suite, dhe_leading_zero_mismatch,
    #            driver_tls12_unknown, sql_build_unknown
    scenario: int | None = None
    protocol: str | None = None
    suite: str | None = None
    common_protocols: tuple[str, ...] = ()
    dhe_possible: bool = False  # a TLS_DHE suite both ends have for the protocol, in any order
    warnings: tuple[str, ...] = ()


# A fleet has few distinct suite lists: cache per list (pairs grow as clients x instances).
@lru_cache(maxsize=256)
def _offered(suites: tuple[str, ...], protocol: str) -> frozenset[str]:
    parsed = [parse_suite(name) for name in suites]
    return frozenset(suite.canonical for suite in parsed if protocol in suite.protocols)


@lru_cache(maxsize=256)
def _served(suites: tuple[str, ...], protocol: str, key_type: str) -> tuple[str, ...]:
    """The server's suites for this protocol and key type, in its order."""
    return tuple(
        name
        for name in suites
        if protocol in (suite := parse_suite(name)).protocols and suite.usable_with_key(key_type)
    )


def negotiate(driver: ClientDriver, server: ServerEnd) -> Negotiation:
    """What happens when this driver on its host opens a TLS connection to this instance."""
    if driver.tls12 is None:
        return Negotiation("unknown", "driver_tls12_unknown")
    common = tuple(p for p in _VERSION_ORDER if p in driver.protocols & server.protocols)
    if not common:
        if server.tls12 is None:
            return Negotiation("unknown", "sql_build_unknown")
        return Negotiation("fails", "no_common_protocol", 1)
    protocol = common[-1]
    offered = _offered(driver.suites, protocol)
    served = _served(server.suites, protocol, server.key_type)
    candidates = [n for n in served if parse_suite(n).canonical in offered]
    if not candidates:
        return Negotiation("fails", "no_common_suite", 2, protocol, common_protocols=common)
    suite = candidates[0]
    dhe_possible = any(parse_suite(n).is_dhe for n in candidates)
    if parse_suite(suite).is_dhe:
        if None in (driver.dh_fixed, server.dh_fixed):
            return Negotiation(
                "connects", "connects", None, protocol, suite, common, dhe_possible, ("dhe_fix_unknown",)
            )
        if driver.dh_fixed != server.dh_fixed:
            return Negotiation(
                "intermittent", "dhe_leading_zero_mismatch", 5, protocol, suite, common, dhe_possible
            )
    return Negotiation("connects", "connects", None, protocol, suite, common, dhe_possible)


def _remedy(
    driver: ClientDriver, server: ServerEnd, result: Negotiation
) -> tuple[str | None, str | None, str | None]:
    """(remedy, fixable_by, clears_with) of a failing pair."""
    if result.scenario == 5:
        return "remove_dhe_on_server", "cipher_suites", None
    if result.scenario == 2:
        return "suite_lists", None, None
    if result.scenario != 1:
        return None, None, None
    if not driver.tls12:
        return "upgrade_driver", None, driver.clears_with
    if server.tls12 is False:
        return "upgrade_sql", None, server.clears_with
    if "TLS 1.2" not in driver.schannel_client:
        return "enable_tls12_client", "tls12", None
    return "enable_tls12_server", "tls12", None


def pair_id(client: str, family: str, server: str, instance: str) -> str:
    return f"{client}|{family}|{server}/{instance}"


def _pair(link: Link, driver: ClientDriver, server: ServerEnd) -> dict[str, Any]:
    result = negotiate(driver, server)
    remedy, fixable_by, clears_with = _remedy(driver, server, result)
    return {
        "id": pair_id(link.client, driver.family, link.server, link.instance),
        "client": link.client,
        "driver": driver.family,
        "driver_names": list(driver.names),
        "driver_versions": list(driver.versions),
        "driver_tls12": driver.tls12,
        "server": link.server,
        "instance": link.instance,
        "instance_id": server.instance_id,
        "instance_version": server.version,
        "sources": list(link.sources),
        "seen": [dict(s) for s in link.seen],
        "status": result.status,
        "code": result.code,
        "scenario": result.scenario,
        "protocol": result.protocol,
        "suite": result.suite,
        "dhe_possible": result.dhe_possible,
        "warnings": list(result.warnings),
        "client_protocols": ordered(driver.protocols),
        "server_protocols": ordered(server.protocols),
        "key_type": server.key_type,
        "client_suite_source": driver.suite_source,
        "server_suite_source": server.suite_source,
        "client_os": driver.os_version,
        "server_os": server.os_version,
        "dh_fix": {"client": driver.dh_fixed, "server": server.dh_fixed},
        "remedy": remedy,
        "fixable_by": fixable_by,
        "clears_with": clears_with,
    }


def _worst(statuses: list[str]) -> str:
    return min(statuses, key=STATUSES.index)


def _matrix(pairs: list[Mapping[str, Any]]) -> dict[str, Any]:
    cells: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for pair in pairs:
        cells.setdefault((pair["client"], pair["server"], pair["instance"]), []).append(pair)
    return {
        "clients": sorted({p["client"] for p in pairs}),
        "instances": sorted({f"{p['server']}/{p['instance']}" for p in pairs}),
        "cells": [
            {
                "client": client,
                "server": server,
                "instance": instance,
                "status": _worst([p["status"] for p in group]),
                "scenarios": sorted({p["scenario"] for p in group if p["status"] in FAILING}),
                "sources": group[0]["sources"],
                "drivers": {p["driver"]: p["status"] for p in group},
                "failing": [p["id"] for p in group if p["status"] in FAILING],
                "pairs": [p["id"] for p in group],
            }
            for (client, server, instance), group in sorted(cells.items())
        ],
    }


def _peers(
    pairs: list[Mapping[str, Any]], drivers: Mapping[str, list[ClientDriver]]
) -> dict[str, list[dict]]:
    """Per SQL Server host, each (client host, driver family) that connects to it: the gate's peers."""
    by_family = {(d.host, d.family): d for found in drivers.values() for d in found}
    peers: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for pair in pairs:
        driver = by_family[(pair["client"], pair["driver"])]
        source = next(s for s in _PEER_SOURCE if s in pair["sources"])
        known = peers.setdefault(pair["server"], {}).get((pair["client"], pair["driver"]))
        if known is not None and _PEER_SOURCE.index(known["source"]) <= _PEER_SOURCE.index(source):
            continue
        peers[pair["server"]][(pair["client"], pair["driver"])] = {
            "host": pair["client"],
            "driver": driver.name,
            "family": driver.family,
            "protocols": ordered(driver.protocols),
            "source": source,
            "clears_with": driver.clears_with,
        }
    return {server: [found[key] for key in sorted(found)] for server, found in sorted(peers.items())}


def pair_fleet(members: list[Member]) -> dict[str, Any]:
    """Pairs, the clients x instances matrix, the gate's peers per server, and notes."""
    link_list, notes = links(members)
    drivers = {
        m.name: client_drivers(m.name, m.facts, m.drivers_in_use)
        for m in members
        if m.client and m.facts is not None
    }
    ends = {
        (e.host, e.instance): e for m in members if m.facts is not None for e in server_ends(m.name, m.facts)
    }
    pairs = [
        _pair(link, driver, ends[(link.server, link.instance)])
        for link in link_list
        for driver in drivers[link.client]
    ]
    failing = [p for p in pairs if p["status"] in FAILING]
    matrix = _matrix(pairs)
    return {
        "clients": sorted(drivers),
        "servers": sorted({host for host, _instance in ends}),
        "links": [
            {"client": k.client, "server": k.server, "instance": k.instance, "sources": list(k.sources)}
            for k in link_list
        ],
        "pairs": pairs,
        "matrix": matrix,
        "peers": _peers(pairs, drivers),
        "notes": [n.as_dict() for n in notes],
        "summary": {
            "clients": len(drivers),
            "instances": len({(p["server"], p["instance"]) for p in pairs}),
            "pairs": len(pairs),
            "by_status": {s: sum(1 for p in pairs if p["status"] == s) for s in STATUSES},
            "by_scenario": {str(n): sum(1 for p in failing if p["scenario"] == n) for n in (1, 2, 5)},
            "failing_cells": sum(1 for c in matrix["cells"] if c["status"] in FAILING),
        },
    }
