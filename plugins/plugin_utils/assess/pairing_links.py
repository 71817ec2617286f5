"""Which client host connects to which SQL Server instance, and where that was learnt.

Three sources, each recorded on the link:
- ``declared``: the client's inventory variable ``mssql_tls_connects_to``, entries
  ``host`` (every instance of that host) or ``host/INSTANCE`` (``host\\INSTANCE`` too);
- ``observed``: the ``[CLIENT: <address>]`` of the 17830 lines in an instance's ERRORLOG
  (reference/sqlserver-tls.md 14a, facts ``errorlog.evidence.clients``), matched to the
  client hosts by their inventory address (``ansible_host``, else the inventory name);
  ``<local machine>`` is the server host itself;
- ``assumed``: a client host with neither (and no ``mssql_tls_connects_to`` at all) is
  paired with every instance of every other SQL Server host of the play.
What cannot be matched (an address of no client host, a declaration naming no SQL Server
of the play) is returned as a note, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOCAL_MACHINE = "<local machine>"
SOURCES = ("declared", "observed", "assumed")


@dataclass(frozen=True)
class Member:
    """One inventory host as the pairing sees it."""

    name: str
    address: str | None = None
    facts: Mapping[str, Any] | None = None  # mssql_tls facts; None when not gathered
    client: bool = False  # in the client group
    connects_to: tuple[str, ...] | None = None  # mssql_tls_connects_to
    drivers_in_use: tuple[str, ...] | None = None  # mssql_tls_client_drivers

    @property
    def instances(self) -> list[str]:
        return [i["name"] for i in ((self.facts or {}).get("sql") or {}).get("instances") or []]


@dataclass(frozen=True)
class Link:
    client: str
    server: str
    instance: str
    sources: tuple[str, ...]
    # What the server's ERRORLOG says about this client: address, errors_17830, errors_17830_10054.
    seen: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Note:
    """Something the pairing could not use, by code: ``no_facts``, ``unknown_host``,
    ``not_a_sql_server``, ``unknown_instance``, ``address_not_in_inventory``,
    ``address_not_a_client``."""

    code: str
    host: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "host": self.host, "data": dict(self.data)}


class PairingError(ValueError):
    """Inventory variables the pairing cannot read; the message names the host and the variable."""


def _names(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise PairingError(f"{where}: expected a list of host names (host or host/INSTANCE), got {value!r}")
    return tuple(value)


def member(name: str, host_vars: Mapping[str, Any], facts: Mapping[str, Any] | None, client: bool) -> Member:
    """A Member from a host's inventory variables: ``ansible_host``, ``mssql_tls_connects_to``
    (declared servers) and ``mssql_tls_client_drivers`` (the driver families in use, default all)."""
    address = host_vars.get("ansible_host")
    if address is not None and not isinstance(address, str):
        raise PairingError(f"hostvars[{name}].ansible_host: expected a string, got {address!r}")
    return Member(
        name=name,
        address=address or name,
        facts=facts,
        client=client,
        connects_to=_names(host_vars.get("mssql_tls_connects_to"), f"hostvars[{name}].mssql_tls_connects_to"),
        drivers_in_use=_names(
            host_vars.get("mssql_tls_client_drivers"), f"hostvars[{name}].mssql_tls_client_drivers"
        ),
    )


def _by_name(members: list[Member]) -> dict[str, Member]:
    return {m.name.casefold(): m for m in members}


def _instance(member: Member, wanted: str) -> str | None:
    return next((name for name in member.instances if name.casefold() == wanted.casefold()), None)


def _declared(members: list[Member], found: dict, notes: list[Note]) -> None:
    by_name = _by_name(members)
    for client in members:
        if not client.client or client.facts is None:
            continue
        for entry in client.connects_to or ():
            host, sep, wanted = entry.replace("\\", "/").partition("/")
            server = by_name.get(host.casefold())
            data = {"entry": entry}
            if server is None:
                notes.append(Note("unknown_host", client.name, data))
            elif server.facts is None:
                notes.append(Note("no_facts", server.name, {**data, "client": client.name}))
            elif not server.instances:
                notes.append(Note("not_a_sql_server", client.name, data))
            elif sep and _instance(server, wanted) is None:
                notes.append(Note("unknown_instance", client.name, {**data, "instances": server.instances}))
            else:
                names = [_instance(server, wanted)] if sep else server.instances
                for name in names:
                    found.setdefault((client.name, server.name, name), {"sources": set(), "seen": []})
                    found[(client.name, server.name, name)]["sources"].add("declared")


def _observed(members: list[Member], found: dict, notes: list[Note]) -> None:
    by_address: dict[str, list[Member]] = {}
    for member in members:
        for key in dict.fromkeys((member.name, member.address or member.name)):
            by_address.setdefault(key.casefold(), []).append(member)
    for server in members:
        for instance in ((server.facts or {}).get("sql") or {}).get("instances") or []:
            evidence = (instance.get("errorlog") or {}).get("evidence") or {}
            for seen in evidence.get("clients") or []:
                address = str(seen.get("address") or "")
                local = address.casefold() == LOCAL_MACHINE
                matched = [server] if local else by_address.get(address.casefold(), [])
                clients = [m for m in matched if m.client and m.facts is not None]
                if not clients:
                    code = "address_not_a_client" if matched else "address_not_in_inventory"
                    hosts = sorted(m.name for m in matched)
                    notes.append(
                        Note(code, server.name, {"instance": instance["name"], **seen, "hosts": hosts})
                    )
                for client in clients:
                    entry = found.setdefault(
                        (client.name, server.name, instance["name"]), {"sources": set(), "seen": []}
                    )
                    entry["sources"].add("observed")
                    entry["seen"].append(dict(seen))


def _assumed(members: list[Member], found: dict) -> None:
    linked = {client for client, _server, _instance in found}
    servers = [m for m in members if m.facts is not None and m.instances]
    for client in members:
        if not client.client or client.facts is None or client.name in linked:
            continue
        if client.connects_to is not None:
            continue  # it said where it connects (even [] or only unknown hosts): no guessing
        for server in servers:
            if server.name == client.name:
                continue  # an application on the SQL Server host itself: declare it to pair it
            for name in server.instances:
                found[(client.name, server.name, name)] = {"sources": {"assumed"}, "seen": []}


def links(members: list[Member]) -> tuple[list[Link], list[Note]]:
    """Every (client host, SQL Server instance) link of the fleet, and what could not be used."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    notes = [Note("no_facts", m.name) for m in members if m.client and m.facts is None]
    _declared(members, found, notes)
    _observed(members, found, notes)
    _assumed(members, found)
    result = [
        Link(
            client,
            server,
            instance,
            tuple(s for s in SOURCES if s in entry["sources"]),
            tuple(sorted(entry["seen"], key=lambda s: str(s.get("address")))),
        )
        for (client, server, instance), entry in sorted(found.items())
    ]
    return result, sorted(notes, key=lambda n: (n.host, n.code, str(sorted(n.data.items()))))
