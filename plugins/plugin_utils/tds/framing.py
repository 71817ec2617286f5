"""TDS packet framing (MS-TDS 2.2.3.1) and the TLS-over-TDS adapter.

A TDS packet is an 8-byte header (type, status, big-endian length including
the header, SPID, PacketID, window) followed by its payload. During a TDS 7.x
handshake the TLS records travel as the payload of PRELOGIN (0x12) packets;
TDS packet boundaries and TLS record boundaries are independent
(reference/tds-tls-probing.md sections 2 and 5).

:class:`TdsTlsStream` is the go-mssqldb ``tlsHandshakeConn`` idea: it looks
like a socket to TLS code, wraps every ``sendall`` in 0x12 packets and hands
back packet payloads from ``recv``, so the ClientHello builder, the
ServerHello parser and the stdlib handshake never know about TDS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from .errors import ConnectionEnded, FramingError, ProbeInputError

PACKET_PRELOGIN = 0x12
PACKET_TABULAR_RESULT = 0x04
STATUS_EOM = 0x01
HEADER_LEN = 8
# 8..32767: smallest possible packet up to the largest negotiable size (section 2).
MAX_PACKET_LEN = 32767
# Pre-login packets must not exceed 4096 bytes until a size is negotiated (MS-TDS 2.2.3.1.3).
DEFAULT_PACKET_SIZE = 4096

_HEADER = struct.Struct(">BBHHBB")


class Stream(Protocol):
    """The socket subset the prober needs; a plain socket wrapper and TdsTlsStream both fit."""

    def sendall(self, data: bytes) -> None: ...

    def recv(self, bufsize: int) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Packet:
    type: int
    status: int
    payload: bytes
    spid: int = 0
    packet_id: int = 0
    window: int = 0

    @property
    def end_of_message(self) -> bool:
        return bool(self.status & STATUS_EOM)


def encode_packet(packet_type: int, payload: bytes, *, eom: bool = True, packet_id: int = 1) -> bytes:
    """One packet; SPID 0 and window 0 as a client sends them."""
    length = HEADER_LEN + len(payload)
    if length > MAX_PACKET_LEN:
        raise ProbeInputError("payload", f"at most {MAX_PACKET_LEN - HEADER_LEN} bytes", len(payload))
    status = STATUS_EOM if eom else 0
    return _HEADER.pack(packet_type, status, length, 0, packet_id % 256, 0) + payload


def encode_message(
    packet_type: int, payload: bytes, *, packet_size: int = DEFAULT_PACKET_SIZE, first_packet_id: int = 1
) -> bytes:
    """A whole message split into packets of at most ``packet_size`` bytes, EOM on the last only."""
    if not HEADER_LEN < packet_size <= MAX_PACKET_LEN:
        raise ProbeInputError("packet_size", f"an integer in {HEADER_LEN + 1}..{MAX_PACKET_LEN}", packet_size)
    chunk = packet_size - HEADER_LEN
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] or [b""]
    return b"".join(
        encode_packet(packet_type, piece, eom=index == len(pieces) - 1, packet_id=first_packet_id + index)
        for index, piece in enumerate(pieces)
    )


def parse_header(header: bytes) -> tuple[int, int, int, int, int, int]:
    """(type, status, length, spid, packet_id, window); the length must lie in 8..32767."""
    if len(header) < HEADER_LEN:
        raise FramingError("header", f"need {HEADER_LEN} bytes, got {len(header)}")
    fields = _HEADER.unpack_from(header)
    length = fields[2]
    if not HEADER_LEN <= length <= MAX_PACKET_LEN:
        raise FramingError("length", f"expected {HEADER_LEN}..{MAX_PACKET_LEN}, got {length}")
    return fields


class PacketDecoder:
    """Incremental decoder: feed any byte chunks, take out whole packets as they complete.

    It never waits for EOM: each packet is released as soon as its last byte
    arrives (FreeTDS reads one TDS packet at a time, section 5.2).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete packet still held."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets: list[Packet] = []
        while len(self._buffer) >= HEADER_LEN:
            ptype, status, length, spid, packet_id, window = parse_header(bytes(self._buffer[:HEADER_LEN]))
            if len(self._buffer) < length:
                break
            payload = bytes(self._buffer[HEADER_LEN:length])
            del self._buffer[:length]
            packets.append(Packet(ptype, status, payload, spid, packet_id, window))
        return packets


def decode_packets(data: bytes) -> list[Packet]:
    """Every packet in ``data``; trailing bytes that do not form a whole packet are an error."""
    decoder = PacketDecoder()
    packets = decoder.feed(data)
    if decoder.pending:
        raise FramingError("packet", f"{decoder.pending} trailing bytes do not form a whole packet")
    return packets


def reassemble(packets: list[Packet]) -> bytes:
    """Payload of the first message: packets up to and including the first EOM."""
    payload = bytearray()
    for packet in packets:
        payload += packet.payload
        if packet.end_of_message:
            return bytes(payload)
    raise FramingError("status", "no packet with the EOM bit ends the message")


class PacketReader:
    """Reads packets one at a time from a stream, for the packet types allowed."""

    def __init__(self, stream: Stream, allowed_types: frozenset[int]) -> None:
        self._stream = stream
        self._allowed = allowed_types
        self._decoder = PacketDecoder()
        self._ready: list[Packet] = []

    def next_packet(self) -> Packet | None:
        """The next packet, or None when the peer closed cleanly between packets."""
        while not self._ready:
            chunk = self._stream.recv(65536)
            if not chunk:
                if self._decoder.pending:
                    raise ConnectionEnded("closed", "inside a TDS packet")
                return None
            self._ready.extend(self._decoder.feed(chunk))
        packet = self._ready.pop(0)
        if packet.type not in self._allowed:
            allowed = ", ".join(f"0x{t:02X}" for t in sorted(self._allowed))
            raise FramingError("type", f"expected one of {allowed}, got 0x{packet.type:02X}")
        return packet


# During the handshake both 0x12 and 0x04 replies occur in the field (section 5.2).
HANDSHAKE_REPLY_TYPES = frozenset({PACKET_PRELOGIN, PACKET_TABULAR_RESULT})


class TdsTlsStream:
    """Socket-like adapter that carries TLS bytes inside TDS 7.x PRELOGIN packets.

    ``sendall`` sends one TDS message per call (clients send one message per
    TLS flight, section 5.1); ``recv`` returns payload bytes packet by packet
    and returns ``b""`` only when the peer closed between packets.
    """

    def __init__(self, stream: Stream, *, packet_size: int = DEFAULT_PACKET_SIZE) -> None:
        self._stream = stream
        self._packet_size = packet_size
        self._reader = PacketReader(stream, HANDSHAKE_REPLY_TYPES)
        self._leftover = b""
        self._next_packet_id = 1

    def sendall(self, data: bytes) -> None:
        message = encode_message(
            PACKET_PRELOGIN, data, packet_size=self._packet_size, first_packet_id=self._next_packet_id
        )
        self._next_packet_id += max(1, -(-len(data) // (self._packet_size - HEADER_LEN)))
        self._stream.sendall(message)

    def recv(self, bufsize: int) -> bytes:
        while not self._leftover:
            packet = self._reader.next_packet()
            if packet is None:
                return b""
            self._leftover = packet.payload
        data, self._leftover = self._leftover[:bufsize], self._leftover[bufsize:]
        return data

    def close(self) -> None:
        self._stream.close()
