"""TLS record and ClientHello parsing (RFC 5246 §6.2 and §7.4.1.2, RFC 8446 §4.1.2).

The server must see the whole ClientHello before it can decide anything, and a ClientHello may
arrive split over several TLS records, which in turn may be split over several TDS packets
(reference/tds-tls-probing.md §5.1: record and packet boundaries are independent).
``ClientHelloAssembler`` takes the byte stream in whatever pieces it comes and keeps every byte
it was given, because those exact bytes are handed on to OpenSSL afterwards.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RECORD_HANDSHAKE = 22
RECORD_ALERT = 21
HANDSHAKE_CLIENT_HELLO = 1

EXT_SUPPORTED_GROUPS = 10
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01

# RFC 5746 §3.3: a client may signal secure renegotiation with this suite id instead of the
# extension.
SCSV_RENEGOTIATION = 0x00FF

MAX_RECORD_BODY = 16384 + 2048


class MalformedHello(ValueError):
    """The bytes are not a TLS ClientHello a server could answer."""


@dataclass(frozen=True)
class ClientHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    # Extension type -> raw extension data, in the order the client sent them.
    extensions: dict[int, bytes] = field(default_factory=dict)
    supported_versions: tuple[int, ...] | None = None
    supported_groups: tuple[int, ...] | None = None
    alpn_protocols: tuple[bytes, ...] | None = None
    # Named group -> key exchange bytes (TLS 1.3 key_share).
    key_shares: dict[int, bytes] = field(default_factory=dict)

    @property
    def wants_secure_renegotiation(self) -> bool:
        return EXT_RENEGOTIATION_INFO in self.extensions or SCSV_RENEGOTIATION in self.cipher_suites


class _Reader:
    """Bounds-checked reader over one message: every overrun is a MalformedHello."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, count: int) -> bytes:
        end = self._pos + count
        if count < 0 or end > len(self._data):
            raise MalformedHello("truncated ClientHello")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        return self.take(self.uint(length_size))

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos


def _pairs(data: bytes) -> tuple[int, ...]:
    if len(data) % 2:
        raise MalformedHello("odd-length list of 16-bit values")
    return tuple(v for (v,) in struct.iter_unpack(">H", data))


def _parse_alpn(data: bytes) -> tuple[bytes, ...]:
    reader = _Reader(_Reader(data).vector(2))
    names = []
    while reader.remaining:
        names.append(reader.vector(1))
    return tuple(names)


def _parse_key_shares(data: bytes) -> dict[int, bytes]:
    reader = _Reader(_Reader(data).vector(2))
    shares: dict[int, bytes] = {}
    while reader.remaining:
        group = reader.uint(2)
        shares[group] = reader.vector(2)
    return shares


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello handshake body (without the 4-byte handshake header)."""
    reader = _Reader(body)
    legacy_version = reader.uint(2)
    random = reader.take(32)
    session_id = reader.vector(1)
    if len(session_id) > 32:
        raise MalformedHello("session id longer than 32 bytes")
    suites = _pairs(reader.vector(2))
    compression = reader.vector(1)
    extensions: dict[int, bytes] = {}
    # SSL 3.0 hellos may end here: extensions are optional (RFC 5246 §7.4.1.2).
    if reader.remaining:
        ext_reader = _Reader(reader.vector(2))
        while ext_reader.remaining:
            ext_type = ext_reader.uint(2)
            extensions[ext_type] = ext_reader.vector(2)
    supported_versions = None
    if EXT_SUPPORTED_VERSIONS in extensions:
        supported_versions = _pairs(_Reader(extensions[EXT_SUPPORTED_VERSIONS]).vector(1))
    supported_groups = None
    if EXT_SUPPORTED_GROUPS in extensions:
        supported_groups = _pairs(_Reader(extensions[EXT_SUPPORTED_GROUPS]).vector(2))
    alpn = _parse_alpn(extensions[EXT_ALPN]) if EXT_ALPN in extensions else None
    key_shares = _parse_key_shares(extensions[EXT_KEY_SHARE]) if EXT_KEY_SHARE in extensions else {}
    return ClientHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=compression,
        extensions=extensions,
        supported_versions=supported_versions,
        supported_groups=supported_groups,
        alpn_protocols=alpn,
        key_shares=key_shares,
    )


class ClientHelloAssembler:
    """Collects TLS records until the first handshake message (a ClientHello) is complete."""

    def __init__(self) -> None:
        self.raw = bytearray()
        self._record_buffer = bytearray()
        self._handshake = bytearray()

    def feed(self, data: bytes) -> ClientHello | None:
        """Add stream bytes; return the ClientHello once complete, else None."""
        self.raw += data
        self._record_buffer += data
        while len(self._record_buffer) >= 5:
            content_type = self._record_buffer[0]
            length = int.from_bytes(self._record_buffer[3:5], "big")
            if content_type != RECORD_HANDSHAKE or self._record_buffer[1] != 0x03:
                raise MalformedHello(f"expected a TLS handshake record, got type {content_type}")
            if length == 0 or length > MAX_RECORD_BODY:
                raise MalformedHello(f"bad record length {length}")
            if len(self._record_buffer) < 5 + length:
                return None
            self._handshake += self._record_buffer[5 : 5 + length]
            del self._record_buffer[: 5 + length]
            hello = self._complete_hello()
            if hello is not None:
                return hello
        return None

    def _complete_hello(self) -> ClientHello | None:
        if len(self._handshake) < 4:
            return None
        if self._handshake[0] != HANDSHAKE_CLIENT_HELLO:
            raise MalformedHello(f"first handshake message is type {self._handshake[0]}")
        length = int.from_bytes(self._handshake[1:4], "big")
        if len(self._handshake) < 4 + length:
            return None
        return parse_client_hello(bytes(self._handshake[4 : 4 + length]))
