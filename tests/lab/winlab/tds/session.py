"""One client connection to a lab SQL Server instance, from first byte to close.

Entry paths (reference/tds-tls-probing.md §1, §6; MS-TDS 3.3.5.1):
- first byte 0x16: TDS 8.0 strict. Only SQL Server 2022+ with a configured certificate serves
  it; otherwise the connection is closed (error 17821). TLS runs directly on the socket, then
  PRELOGIN and LOGIN7 travel inside TLS.
- anything else: a cleartext PRELOGIN with VERSION first (else close). ForceStrict closes it
  (error 17819). The reply carries the ENCRYPTION of the MS-TDS table (§4); the TLS handshake
  then travels in 0x12 packets (§5.1) and, once it is done, TLS records go on the socket bare
  (§5.3). TLS 1.3 is never negotiated on this path (§5.4).
No common protocol or suite ends the connection with a TCP reset, which the client reports as
ECONNRESET / WSAECONNRESET 10054 (the article's "forcibly closed by the remote host").
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

from . import login, packets, prelogin
from .handbuilt import first_flight, tls13_server_hello
from .openssl_server import ServerMaterial, openssl_can_serve
from .protocols import TLS13, version_label
from .schannel import Negotiated, Refused, negotiate
from .state import EndpointState
from .tls_records import ClientHello, ClientHelloAssembler, MalformedHello

log = logging.getLogger("winlab.tds")

TLS_RECORD_HANDSHAKE = 0x16
IO_TIMEOUT_S = 15.0
RECV_SIZE = 65536


@dataclass(frozen=True)
class Outcome:
    """How a connection ended, kept by the listener for tests and operators."""

    path: str  # "tds7" or "strict"
    # "reset", "closed", "login_failed" or "first_flight" (hand-built flight, then closed)
    result: str
    reason: str = ""
    version: str | None = None
    suite: str | None = None
    alpn: str | None = None


class ResetConnection(Exception):
    """End the connection with a TCP reset, as Schannel's failure does on Windows."""


class _CloseConnection(Exception):
    """End the connection with a normal close (FIN)."""


def reset_socket(sock: socket.socket) -> None:
    # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


class _WrappedTransport:
    """TLS handshake bytes carried in TDS 0x12 packets (TDS 7.x, §5.1)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def recv(self) -> bytes:
        # One packet at a time, whatever its type and EOM bit (§5.2: never wait for EOM).
        return packets.read_packet(self._sock).payload

    def send(self, data: bytes) -> None:
        self._sock.sendall(packets.encode_message(packets.TYPE_PRELOGIN, data))


class _RawTransport:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def recv(self) -> bytes:
        data = self._sock.recv(RECV_SIZE)
        if not data:
            raise packets.PeerClosed("connection closed")
        return data

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)


class _TlsChannel:
    """A finished TLS session over the bare socket: TDS messages in and out."""

    def __init__(
        self, sock: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
    ) -> None:
        self._sock, self._tls, self._in, self._out = sock, tls, incoming, outgoing
        self._plain = bytearray()
        self._messages: list[tuple[int, bytes]] = []

    def read_message(self) -> tuple[int, bytes]:
        while not self._messages:
            try:
                self._plain += self._tls.read(RECV_SIZE)
            except ssl.SSLWantReadError:
                data = self._sock.recv(RECV_SIZE)
                if not data:
                    raise packets.PeerClosed("connection closed") from None
                self._in.write(data)
                continue
            except ssl.SSLZeroReturnError:
                raise packets.PeerClosed("TLS close_notify") from None
            self._messages += packets.split_messages(self._plain)
        return self._messages.pop(0)

    def send_message(self, packet_type: int, payload: bytes) -> None:
        self._tls.write(packets.encode_message(packet_type, payload))
        self._sock.sendall(self._out.read())


class _ConnectionHandler:
    def __init__(
        self, sock: socket.socket, state: EndpointState, material: ServerMaterial, server_name: str
    ) -> None:
        self.sock = sock
        self.state = state
        self.material = material
        self.server_name = server_name
        self.decision: Negotiated | None = None

    # ---- TLS, shared by both paths -------------------------------------------------

    @staticmethod
    def _read_client_hello(transport: _WrappedTransport | _RawTransport) -> tuple[ClientHello, bytes]:
        """The ClientHello and every byte it came in (OpenSSL must see them unchanged)."""
        assembler = ClientHelloAssembler()
        hello = None
        while hello is None:
            hello = assembler.feed(transport.recv())
        return hello, bytes(assembler.raw)

    def _handshake(self, transport: _WrappedTransport | _RawTransport, strict: bool) -> _TlsChannel | None:
        """Run the TLS handshake; None when a hand-built flight was sent instead."""
        assert self.state.certificate is not None
        hello, raw_hello = self._read_client_hello(transport)
        decision = negotiate(hello, self.state, strict)
        if isinstance(decision, Refused):
            raise ResetConnection(decision.reason)
        self.decision = decision
        if not openssl_can_serve(decision, hello):
            if decision.version == TLS13:
                transport.send(tls13_server_hello(decision, hello))
            else:
                transport.send(first_flight(decision, hello, self.state.certificate.der))
            return None
        context = self.material.context_for(decision, self.state.certificate)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(raw_hello)
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as exc:
                # OpenSSL refused what the decision allowed: send its alert and close, and say
                # so loudly, because the lab and Windows now disagree.
                log.warning("OpenSSL failed a handshake the Schannel emulation accepted: %s", exc)
                flight = outgoing.read()
                if flight:
                    transport.send(flight)
                raise _CloseConnection(f"OpenSSL: {exc.reason or exc}") from exc
            flight = outgoing.read()
            if flight:
                transport.send(flight)
            if done:
                chosen = tls.cipher()
                if chosen is None or chosen[0] != decision.suite.openssl_name:
                    # Guard for the TLS 1.3 order assumption in openssl_server.py.
                    raise _CloseConnection(f"OpenSSL chose {chosen}, Schannel {decision.suite.windows_name}")
                return _TlsChannel(self.sock, tls, incoming, outgoing)
            incoming.write(transport.recv())

    def _answer_login(self, channel: _TlsChannel | None, login_only: bool) -> None:
        """Answer LOGIN7 with error 18456; other messages just end the connection."""
        if channel is None:
            message_type, payload = packets.read_message(self.sock)
        else:
            message_type, payload = channel.read_message()
        if message_type != packets.TYPE_LOGIN7:
            raise _CloseConnection(f"expected LOGIN7, got packet type 0x{message_type:02x}")
        reply = login.build_login_failed_reply(login.login_user_name(payload), self.server_name)
        if channel is None or login_only:
            # Login-only encryption: "All other TDS packets ... MUST be in plaintext" (§5.3).
            self.sock.sendall(packets.encode_message(packets.TYPE_REPLY, reply))
        else:
            channel.send_message(packets.TYPE_REPLY, reply)

    # ---- entry paths -----------------------------------------------------------------

    def serve_strict(self) -> str:
        state = self.state
        if not state.supports_strict:
            raise _CloseConnection(f"SQL Server {state.product_version[0]} has no TDS 8.0")
        if state.certificate is None or not state.certificate.configured:
            raise _CloseConnection("error 17821: no configured certificate for strict connections")
        channel = self._handshake(_RawTransport(self.sock), strict=True)
        if channel is None:
            return "first_flight"
        message_type, _payload = channel.read_message()
        if message_type == packets.TYPE_PRELOGIN:
            # The ENCRYPTION byte means nothing inside TDS 8.0 (MS-TDS 2.2.6.5, reference §4);
            # the lab answers ON, the session being encrypted.
            channel.send_message(
                packets.TYPE_REPLY, prelogin.build_prelogin_reply(state.product_version, prelogin.ENCRYPT_ON)
            )
        elif message_type == packets.TYPE_LOGIN7:
            raise _CloseConnection("LOGIN7 before PRELOGIN")
        self._answer_login(channel, login_only=False)
        return "login_failed"

    def serve_tds7(self) -> str:
        state = self.state
        message_type, payload = packets.read_message(self.sock)
        if message_type != packets.TYPE_PRELOGIN:
            raise _CloseConnection(f"first packet type 0x{message_type:02x} is not PRELOGIN")
        try:
            request = prelogin.parse_prelogin(payload)
        except prelogin.PreloginError as exc:
            raise _CloseConnection(str(exc)) from exc
        # ForceStrict is a SQL Server 2022 setting; older builds do not know the value.
        if state.force_strict and state.supports_strict:
            raise _CloseConnection("error 17819: ForceStrict accepts only TDS 8.0 connections")
        if state.certificate is None:
            server_setting = prelogin.SERVER_NOT_SUP
        elif state.force_encryption:
            server_setting = prelogin.SERVER_ON
        else:
            server_setting = prelogin.SERVER_OFF
        client_value = request.encryption
        negotiated = prelogin.negotiate_encryption(
            prelogin.ENCRYPT_OFF if client_value is None else client_value, server_setting
        )
        if negotiated is None:
            raise _CloseConnection(f"undefined ENCRYPTION value 0x{client_value:02x}")
        reply, terminate = negotiated
        self.sock.sendall(
            packets.encode_message(
                packets.TYPE_REPLY, prelogin.build_prelogin_reply(state.product_version, reply)
            )
        )
        if terminate:
            raise _CloseConnection(f"encryption mismatch (reply 0x{reply:02x})")
        if reply == prelogin.ENCRYPT_NOT_SUP:
            self._answer_login(None, login_only=False)
            return "login_failed"
        channel = self._handshake(_WrappedTransport(self.sock), strict=False)
        if channel is None:
            return "first_flight"
        # Client OFF + server OFF: only LOGIN7 is encrypted (reference §4).
        self._answer_login(channel, login_only=reply == prelogin.ENCRYPT_OFF)
        return "login_failed"


def serve_connection(
    sock: socket.socket,
    current_state: Callable[[], EndpointState | None],
    material: ServerMaterial,
    server_name: str,
) -> Outcome:
    """Serve one accepted connection and close it; never raises for client behaviour."""
    sock.settimeout(IO_TIMEOUT_S)
    state = current_state()
    if state is None or not state.running:
        reset_socket(sock)
        return Outcome("none", "reset", "instance not running")
    handler = _ConnectionHandler(sock, state, material, server_name)
    path = "tds7"
    try:
        first = sock.recv(1, socket.MSG_PEEK)
        if not first:
            raise _CloseConnection("client closed before sending anything")
        path = "strict" if first[0] == TLS_RECORD_HANDSHAKE else "tds7"
        result = handler.serve_strict() if path == "strict" else handler.serve_tds7()
        if result == "first_flight":
            _wait_for_client_then_close(sock)
        else:
            sock.close()
        return _outcome(path, result, "", handler.decision)
    except ResetConnection as exc:
        reset_socket(sock)
        return _outcome(path, "reset", str(exc), handler.decision)
    except (_CloseConnection, MalformedHello, packets.PacketError, packets.PeerClosed, OSError) as exc:
        sock.close()
        return _outcome(path, "closed", str(exc) or type(exc).__name__, handler.decision)


def _wait_for_client_then_close(sock: socket.socket) -> None:
    # The client goes on with its key exchange; the lab cannot, so it ends here.
    try:
        sock.settimeout(2.0)
        sock.recv(RECV_SIZE)
    except OSError:
        pass
    finally:
        sock.close()


def _outcome(path: str, result: str, reason: str, decision: Negotiated | None) -> Outcome:
    if decision is None:
        return Outcome(path, result, reason)
    return Outcome(
        path,
        result,
        reason,
        version_label(decision.version),
        decision.suite.windows_name,
        decision.alpn.decode("ascii") if decision.alpn else None,
    )
