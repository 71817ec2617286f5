"""Parse the first records a server sends after a ClientHello.

Reads what the enumerator needs (reference/tds-tls-probing.md section 9):
the ServerHello (version, including ``supported_versions``; chosen suite;
HelloRetryRequest detection; ALPN), a fatal alert, and for TLS <= 1.2 the
cleartext Certificate message (leaf + chain DER). Handshake messages may span
records and records may be cut anywhere; :func:`parse_server_flight` works on
whatever prefix has arrived and says how far it got. Every malformed input
raises :class:`TlsRecordError`; nothing else escapes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from . import tlsconst as c
from .errors import TlsRecordError
from .versions import TlsVersion

# A handshake message bigger than this is not a real first flight; stop waiting for it.
MAX_HANDSHAKE_MESSAGE = 1 << 18

_KNOWN_CONTENT_TYPES = (
    c.CONTENT_CHANGE_CIPHER_SPEC,
    c.CONTENT_ALERT,
    c.CONTENT_HANDSHAKE,
    c.CONTENT_APPLICATION_DATA,
)
_SKIPPED_AFTER_HELLO = (
    c.HANDSHAKE_SERVER_KEY_EXCHANGE,
    c.HANDSHAKE_CERTIFICATE_REQUEST,
    c.HANDSHAKE_CERTIFICATE_STATUS,
)


@dataclass(frozen=True)
class ServerHello:
    legacy_version: int
    version: int  # negotiated: supported_versions when present, else legacy_version
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression: int
    extension_types: tuple[int, ...]
    alpn: str | None
    is_hello_retry: bool


@dataclass(frozen=True)
class Alert:
    level: int
    description: int

    @property
    def name(self) -> str:
        return c.ALERT_NAMES.get(self.description, f"alert_{self.description}")


@dataclass(frozen=True)
class ServerFlight:
    """What a prefix of the server's bytes contained."""

    hello: ServerHello | None = None
    certificates: tuple[bytes, ...] | None = None  # None: no Certificate message (yet)
    alert: Alert | None = None
    hello_done: bool = False
    encrypted_from_here: bool = False  # TLS 1.3 / HRR: nothing more to read in clear

    @property
    def finished(self) -> bool:
        """Nothing more useful can arrive in clear text."""
        return self.alert is not None or self.hello_done or self.encrypted_from_here


def parse_server_flight(data: bytes) -> ServerFlight:
    """Parse as much of ``data`` as forms whole records and whole handshake messages."""
    handshake = bytearray()
    state = _State()
    position = 0
    while position + 5 <= len(data) and not state.flight.finished:
        content_type, major, _minor, length = struct.unpack_from(">BBBH", data, position)
        if content_type not in _KNOWN_CONTENT_TYPES:
            raise TlsRecordError("record type", f"expected 20..23, got {content_type} (not TLS?)")
        if major != 3:
            raise TlsRecordError("record version", f"expected major version 3, got {major}")
        if length > c.MAX_RECORD_LENGTH:
            raise TlsRecordError("record length", f"{length} exceeds {c.MAX_RECORD_LENGTH}")
        if position + 5 + length > len(data):
            break
        fragment = data[position + 5 : position + 5 + length]
        position += 5 + length
        if content_type == c.CONTENT_ALERT:
            state.on_alert(fragment)
        elif content_type == c.CONTENT_HANDSHAKE:
            if not fragment:
                raise TlsRecordError("handshake record", "zero-length handshake fragment")
            handshake += fragment
            consumed = state.on_handshake_bytes(bytes(handshake))
            del handshake[:consumed]
        else:
            state.on_protected_record(content_type)
    return state.flight


class _State:
    """Accumulates the flight; a small class because records and messages interleave."""

    def __init__(self) -> None:
        self.flight = ServerFlight()

    def _update(self, **changes: object) -> None:
        self.flight = replace(self.flight, **changes)  # type: ignore[arg-type]

    def on_alert(self, fragment: bytes) -> None:
        if len(fragment) < 2:
            raise TlsRecordError("alert", f"expected 2 bytes, got {len(fragment)}")
        self._update(alert=Alert(fragment[0], fragment[1]))

    def on_protected_record(self, content_type: int) -> None:
        if self.flight.hello is None:
            raise TlsRecordError("record type", f"content type {content_type} before the ServerHello")
        self._update(encrypted_from_here=True)

    def on_handshake_bytes(self, buffer: bytes) -> int:
        """Handle every whole message in ``buffer``; return how many bytes were used."""
        position = 0
        while position + 4 <= len(buffer) and not self.flight.finished:
            msg_type = buffer[position]
            length = int.from_bytes(buffer[position + 1 : position + 4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                raise TlsRecordError(f"handshake message {msg_type}", f"length {length} is implausible")
            if position + 4 + length > len(buffer):
                break
            body = buffer[position + 4 : position + 4 + length]
            position += 4 + length
            self._on_message(msg_type, body)
        return position

    def _on_message(self, msg_type: int, body: bytes) -> None:
        if self.flight.hello is None:
            if msg_type == c.HANDSHAKE_HELLO_REQUEST:
                return
            if msg_type != c.HANDSHAKE_SERVER_HELLO:
                raise TlsRecordError("handshake type", f"expected ServerHello (2) first, got {msg_type}")
            hello = parse_server_hello(body)
            after_hello_encrypted = hello.is_hello_retry or hello.version >= TlsVersion.TLS13
            self._update(hello=hello, encrypted_from_here=after_hello_encrypted)
        elif msg_type == c.HANDSHAKE_CERTIFICATE:
            self._update(certificates=parse_certificate_list(body))
        elif msg_type == c.HANDSHAKE_SERVER_HELLO_DONE:
            self._update(hello_done=True)
        elif msg_type not in _SKIPPED_AFTER_HELLO:
            raise TlsRecordError("handshake type", f"unexpected message {msg_type} in the first flight")


def parse_server_hello(body: bytes) -> ServerHello:
    reader = _Reader(body, "ServerHello")
    legacy_version = reader.u16("version")
    random = reader.take(32, "random")
    session_id = reader.take(reader.u8("session_id length"), "session_id")
    if len(session_id) > 32:
        raise TlsRecordError("ServerHello.session_id", f"length {len(session_id)} exceeds 32")
    cipher_suite = reader.u16("cipher_suite")
    compression = reader.u8("compression_method")
    extensions: dict[int, bytes] = {}
    order: list[int] = []
    if reader.remaining:
        ext_reader = _Reader(
            reader.take(reader.u16("extensions length"), "extensions"), "ServerHello.extensions"
        )
        while ext_reader.remaining:
            ext_type = ext_reader.u16("type")
            ext_data = ext_reader.take(ext_reader.u16("length"), f"extension {ext_type}")
            if ext_type in extensions:
                raise TlsRecordError("ServerHello.extensions", f"extension {ext_type} appears twice")
            extensions[ext_type] = ext_data
            order.append(ext_type)
    if reader.remaining:
        raise TlsRecordError("ServerHello", f"{reader.remaining} bytes after the extensions")
    version = legacy_version
    if c.EXT_SUPPORTED_VERSIONS in extensions:
        selected = extensions[c.EXT_SUPPORTED_VERSIONS]
        if len(selected) != 2:
            raise TlsRecordError("ServerHello.supported_versions", f"expected 2 bytes, got {len(selected)}")
        version = struct.unpack(">H", selected)[0]
    return ServerHello(
        legacy_version=legacy_version,
        version=version,
        random=random,
        session_id=session_id,
        cipher_suite=cipher_suite,
        compression=compression,
        extension_types=tuple(order),
        alpn=_alpn(extensions.get(c.EXT_ALPN)),
        is_hello_retry=random == c.HELLO_RETRY_RANDOM,
    )


def _alpn(data: bytes | None) -> str | None:
    if data is None:
        return None
    reader = _Reader(data, "ServerHello.alpn")
    names = _Reader(reader.take(reader.u16("list length"), "protocol list"), "ServerHello.alpn")
    name = names.take(names.u8("name length"), "protocol name")
    if names.remaining or reader.remaining or not name:
        raise TlsRecordError("ServerHello.alpn", "the server must select exactly one non-empty protocol")
    return name.decode("ascii", "backslashreplace")


def parse_certificate_list(body: bytes) -> tuple[bytes, ...]:
    """TLS <= 1.2 Certificate message: 24-bit list length, then 24-bit-prefixed DER blobs."""
    reader = _Reader(body, "Certificate")
    listing = _Reader(
        reader.take(reader.u24("list length"), "certificate_list"), "Certificate.certificate_list"
    )
    if reader.remaining:
        raise TlsRecordError("Certificate", f"{reader.remaining} bytes after the certificate list")
    chain = []
    while listing.remaining:
        der = listing.take(listing.u24("entry length"), "certificate")
        if not der:
            raise TlsRecordError("Certificate.certificate_list", "empty certificate entry")
        chain.append(der)
    return tuple(chain)


class _Reader:
    """Bounds-checked cursor: every short read is a TlsRecordError naming the field."""

    def __init__(self, data: bytes, context: str) -> None:
        self._data = data
        self._position = 0
        self._context = context

    @property
    def remaining(self) -> int:
        return len(self._data) - self._position

    def take(self, count: int, field: str) -> bytes:
        if count > self.remaining:
            raise TlsRecordError(f"{self._context}.{field}", f"needs {count} bytes, {self.remaining} left")
        chunk = self._data[self._position : self._position + count]
        self._position += count
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return int.from_bytes(self.take(2, field), "big")

    def u24(self, field: str) -> int:
        return int.from_bytes(self.take(3, field), "big")
