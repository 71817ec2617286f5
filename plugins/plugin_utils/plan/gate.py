"""The TLS 1.2 safety gate: never disable a protocol that something on either end still needs.

Pure functions over the facts (DESIGN.md "Remediation"). Server-side changes are blocked by
what accepts connections (SQL Server builds without TLS 1.2, KB3135244 with the branch-aware
rule of sqlserver-tls.md 7; and, when known, client hosts whose drivers speak nothing newer).
Client-side changes are blocked by what makes connections: installed drivers without TLS 1.2
(sqlserver-tls.md 8) and a .NET Framework that cannot use it (windows-schannel.md 7).
A protocol "in common" is a TLS version; SSL 3.0 does not count (assess/rules_protocols.py).

Each refusal keeps the refused protocol/side as it is and names the blocker with what clears
it. ``force`` turns refusals into forced blockers (recorded in the result). Two things are
never forced: leaving a side with no protocol at all, and facts too incomplete to check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..facts.drivers import family
from ..facts.schannel import PROTOCOLS, effective_state
from ..facts.sql import LEGACY_PROTOCOLS
from .model import Blocker, PlanWarning

States = Mapping[str, Mapping[str, str]]  # protocol -> side -> enabled | disabled | keep
TLS_VERSIONS = frozenset({"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"})
OLD_PROTOCOLS = ("SSL 3.0", "TLS 1.0", "TLS 1.1")
# .NET Framework 4.x Release values (NDP\v4\Full Release): 4.5 = 378389, 4.6 = 393295.
# "ADO.NET support for TLS 1.2 is available only in the .NET Framework 4.6" (sqlserver-tls.md 8);
# 4.5.x can use it with SchUseStrongCrypto=1 (windows-schannel.md 7) (inference: the rollups).
DOTNET_45_RELEASE = 378389
DOTNET_46_RELEASE = 393295
# What clears a driver family without TLS 1.2 (sqlserver-tls.md 8, KB3135244 downloads).
DRIVER_UPGRADES = {
    "SNAC9": "replace SQL Native Client 9 with ODBC Driver 18 or MSOLEDBSQL (no TLS 1.2 version exists)",
    "SNAC10": "SQL Server 2008/2008 R2 Native Client 10.0 build 10.0.6543 / 10.50.6537 or later (KB3135244)",
    "SNAC11": "SQL Server 2012 Native Client QFE 11.0.6538 or later (KB3135244, download 50402)",
    "ODBC11": "ODBC Driver 11 for SQL Server 12.0.4219 or later (KB3135244)",
    "MDAC": "a Windows build whose built-in SQL Server ODBC driver/SQLOLEDB has TLS 1.2 "
    "(1809 > 10.0.17763.1553, 2022 and later), or move the applications to ODBC Driver 18 / MSOLEDBSQL",
}


@dataclass(frozen=True)
class Peer:
    """A client host known to connect to this server (fleet pairing), and what it can speak.

    ``protocols``: what the driver can use and the client side of that host's Schannel
    allows. ``family`` (facts/drivers.family, else derived from ``driver``) and
    ``clears_with`` (what gives the driver TLS 1.2) come from the pairing when it knows them.
    """

    host: str
    driver: str
    protocols: frozenset[str]
    source: str = "declared"
    family: str | None = None
    clears_with: str | None = None

    @property
    def driver_family(self) -> str | None:
        return self.family or family(self.driver)


Peers = Sequence[Peer]
PEER_SOURCES = ("declared", "observed", "assumed")


class PeerError(ValueError):
    """A ``peers`` argument that does not describe client hosts; the message names the field."""


def parse_peers(items: Any) -> list[Peer]:
    """Peers from plain data (module arguments, the pairing step's output), checked field by field."""
    if items is None:
        return []
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise PeerError(
            f"peers: expected a list of {{host, driver, protocols, source}}, got {type(items).__name__}"
        )
    peers = []
    for index, item in enumerate(items):
        where = f"peers[{index}]"
        if not isinstance(item, Mapping):
            raise PeerError(f"{where}: expected a mapping with host, driver, protocols, got {item!r}")
        unknown = set(item) - {"host", "driver", "protocols", "source", "family", "clears_with"}
        if unknown:
            raise PeerError(f"{where}: unknown field(s) {sorted(unknown)}")
        for name in ("host", "driver"):
            if not isinstance(item.get(name), str) or not item[name]:
                raise PeerError(f"{where}.{name}: expected a non-empty string, got {item.get(name)!r}")
        protocols = item.get("protocols")
        if not isinstance(protocols, Sequence) or isinstance(protocols, str | bytes):
            raise PeerError(f"{where}.protocols: expected a list of protocol names, got {protocols!r}")
        for p_index, protocol in enumerate(protocols):
            if protocol not in PROTOCOLS:
                raise PeerError(
                    f"{where}.protocols[{p_index}]: expected one of {list(PROTOCOLS)}, got {protocol!r}"
                )
        source = item.get("source", "declared")
        if source not in PEER_SOURCES:
            raise PeerError(f"{where}.source: expected one of {list(PEER_SOURCES)}, got {source!r}")
        for name in ("family", "clears_with"):
            if item.get(name) is not None and not isinstance(item[name], str):
                raise PeerError(f"{where}.{name}: expected a string, got {item[name]!r}")
        peers.append(
            Peer(
                host=item["host"],
                driver=item["driver"],
                protocols=frozenset(protocols),
                source=source,
                family=item.get("family"),
                clears_with=item.get("clears_with"),
            )
        )
    return peers


def _side_after(fact: Mapping[str, Any], state: str) -> bool:
    default = fact["os_default"]
    registry = fact.get("registry") or {}
    if state == "keep":
        return bool(fact["enabled"])
    if state == "disabled":
        return False
    enabled = registry.get("Enabled")
    return effective_state(default, enabled if enabled not in (None, 0) else 1, 0)


def protocols_after(facts: Mapping[str, Any], states: States) -> dict[str, set[str]]:
    """The effective protocols per side once the desired states are written (and the host rebooted)."""
    protocols = facts["schannel"]["protocols"]
    return {
        side: {p for p in PROTOCOLS if _side_after(protocols[side][p], states[p][side])}
        for side in ("server", "client")
    }


def _tls(protocols: set[str] | frozenset[str]) -> set[str]:
    return set(protocols) & TLS_VERSIONS


def _refuse(states: dict[str, dict[str, str]], side: str, protocols: set[str]) -> None:
    for protocol in protocols:
        if states[protocol][side] == "disabled":
            states[protocol][side] = "keep"


def _instance_blockers(facts: Mapping[str, Any], before: set[str], after: set[str]) -> list[Blocker]:
    blockers = []
    for instance in facts["sql"]["instances"]:
        verdict = instance["tls12"]
        speaks = set(instance["protocols"])
        if verdict["supported"] is True:
            continue
        data = {
            "instance": instance["name"],
            "version": instance["version"],
            "branch": verdict.get("branch"),
            "first_tls12_build": verdict.get("first_tls12_build"),
            "reason": verdict.get("reason"),
        }
        code = "sql_build_unknown" if verdict["supported"] is None else "sql_build_without_tls12"
        clears = (
            f"SQL Server {verdict['first_tls12_build']} or later (KB3135244)"
            if verdict.get("first_tls12_build")
            else "a SQL Server service pack or release with TLS 1.2 (KB3135244)"
        )
        if verdict["supported"] is None:
            speaks = set(LEGACY_PROTOCOLS)  # unknown build: assume it needs the old protocols
            clears = "a readable SQL Server build (sqlservr.exe ProductVersion) to check against KB3135244"
        had, keeps = _tls(speaks) & _tls(before), _tls(speaks) & _tls(after)
        if had and not keeps:
            blockers.append(Blocker(code, f"server:{instance['name']}", data, clears))
        elif not had and verdict["supported"] is False:
            blockers.append(Blocker(code, f"server:{instance['name']}", data, clears, unfixable=True))
    return blockers


def _peer_blockers(
    peers: Peers, before: set[str], after: set[str], builtin_driver_blocks: bool
) -> tuple[list[Blocker], list[PlanWarning]]:
    blockers: list[Blocker] = []
    warnings: list[PlanWarning] = []
    for peer in peers:
        had, keeps = _tls(peer.protocols) & _tls(before), _tls(peer.protocols) & _tls(after)
        if had and not keeps:
            data = {
                "client": peer.host,
                "driver": peer.driver,
                "protocols": sorted(peer.protocols),
                "source": peer.source,
            }
            clears = peer.clears_with or DRIVER_UPGRADES.get(
                peer.driver_family or "", "a driver with TLS 1.2"
            )
            if peer.driver_family == "MDAC" and not builtin_driver_blocks:
                # As on the client side: nothing shows whether an application uses the built-in driver.
                warnings.append(
                    PlanWarning(
                        "builtin_driver_peer_without_tls12",
                        f"server:{peer.host}",
                        {**data, "clears_with": clears},
                    )
                )
                continue
            blockers.append(Blocker("client_host_without_tls12", f"server:{peer.host}", data, clears))
    return blockers, warnings


def _driver_groups(
    drivers: Sequence[Mapping[str, Any]],
) -> dict[tuple[str, bool | None], list[Mapping[str, Any]]]:
    """One blocker per driver family and verdict, as the audit groups them: the ODBC driver and
    the OLE DB provider of one DLL, or the two MDAC components of Windows, are one thing to fix."""
    groups: dict[tuple[str, bool | None], list[Mapping[str, Any]]] = {}
    for driver in drivers:
        verdict = driver["tls12"]
        if verdict["supported"] is True or not driver.get("exists", True):
            continue
        key = (verdict.get("family") or driver["name"], verdict["supported"])
        groups.setdefault(key, []).append(driver)
    return groups


def _driver_blockers(
    facts: Mapping[str, Any], before: set[str], after: set[str], builtin_driver_blocks: bool
) -> tuple[list[Blocker], list[PlanWarning]]:
    blockers: list[Blocker] = []
    warnings: list[PlanWarning] = []
    old = set(TLS_VERSIONS) - {"TLS 1.2", "TLS 1.3"}
    if _tls(after) & old:
        return blockers, warnings  # the client side keeps an old protocol: nobody is cut off
    loses_old = bool(_tls(before) & old)
    for (fam, supported), drivers in sorted(_driver_groups(facts["drivers"]).items(), key=str):
        data = {
            "driver": ", ".join(sorted({d["name"] for d in drivers})),
            "versions": ", ".join(
                sorted({f"{d.get('product_version') or '?'} {d.get('bitness')}-bit" for d in drivers})
            ),
            "family": fam,
            "reason": drivers[0]["tls12"].get("reason"),
        }
        code = "driver_tls12_unknown" if supported is None else "driver_without_tls12"
        target = f"client:{fam}"
        clears = DRIVER_UPGRADES.get(fam, "a driver version with TLS 1.2")
        if fam == "MDAC" and not builtin_driver_blocks:
            warnings.append(
                PlanWarning("builtin_driver_without_tls12", target, {**data, "clears_with": clears})
            )
            continue
        blockers.append(Blocker(code, target, data, clears, unfixable=not loses_old))
    return blockers, warnings


def _dotnet_blockers(facts: Mapping[str, Any], strong_crypto_after: bool) -> list[Blocker]:
    dotnet = facts["dotnet"]
    release = dotnet.get("v4_release")
    if not dotnet.get("v4_version") and release is None:
        return []  # no .NET Framework 4 on the host: no .NET 4 client to lock out
    data = {"version": dotnet.get("v4_version"), "release": release}
    if release is not None and release < DOTNET_45_RELEASE:
        return [Blocker("dotnet_without_tls12", "client:.NET Framework", data, ".NET Framework 4.8")]
    if release is not None and release < DOTNET_46_RELEASE and not strong_crypto_after:
        return [
            Blocker(
                "dotnet_without_tls12",
                "client:.NET Framework",
                data,
                "SchUseStrongCrypto=1 (dotnet_strong_crypto: true) or .NET Framework 4.8",
            )
        ]
    return []


def _strong_crypto_after(facts: Mapping[str, Any], will_set: bool) -> bool:
    v4 = facts["dotnet"]["keys"].get("v4") or {}
    return (will_set and bool(v4.get("exists"))) or v4.get("SchUseStrongCrypto") == 1


def _empty_side_blockers(after: Mapping[str, set[str]]) -> list[Blocker]:
    return [
        Blocker(
            "no_protocol_left",
            f"{side}:Schannel",
            {"side": side},
            "keep at least TLS 1.2 enabled",
            forceable=False,
        )
        for side in ("server", "client")
        if not _tls(after[side])
    ]


def _tls12_blockers(facts: Mapping[str, Any], states: States) -> list[Blocker]:
    # "TLS 1.2 is still required for starting up SQL Server satellite services. Do not disable
    # TLS 1.2 on the machine" (sqlserver-tls.md 9).
    if facts["sql"]["instances"] and any(states["TLS 1.2"][s] == "disabled" for s in ("server", "client")):
        return [
            Blocker("tls12_required_by_sql", "server:TLS 1.2", {}, "keep TLS 1.2 enabled on SQL Server hosts")
        ]
    return []


def state_unknown(what: str) -> Blocker:
    return Blocker(
        "registry_not_read",
        what,
        {"path": what},
        "gather the facts again (mssql.tls.tls_facts)",
        forceable=False,
    )


def check_protocols(
    facts: Mapping[str, Any],
    desired: States,
    *,
    force: bool = False,
    builtin_driver_blocks: bool = True,
    dotnet_strong_crypto: bool = True,
    peers: Peers | None = None,
) -> tuple[dict[str, dict[str, str]], list[Blocker], list[PlanWarning]]:
    """(states the gate lets through, blockers, warnings) for the desired protocol states."""
    states = {p: dict(sides) for p, sides in desired.items()}
    before = {side: set(facts["schannel"]["effective"][side]) for side in ("server", "client")}
    blockers = _tls12_blockers(facts, states)
    if blockers and not force:
        for side in ("server", "client"):
            if states["TLS 1.2"][side] == "disabled":
                states["TLS 1.2"][side] = "keep"
    after = protocols_after(facts, states)

    server = _instance_blockers(facts, before["server"], after["server"])
    peer_blockers, peer_warnings = _peer_blockers(
        peers or (), before["server"], after["server"], builtin_driver_blocks
    )
    server += peer_blockers
    client, warnings = _driver_blockers(facts, before["client"], after["client"], builtin_driver_blocks)
    warnings = peer_warnings + warnings
    client += _dotnet_blockers(facts, _strong_crypto_after(facts, dotnet_strong_crypto))
    for side, found in (("server", server), ("client", client)):
        refusals = [b for b in found if not b.unfixable]
        if refusals and not force:
            _refuse(states, side, set(OLD_PROTOCOLS))
    blockers += server + client
    after = protocols_after(facts, states)
    empty = _empty_side_blockers(after)
    for blocker in empty:
        side = blocker.data["side"]
        for protocol in PROTOCOLS:
            if states[protocol][side] == "disabled":
                states[protocol][side] = "keep"
    if force:
        blockers = [
            Blocker(
                b.code,
                b.target,
                b.data,
                b.clears_with,
                b.forceable,
                forced=b.forceable and not b.unfixable,
                unfixable=b.unfixable,
            )
            for b in blockers
        ]
    return states, blockers + empty, warnings
