"""The three ways to reach TLS on a SQL Server port, behind one ``Transport``.

- ``tls``: TLS straight on the TCP stream (any TLS server; openssl s_server).
- ``tds``: TDS 7.x: cleartext PRELOGIN, then TLS records inside 0x12 packets.
- ``strict``: TDS 8.0: TLS first, ALPN ``tds/8.0`` (reference/tds-tls-probing.md sections 1, 6).

A Transport opens a fresh connection per probe and hands back a stream that
carries raw TLS bytes, so the enumerator and the handshake code are the same
for all three. Every receive has a timeout and every exchange a deadline;
FIN, RST and silence become :class:`ConnectionEnded`.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConnectionEnded, EncryptionNotSupported, PreloginError, ProbeInputError
from .framing import (
    HANDSHAKE_REPLY_TYPES,
    PACKET_PRELOGIN,
    PacketReader,
    Stream,
    TdsTlsStream,
    encode_message,
)
from .prelogin import Encryption, PreloginReply, build_prelogin, parse_prelogin

MODES = ("tds", "strict", "tls")
DEFAULT_PORT = 1433
TDS8_ALPN = "tds/8.0"
# A PRELOGIN reply is a few dozen bytes; anything this large is not one.
MAX_PRELOGIN_REPLY = 65536


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_target(target: str | Endpoint | tuple[str, int]) -> Endpoint:
    """``host``, ``host:port``, ``[v6]:port`` or ``(host, port)``; the port defaults to 1433."""
    if isinstance(target, Endpoint):
        return target
    if isinstance(target, tuple):
        host, port = target
    elif isinstance(target, str) and target.startswith("["):
        host, _bracket, rest = target[1:].partition("]")
        port = rest.removeprefix(":") or DEFAULT_PORT
    elif isinstance(target, str) and target.count(":") == 1:
        host, port = target.split(":")
    elif isinstance(target, str) and ":" in target:
        host, port = _bare_ipv6(target), DEFAULT_PORT
    elif isinstance(target, str):
        host, port = target, DEFAULT_PORT
    else:
        raise ProbeInputError("target", "'host[:port]' or (host, port)", target)
    try:
        port_number = int(port)
    except (TypeError, ValueError):
        raise ProbeInputError("target port", "an integer 1..65535", port) from None
    if not host or not 1 <= port_number <= 65535:
        raise ProbeInputError("target", "a host name and a port 1..65535", target)
    return Endpoint(host, port_number)


def _bare_ipv6(text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ProbeInputError("target", "'host:port', '[ipv6]:port' or a bare IPv6 address", text) from None


class SocketStream:
    """A TCP socket with a per-receive timeout and an overall deadline."""

    def __init__(self, sock: socket.socket, *, timeout: float, deadline: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._deadline = deadline

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ConnectionEnded("timeout", "exchange deadline passed")
        self._sock.settimeout(min(self._timeout, left))

    def sendall(self, data: bytes) -> None:
        self._arm()
        try:
            self._sock.sendall(data)
        except OSError as error:
            raise _ended(error) from None

    def recv(self, bufsize: int) -> bytes:
        self._arm()
        try:
            return self._sock.recv(bufsize)
        except OSError as error:
            raise _ended(error) from None

    def close(self) -> None:
        self._sock.close()


def _ended(error: OSError) -> ConnectionEnded:
    if isinstance(error, TimeoutError | socket.timeout):
        return ConnectionEnded("timeout", "no data within the receive timeout")
    if isinstance(error, ConnectionRefusedError):
        return ConnectionEnded("refused", str(error))
    if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ConnectionEnded("reset", str(error))
    return ConnectionEnded("unreachable", str(error))


def open_tcp(endpoint: Endpoint, *, timeout: float, deadline: float) -> SocketStream:
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as error:
        raise _ended(error) from None
    return SocketStream(sock, timeout=timeout, deadline=deadline)


def exchange_prelogin(stream: Stream, encryption: int = Encryption.OFF) -> PreloginReply:
    """Send a PRELOGIN message and read the reply, packet by packet.

    The reply is parsed after every packet, so a server that never sets EOM
    (SQL Server 2000 unpatched, section 5.2) is still understood.
    """
    stream.sendall(encode_message(PACKET_PRELOGIN, build_prelogin(encryption)))
    reader = PacketReader(stream, HANDSHAKE_REPLY_TYPES)
    payload = b""
    while True:
        packet = reader.next_packet()
        if packet is None:
            if payload:
                return parse_prelogin(payload)  # raises PreloginError for the cut-off reply
            raise ConnectionEnded("closed", "before the PRELOGIN reply")
        payload += packet.payload
        if len(payload) > MAX_PRELOGIN_REPLY:
            raise PreloginError("PRELOGIN reply", f"longer than {MAX_PRELOGIN_REPLY} bytes")
        if packet.end_of_message:
            return parse_prelogin(payload)
        try:
            return parse_prelogin(payload)
        except PreloginError:
            continue


@dataclass(frozen=True)
class Transport:
    """How to get a fresh stream that carries TLS bytes to one endpoint."""

    mode: str
    endpoint: Endpoint
    connect: Callable[[], Stream]
    alpn: tuple[str, ...]
    tls13_applicable: bool


def make_transport(
    endpoint: Endpoint, mode: str, *, timeout: float = 5.0, exchange_timeout: float = 15.0
) -> Transport:
    """A Transport for ``mode`` (``tds``, ``strict`` or ``tls``).

    ``timeout`` bounds every receive, ``exchange_timeout`` one whole
    connection (connect, PRELOGIN, first server flight).
    """
    if mode not in MODES:
        raise ProbeInputError("mode", f"one of {MODES}", mode)
    for name, seconds in (("timeout", timeout), ("exchange_timeout", exchange_timeout)):
        if not seconds > 0:  # NaN fails too
            raise ProbeInputError(name, "positive seconds", seconds)

    def connect_plain() -> Stream:
        return open_tcp(endpoint, timeout=timeout, deadline=time.monotonic() + exchange_timeout)

    def connect_tds7() -> Stream:
        stream = connect_plain()
        try:
            reply = exchange_prelogin(stream)
            if reply.encryption == Encryption.NOT_SUP:
                raise EncryptionNotSupported("server answered ENCRYPT_NOT_SUP: no TLS on TDS 7.x")
        except BaseException:
            stream.close()
            raise
        return TdsTlsStream(stream)

    if mode == "tds":
        # TLS 1.3 is not used inside TDS 7.x packets (section 5.4).
        return Transport(mode, endpoint, connect_tds7, (), tls13_applicable=False)
    if mode == "strict":
        return Transport(mode, endpoint, connect_plain, (TDS8_ALPN,), tls13_applicable=True)
    return Transport(mode, endpoint, connect_plain, (), tls13_applicable=True)
