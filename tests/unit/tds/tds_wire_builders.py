"""Test-side encoders/decoders of TLS and TDS wire formats, written from the RFCs, not from the prober.

They build server answers for the parser tests and read the prober's
ClientHello back, so a mistake in the prober's byte layout shows up as a
disagreement with this second, independent reading.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", content_type, version, len(body)) + body


def handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def extension(ext_type: int, data: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(data)) + data


def server_hello(
    suite: int,
    version: int = 0x0303,
    *,
    random: bytes = b"\x11" * 32,
    session_id: bytes = b"",
    extensions: bytes | None = None,
) -> bytes:
    body = struct.pack(">H", version) + random + bytes([len(session_id)]) + session_id
    body += struct.pack(">HB", suite, 0)
    if extensions is not None:
        body += struct.pack(">H", len(extensions)) + extensions
    return handshake(2, body)


def tls13_server_hello(suite: int, *, hello_retry: bool = False, alpn: str | None = None) -> bytes:
    extensions = extension(43, b"\x03\x04") + extension(
        51, struct.pack(">H", 0x001D) + b"\x00\x20" + b"\x22" * 32
    )
    if alpn:
        name = alpn.encode()
        extensions += extension(16, struct.pack(">H", len(name) + 1) + bytes([len(name)]) + name)
    random = HRR_RANDOM if hello_retry else b"\x33" * 32
    return server_hello(suite, 0x0303, random=random, session_id=b"\x44" * 32, extensions=extensions)


def certificate_message(*ders: bytes) -> bytes:
    entries = b"".join(len(der).to_bytes(3, "big") + der for der in ders)
    return handshake(11, len(entries).to_bytes(3, "big") + entries)


def server_hello_done() -> bytes:
    return handshake(14, b"")


def alert(description: int, level: int = 2) -> bytes:
    return record(21, bytes([level, description]))


def tds_packet(packet_type: int, payload: bytes, *, eom: bool = True, packet_id: int = 1) -> bytes:
    return struct.pack(">BBHHBB", packet_type, 1 if eom else 0, 8 + len(payload), 0, packet_id, 0) + payload


@dataclass
class ParsedClientHello:
    record_version: int
    client_version: int
    random: bytes
    session_id: bytes
    suites: list[int]
    compression: bytes
    extensions: dict[int, bytes] = field(default_factory=dict)
    extension_order: list[int] = field(default_factory=list)


def parse_client_hello(data: bytes) -> ParsedClientHello:
    """Strict reader: every length must add up exactly."""
    content_type, record_version, record_length = struct.unpack_from(">BHH", data)
    assert content_type == 22
    assert len(data) == 5 + record_length, "record length must cover exactly the hello"
    body = data[5:]
    assert body[0] == 1, "handshake type ClientHello"
    assert int.from_bytes(body[1:4], "big") == len(body) - 4
    position = 4
    client_version = struct.unpack_from(">H", body, position)[0]
    position += 2
    random = body[position : position + 32]
    position += 32
    sid_length = body[position]
    session_id = body[position + 1 : position + 1 + sid_length]
    position += 1 + sid_length
    suites_length = struct.unpack_from(">H", body, position)[0]
    position += 2
    suites = list(struct.unpack_from(f">{suites_length // 2}H", body, position))
    position += suites_length
    compression_length = body[position]
    compression = body[position + 1 : position + 1 + compression_length]
    position += 1 + compression_length
    hello = ParsedClientHello(record_version, client_version, random, session_id, suites, compression)
    if position == len(body):
        return hello
    extensions_length = struct.unpack_from(">H", body, position)[0]
    position += 2
    assert position + extensions_length == len(body), "extensions block must end the hello"
    while position < len(body):
        ext_type, ext_length = struct.unpack_from(">HH", body, position)
        position += 4
        hello.extensions[ext_type] = body[position : position + ext_length]
        hello.extension_order.append(ext_type)
        position += ext_length
    assert position == len(body)
    return hello
