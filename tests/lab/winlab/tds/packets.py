"""TDS packet framing (MS-TDS 2.2.3.1; reference/tds-tls-probing.md §2)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

TYPE_SQL_BATCH = 0x01
TYPE_REPLY = 0x04
TYPE_LOGIN7 = 0x10
TYPE_PRELOGIN = 0x12

STATUS_EOM = 0x01

HEADER_SIZE = 8
# Before login the packet size is 4096 (MS-TDS 2.2.3.1.3), header included.
PRELOGIN_PACKET_SIZE = 4096
MIN_PACKET = HEADER_SIZE
MAX_PACKET = 32767


class PacketError(ValueError):
    """The peer sent something that is not a TDS packet."""


class PeerClosed(ConnectionError):
    """The peer closed the connection at a packet boundary."""


@dataclass(frozen=True)
class Packet:
    type: int
    status: int
    payload: bytes

    @property
    def end_of_message(self) -> bool:
        return bool(self.status & STATUS_EOM)


def encode_message(packet_type: int, payload: bytes, packet_size: int = PRELOGIN_PACKET_SIZE) -> bytes:
    """One TDS message as packets of at most `packet_size` bytes, EOM on the last."""
    room = packet_size - HEADER_SIZE
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    out = bytearray()
    for index, chunk in enumerate(chunks):
        status = STATUS_EOM if index == len(chunks) - 1 else 0
        # PacketID counts from 1 modulo 256; SPID and Window are 0 (MS-TDS 2.2.3.1.5).
        out += struct.pack(">BBHHBB", packet_type, status, HEADER_SIZE + len(chunk), 0, (index + 1) % 256, 0)
        out += chunk
    return bytes(out)


def _recv_exact(sock: socket.socket, count: int, at_boundary: bool) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            if at_boundary and not data:
                raise PeerClosed("connection closed")
            raise PacketError("connection closed inside a packet")
        data += chunk
    return bytes(data)


def read_packet(sock: socket.socket) -> Packet:
    header = _recv_exact(sock, HEADER_SIZE, at_boundary=True)
    packet_type, status, length = struct.unpack(">BBH", header[:4])
    if not MIN_PACKET <= length <= MAX_PACKET:
        raise PacketError(f"bad TDS packet length {length}")
    return Packet(packet_type, status, _recv_exact(sock, length - HEADER_SIZE, at_boundary=False))


def read_message(sock: socket.socket) -> tuple[int, bytes]:
    """Read packets up to EOM; the message type is the first packet's."""
    first = read_packet(sock)
    payload = bytearray(first.payload)
    packet = first
    while not packet.end_of_message:
        packet = read_packet(sock)
        payload += packet.payload
    return first.type, bytes(payload)


def split_messages(stream: bytearray) -> list[tuple[int, bytes]]:
    """Cut complete TDS messages off the front of a decrypted byte stream (in place)."""
    messages: list[tuple[int, bytes]] = []
    pending_type: int | None = None
    pending = bytearray()
    consumed = 0
    pos = 0
    while len(stream) - pos >= HEADER_SIZE:
        packet_type, status, length = struct.unpack(">BBH", stream[pos : pos + 4])
        if not MIN_PACKET <= length <= MAX_PACKET:
            raise PacketError(f"bad TDS packet length {length}")
        if len(stream) - pos < length:
            break
        if pending_type is None:
            pending_type = packet_type
        pending += stream[pos + HEADER_SIZE : pos + length]
        pos += length
        if status & STATUS_EOM:
            messages.append((pending_type, bytes(pending)))
            pending_type, pending = None, bytearray()
            consumed = pos
    del stream[:consumed]
    return messages
