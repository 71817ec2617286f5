"""Enumerate accepted protocol versions and cipher suites with raw ClientHellos.

Per version: offer every candidate suite, record the one the server picks,
remove it and offer the rest again until the server refuses; that yields the
accepted suites in the server's preference order in about accepted + 1
connections (the method of nmap's ssl-enum-ciphers, reference/tds-tls-probing.md
section 9). One more connection with the accepted suites reversed tells
whether the server really applies its own order or follows the client's.

Works over any :class:`~.transport.Transport`: plain TLS, TDS 7.x wrapped or
TDS 8.0 strict. An alert, FIN, RST, timeout or unreadable answer after the
ClientHello all count as "rejected"; failures to reach the endpoint at all
(refused, PRELOGIN problems) propagate to the caller.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from .clienthello import HelloOptions, build_client_hello
from .errors import ConnectionEnded, MalformedResponse, ProbeError
from .serverhello import ServerFlight, parse_server_flight
from .suites import candidates_for, name_for_id
from .transport import Transport
from .versions import TlsVersion, wire_name

# Bigger than any real first flight (certificate chains included); stop reading beyond it.
MAX_FIRST_FLIGHT = 1 << 20
# How servers say "none of the remaining suites": anything else ends an enumeration abnormally.
_ORDINARY_REFUSALS = ("alert", "connection closed", "connection reset")


@dataclass(frozen=True)
class HelloOutcome:
    """The server's answer to one ClientHello."""

    accepted: bool
    version: int | None = None
    suite: int | None = None
    alpn: str | None = None
    hello_retry: bool = False
    certificates: tuple[bytes, ...] | None = None
    rejection: str | None = None  # "alert handshake_failure (40)", "connection closed", ...
    malformed: bool = False  # the answer broke the TLS format (reported as an error)


def send_hello(
    transport: Transport, options: HelloOptions, *, want_certificate: bool = False
) -> HelloOutcome:
    """Open a connection, send one ClientHello, read the first server records."""
    stream = transport.connect()
    data = bytearray()
    flight = ServerFlight()
    try:
        stream.sendall(build_client_hello(options))
        while True:
            flight = parse_server_flight(bytes(data))
            if flight.alert is not None and flight.hello is None:
                alert = flight.alert
                return HelloOutcome(False, rejection=f"alert {alert.name} ({alert.description})")
            if flight.hello is not None and (not want_certificate or flight.finished):
                return _accepted(flight)
            if len(data) > MAX_FIRST_FLIGHT:
                return HelloOutcome(False, rejection="first flight too large", malformed=True)
            chunk = stream.recv(65536)
            if not chunk:
                return _accepted(flight)
            data += chunk
    except ConnectionEnded as ended:
        return _accepted(flight, ended=ended.kind)
    except MalformedResponse as error:
        return HelloOutcome(False, rejection=f"malformed answer: {error}", malformed=True)
    finally:
        stream.close()


def _accepted(flight: ServerFlight, *, ended: str = "closed") -> HelloOutcome:
    """Accepted when a ServerHello arrived, whatever happened after it."""
    hello = flight.hello
    if hello is None:
        return HelloOutcome(False, rejection=f"connection {ended}")
    return HelloOutcome(
        True,
        version=hello.version,
        suite=hello.cipher_suite,
        alpn=hello.alpn,
        hello_retry=hello.is_hello_retry,
        certificates=flight.certificates,
    )


@dataclass(frozen=True)
class ProtocolResult:
    version: TlsVersion
    accepted: bool
    suites: tuple[int, ...]  # in the order the server picked them
    preference: str  # "server", "client", "unknown", or "n/a" with fewer than two suites
    handshakes: int
    rejection: str | None = None  # why the full offer was refused
    alpn: str | None = None
    certificates: tuple[bytes, ...] | None = None  # TLS <= 1.2 first flight, first accepted hello
    notes: tuple[str, ...] = ()  # protocol anomalies worth reporting as errors

    @property
    def suite_names(self) -> list[str]:
        return [name_for_id(s) for s in self.suites]


def enumerate_protocol(
    transport: Transport,
    version: TlsVersion,
    candidates: Sequence[int] | None = None,
    *,
    server_name: str | None = None,
    delay: float = 0.0,
) -> ProtocolResult:
    """Accepted suites of ``version`` in server order; ``candidates`` default to every known suite."""
    remaining = [s.id for s in candidates_for(version)] if candidates is None else list(candidates)
    chosen: list[int] = []
    notes: list[str] = []
    handshakes = 0
    first: HelloOutcome | None = None
    rejection: str | None = None

    def offer(suites: Sequence[int], want_certificate: bool = False) -> HelloOutcome:
        nonlocal handshakes
        if handshakes and delay:
            time.sleep(delay)
        handshakes += 1
        options = HelloOptions(version, tuple(suites), server_name=server_name, alpn=transport.alpn)
        return send_hello(transport, options, want_certificate=want_certificate)

    while remaining:
        try:
            outcome = offer(remaining, want_certificate=not chosen and version <= TlsVersion.TLS12)
        except ProbeError as error:
            if not chosen:
                raise  # could not reach the endpoint at all: the caller reports it
            notes.append(f"{version.label}: enumeration stopped early: {error}")
            break
        if outcome.malformed:
            notes.append(f"{version.label}: {outcome.rejection}")
        if not outcome.accepted or outcome.version != version:
            reason = outcome.rejection or f"server answered with {wire_name(outcome.version or 0)}"
            if not chosen:
                rejection = reason
            elif not reason.startswith(_ORDINARY_REFUSALS) and not outcome.malformed:
                notes.append(f"{version.label}: enumeration stopped early: {reason}")
            break
        if outcome.suite not in remaining:
            notes.append(
                f"{version.label}: server chose {name_for_id(outcome.suite or 0)}, which was not offered"
            )
            break
        first = first or outcome
        chosen.append(outcome.suite)
        remaining.remove(outcome.suite)

    preference = "n/a"
    if len(chosen) >= 2:
        try:
            check = offer(list(reversed(chosen)))
        except ProbeError as error:
            check = HelloOutcome(False, rejection=str(error))
        preference = {chosen[0]: "server", chosen[-1]: "client"}.get(check.suite, "unknown")
        if not check.accepted:
            preference = "unknown"
    return ProtocolResult(
        version=version,
        accepted=bool(chosen),
        suites=tuple(chosen),
        preference=preference,
        handshakes=handshakes,
        rejection=rejection,
        alpn=first.alpn if first else None,
        certificates=first.certificates if first else None,
        notes=tuple(notes),
    )


def enumerate_versions(
    transport: Transport,
    versions: Sequence[TlsVersion],
    *,
    server_name: str | None = None,
    delay: float = 0.0,
) -> dict[TlsVersion, ProtocolResult]:
    """:func:`enumerate_protocol` for each version, in the order given."""
    return {
        version: enumerate_protocol(transport, version, server_name=server_name, delay=delay)
        for version in versions
    }
