"""The two ends of a fleet pair, from each host's facts: a client driver's offer, an instance's acceptance.

A Windows client offers what Schannel on its host allows (reference/windows-schannel.md
2, 4, 5): the TLS versions that are effective on the *client* side and that its driver can
use, and the host's effective cipher-suite list (Policy > Local > the OS default list of
section 5; the facts already resolved that order), nothing from a fixed "common clients"
table. What the driver can use (reference/sqlserver-tls.md 8): TLS 1.0 to TLS 1.2 for a
driver with TLS 1.2 support, TLS 1.0 and TLS 1.1 without it (the legacy protocols the audit
and the gate use, SSL 3.0 not counted); TLS 1.3 never, SQLCheck marks it "No" for every
driver and it needs TDS 8.0 strict. ADO.NET (.NET Framework SqlClient) has TLS 1.2 from
4.6, on 4.5.x with SchUseStrongCrypto=1 (sqlserver-tls.md 8, windows-schannel.md 7), the
rule of plan/gate.py.

A SQL Server instance accepts the TLS versions its build speaks (KB3135244, facts
``protocols``) that are effective on the *server* side, with the host's effective suite
list, for the key type of the certificate it serves (assess/view.py). Each end carries the
host's DH leading-zero status (windows-schannel.md 6, facts ``os.dhe_leading_zero_fix``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..facts.sql import LEGACY_PROTOCOLS
from ..facts.suite_defaults import default_suites
from ..plan.gate import DOTNET_45_RELEASE, DOTNET_46_RELEASE, DRIVER_UPGRADES
from . import view

DOTNET = ".NET Framework"
TLS12_DRIVER = frozenset({"TLS 1.0", "TLS 1.1", "TLS 1.2"})
LEGACY_DRIVER = frozenset(view.tls_only(set(LEGACY_PROTOCOLS)))
UPGRADES = {
    **DRIVER_UPGRADES,
    DOTNET: ".NET Framework 4.8 (or SchUseStrongCrypto=1 on .NET Framework 4.5.x)",
}


@dataclass(frozen=True)
class ClientDriver:
    """One driver family on a client host and what it offers on the wire."""

    host: str
    family: str  # SNAC11, ODBC13+, MDAC, MSOLEDBSQL, .NET Framework, or the driver name
    names: tuple[str, ...]
    versions: tuple[str, ...]
    tls12: bool | None  # the driver can use TLS 1.2 (None: unknown version or driver)
    protocols: frozenset[str]  # what it can use AND the client side of Schannel allows
    schannel_client: frozenset[str]  # the TLS versions effective on the client side
    suites: tuple[str, ...]  # the host's effective suite list, in its order
    suite_source: str  # policy | local | os_default
    dh_fixed: bool | None
    os_version: str | None

    @property
    def speaks(self) -> frozenset[str]:
        return TLS12_DRIVER if self.tls12 else LEGACY_DRIVER

    @property
    def name(self) -> str:
        """One driver name the gate can look the family up with (facts/drivers.family)."""
        return self.names[0] if self.names else self.family

    @property
    def clears_with(self) -> str:
        return UPGRADES.get(self.family, "a driver version with TLS 1.2")


@dataclass(frozen=True)
class ServerEnd:
    """One SQL Server instance and what it accepts."""

    host: str
    instance: str
    instance_id: str
    version: str | None
    tls12: bool | None  # the build has TLS 1.2 (KB3135244); None: build unknown
    first_tls12_build: str | None
    protocols: frozenset[str]  # what the engine speaks AND the server side of Schannel allows
    speaks: frozenset[str]
    schannel_server: frozenset[str]
    suites: tuple[str, ...]
    suite_source: str
    key_type: str
    dh_fixed: bool | None
    os_version: str | None
    clients_seen: tuple[Mapping[str, Any], ...]  # ERRORLOG 17830 [CLIENT: ...] counts

    @property
    def label(self) -> str:
        return f"{self.host}/{self.instance}"

    @property
    def clears_with(self) -> str:
        if self.first_tls12_build:
            return f"SQL Server {self.first_tls12_build} or later (KB3135244)"
        return "a SQL Server service pack or release with TLS 1.2 (KB3135244)"


def _suites(facts: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    suites = facts.get("cipher_suites") or {}
    if isinstance(suites.get("effective"), list):
        return tuple(suites["effective"]), str(suites.get("source") or "os_default")
    # No list was read: the OS default list of this release (windows-schannel.md 5).
    os_facts = facts.get("os") or {}
    version = os_facts.get("version_tuple")
    _label, defaults = default_suites(
        tuple(version) if version else None, bool(os_facts.get("is_server", True))
    )
    return defaults, "os_default"


def _dh_fixed(facts: Mapping[str, Any]) -> bool | None:
    return ((facts.get("os") or {}).get("dhe_leading_zero_fix") or {}).get("fixed")


_DOTNET_VERSION = re.compile(r"^(\d+)\.(\d+)")


def _dotnet_tls12(dotnet: Mapping[str, Any]) -> bool | None:
    release, version = dotnet.get("v4_release"), dotnet.get("v4_version")
    strong = ((dotnet.get("keys") or {}).get("v4") or {}).get("SchUseStrongCrypto") == 1
    if isinstance(release, int):
        return release >= DOTNET_46_RELEASE or (release >= DOTNET_45_RELEASE and strong)
    match = _DOTNET_VERSION.match(str(version or ""))
    if not match:
        return None
    major_minor = (int(match[1]), int(match[2]))
    return major_minor >= (4, 6) or (major_minor >= (4, 5) and strong)


def _families(facts: Mapping[str, Any]) -> dict[tuple[str, bool | None], list[Mapping[str, Any]]]:
    """Installed drivers grouped per family and verdict, as the audit and the gate group them."""
    groups: dict[tuple[str, bool | None], list[Mapping[str, Any]]] = {}
    for driver in facts.get("drivers") or []:
        if not driver.get("exists", True):
            continue
        verdict = driver.get("tls12") or {}
        family = verdict.get("family") or driver["name"]
        groups.setdefault((family, verdict.get("supported")), []).append(driver)
    dotnet = facts.get("dotnet") or {}
    if dotnet.get("v4_version") or dotnet.get("v4_release") is not None:
        entry = {"name": "SqlClient", "product_version": dotnet.get("v4_version"), "bitness": None}
        groups[(DOTNET, _dotnet_tls12(dotnet))] = [entry]
    return groups


def _wanted(family: str, entries: list[Mapping[str, Any]], wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    return family.casefold() in wanted or any(str(e["name"]).casefold() in wanted for e in entries)


def client_drivers(
    host: str, facts: Mapping[str, Any], in_use: Iterable[str] | None = None
) -> list[ClientDriver]:
    """Every driver family of the client host (or those ``in_use``: families or driver names)."""
    schannel_client = frozenset(view.tls_only(view.effective_protocols(facts, "client")))
    suites, source = _suites(facts)
    os_version = (facts.get("os") or {}).get("version")
    wanted = None if in_use is None else {str(w).casefold() for w in in_use}
    drivers = []
    for (family, supported), entries in sorted(_families(facts).items(), key=str):
        if not _wanted(family, entries, wanted):
            continue
        speaks = TLS12_DRIVER if supported else LEGACY_DRIVER
        drivers.append(
            ClientDriver(
                host=host,
                family=family,
                names=tuple(sorted({str(e["name"]) for e in entries})),
                versions=tuple(
                    sorted(
                        {
                            f"{e.get('product_version') or '?'}"
                            + (f" {e['bitness']}-bit" if e.get("bitness") else "")
                            for e in entries
                        }
                    )
                ),
                tls12=supported,
                protocols=speaks & schannel_client,
                schannel_client=schannel_client,
                suites=suites,
                suite_source=source,
                dh_fixed=_dh_fixed(facts),
                os_version=os_version,
            )
        )
    return drivers


def server_ends(host: str, facts: Mapping[str, Any]) -> list[ServerEnd]:
    """Every SQL Server instance of the host."""
    schannel_server = frozenset(view.tls_only(view.effective_protocols(facts, "server")))
    suites, source = _suites(facts)
    certs = view.certificates(facts)
    ends = []
    for instance in view.instances(facts):
        speaks = frozenset(view.tls_only(view.instance_protocols(instance)))
        verdict = instance.get("tls12") or {}
        evidence = (instance.get("errorlog") or {}).get("evidence") or {}
        ends.append(
            ServerEnd(
                host=host,
                instance=instance["name"],
                instance_id=instance["id"],
                version=instance.get("version"),
                tls12=verdict.get("supported"),
                first_tls12_build=verdict.get("first_tls12_build"),
                protocols=speaks & schannel_server,
                speaks=speaks,
                schannel_server=schannel_server,
                suites=suites,
                suite_source=source,
                key_type=view.key_type_in_use(instance, certs),
                dh_fixed=_dh_fixed(facts),
                os_version=(facts.get("os") or {}).get("version"),
                clients_seen=tuple(evidence.get("clients") or ()),
            )
        )
    return ends
