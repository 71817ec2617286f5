"""A stdlib TDS server double on 127.0.0.1 for the prober's network tests.

Written from reference/tds-tls-probing.md section 11.7 and on purpose
independent of the prober's own code (no imports from plugin_utils/tds), so
the two readings of the reference check each other:

- peek the first byte: 0x16 = TDS 8.0 strict (TLS first, PRELOGIN inside TLS);
  anything else = TDS 7.x: read the PRELOGIN (VERSION must come first), answer
  in a 0x04 packet with a configurable ENCRYPTION byte, then run TLS through
  ``ssl.MemoryBIO`` with every server flight wrapped in 0x12 (or 0x04) packets
  split at ``packet_size``;
- protocols, ciphers, certificate, DH parameters, server preference and ALPN
  come from :class:`DoubleConfig`.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import warnings
from dataclasses import dataclass, field

# 15.0.4000: the spec's example of a server VERSION (section 3).
SQL2019_VERSION = bytes([0x0F, 0x00, 0x0F, 0xA0, 0x00, 0x00])


@dataclass
class DoubleConfig:
    certfile: str
    keyfile: str
    encryption: int = 0x00  # ENCRYPTION byte answered on TDS 7.x
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    ciphers: str = "ECDHE-RSA-AES256-GCM-SHA384"
    dh_params: str | None = None
    server_preference: bool = True
    alpn: tuple[str, ...] = ("tds/8.0",)
    packet_size: int = 4096  # server flights are split into packets of this size
    flight_packet_type: int = 0x12  # 0x04 imitates the older endpoints of section 5.2
    accept_tds7: bool = True  # False: close a cleartext PRELOGIN, like Force Strict Encryption
    accept_strict: bool = True  # False: close a TLS-first connection (no TDS 8.0)
    server_version: bytes = SQL2019_VERSION


@dataclass
class DoubleLog:
    """What the double saw, for assertions."""

    connections: int = 0
    tds7_connections: int = 0
    strict_connections: int = 0
    strict_prelogin_encryption: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class TdsDouble:
    def __init__(self, config: DoubleConfig) -> None:
        self.config = config
        self.log = DoubleLog()
        self._context = _server_context(config)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"tds-double-{self.port}", daemon=True
        )
        self._acceptor.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        for worker in self._workers:
            worker.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.log.connections += 1
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            first = conn.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 0x16:
                self.log.strict_connections += 1
                if self.config.accept_strict:
                    self._serve_strict(conn)
            else:
                self.log.tds7_connections += 1
                if self.config.accept_tds7:
                    self._serve_tds7(conn)
        except (OSError, ValueError) as error:
            self.log.errors.append(f"{type(error).__name__}: {error}")
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    # TDS 7.x: PRELOGIN in clear, then TLS records carried in 0x12 packets.
    def _serve_tds7(self, conn: socket.socket) -> None:
        packet_type, payload = _read_message(conn)
        if packet_type != 0x12 or not payload or payload[0] != 0x00:
            return  # not a PRELOGIN with VERSION first: close (MS-TDS 3.3.5.1)
        conn.sendall(
            _packets(0x04, _prelogin_reply(self.config.server_version, self.config.encryption), 4096)
        )
        if self.config.encryption == 0x02:
            return
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._context.wrap_bio(incoming, outgoing, server_side=True)

        def send_flight() -> None:
            data = outgoing.read()
            if data:
                conn.sendall(_packets(self.config.flight_packet_type, data, self.config.packet_size))

        while True:
            try:
                tls.do_handshake()
                send_flight()
                return
            except ssl.SSLWantReadError:
                send_flight()
                packet = _read_packet(conn)
                if packet is None:
                    return
                incoming.write(packet[2])
            except ssl.SSLError:
                send_flight()  # the fatal alert, wrapped like any flight
                return

    # TDS 8.0: TLS straight on the socket, then the PRELOGIN inside TLS.
    def _serve_strict(self, conn: socket.socket) -> None:
        try:
            tls = self._context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            packet_type, payload = _read_message(tls)
            if packet_type == 0x12:
                self.log.strict_prelogin_encryption.append(_option(payload, 0x01)[0])
                tls.sendall(_packets(0x04, _prelogin_reply(self.config.server_version, 0x00), 4096))
        except (ssl.SSLError, OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError, ssl.SSLError):
                tls.unwrap()
            tls.close()


def _server_context(config: DoubleConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = config.minimum_version
        context.maximum_version = config.maximum_version
    context.set_ciphers(f"{config.ciphers}:@SECLEVEL=0")
    context.load_cert_chain(config.certfile, config.keyfile)
    if config.dh_params:
        context.load_dh_params(config.dh_params)
    if config.server_preference:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if config.alpn:
        context.set_alpn_protocols(list(config.alpn))
    return context


def _recv_exact(conn: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_packet(conn: socket.socket) -> tuple[int, int, bytes] | None:
    header = _recv_exact(conn, 8)
    if header is None:
        return None
    packet_type, status, length = struct.unpack(">BBH", header[:4])
    if length < 8:
        raise ValueError(f"bad TDS length {length}")
    payload = _recv_exact(conn, length - 8)
    if payload is None:
        return None
    return packet_type, status, payload


def _read_message(conn: socket.socket) -> tuple[int | None, bytes]:
    payload, packet_type = b"", None
    while True:
        packet = _read_packet(conn)
        if packet is None:
            return packet_type, payload
        packet_type, status, chunk = packet
        payload += chunk
        if status & 0x01:
            return packet_type, payload


def _packets(packet_type: int, payload: bytes, packet_size: int) -> bytes:
    step = packet_size - 8
    pieces = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
    out = b""
    for index, piece in enumerate(pieces):
        status = 0x01 if index == len(pieces) - 1 else 0x00
        out += struct.pack(">BBHHBB", packet_type, status, 8 + len(piece), 0, (index + 1) % 256, 0) + piece
    return out


def _prelogin_reply(version: bytes, encryption: int) -> bytes:
    options = [(0x00, version), (0x01, bytes([encryption])), (0x02, b"\x00"), (0x03, b""), (0x04, b"\x00")]
    offset = 5 * len(options) + 1
    table, data = b"", b""
    for token, value in options:
        table += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return table + b"\xff" + data


def _option(payload: bytes, wanted: int) -> bytes:
    position = 0
    while payload[position] != 0xFF:
        token, offset, length = struct.unpack_from(">BHH", payload, position)
        if token == wanted:
            return payload[offset : offset + length]
        position += 5
    raise ValueError(f"option {wanted} missing")
