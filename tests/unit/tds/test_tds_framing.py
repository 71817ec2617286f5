"""TDS packet framing and the TLS-over-TDS adapter (MS-TDS 2.2.3.1, reference section 2 and 5)."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import (
    ConnectionEnded,
    FramingError,
    ProbeInputError,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.framing import (
    PacketDecoder,
    PacketReader,
    TdsTlsStream,
    decode_packets,
    encode_message,
    encode_packet,
    parse_header,
    reassemble,
)
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import tds_packet


class ScriptedStream:
    """A fake socket: returns the scripted chunks one per recv, then EOF; records what was sent."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.sent = bytearray()
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, bufsize: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        self.closed = True


def test_a_prelogin_packet_has_the_spec_header():
    packet = encode_packet(0x12, b"\xaa" * 39, packet_id=1)

    # MS-TDS 4.1 sample header: 12 01 00 2F 00 00 01 00
    assert packet[:8] == bytes.fromhex("1201002F00000100")


def test_a_long_message_is_split_at_the_packet_size_with_eom_only_on_the_last():
    payload = bytes(range(256)) * 40  # 10240 bytes

    wire = encode_message(0x12, payload, packet_size=4096)
    packets = decode_packets(wire)

    assert [len(p.payload) for p in packets] == [4088, 4088, 2064]
    assert [p.end_of_message for p in packets] == [False, False, True]
    assert [p.packet_id for p in packets] == [1, 2, 3]
    assert all(len(encode_packet(0x12, p.payload)) <= 4096 for p in packets)
    assert reassemble(packets) == payload


def test_an_empty_message_is_one_header_only_packet():
    assert encode_message(0x12, b"") == bytes.fromhex("1201000800000100")


@pytest.mark.parametrize("size", [8, 32768])
def test_packet_sizes_outside_the_protocol_range_are_refused(size):
    with pytest.raises(ProbeInputError, match="packet_size"):
        encode_message(0x12, b"x", packet_size=size)


@pytest.mark.parametrize("length", [0, 7, 32768, 65535])
def test_header_lengths_outside_8_to_32767_are_framing_errors(length):
    header = bytes([0x04, 0x01]) + length.to_bytes(2, "big") + bytes(4)

    with pytest.raises(FramingError, match="length"):
        parse_header(header)


def test_header_accepts_the_extremes():
    assert parse_header(bytes([4, 1, 0, 8, 0, 0, 0, 0]))[2] == 8
    assert parse_header(bytes([4, 1, 0x7F, 0xFF, 0, 0, 0, 0]))[2] == 32767


def test_decoder_releases_each_packet_as_soon_as_it_is_complete_without_waiting_for_eom():
    wire = tds_packet(0x12, b"first", eom=False) + tds_packet(0x12, b"second", eom=False)
    decoder = PacketDecoder()

    released = [decoder.feed(bytes([byte])) for byte in wire]

    payloads = [p.payload for batch in released for p in batch]
    assert payloads == [b"first", b"second"]
    assert released[len(tds_packet(0x12, b"first")) - 1][0].payload == b"first"
    assert decoder.pending == 0


def test_trailing_partial_packet_is_reported():
    with pytest.raises(FramingError, match="trailing"):
        decode_packets(tds_packet(0x04, b"ok") + b"\x04\x01\x00")


def test_reassembly_needs_an_eom_packet():
    with pytest.raises(FramingError, match="EOM"):
        reassemble(decode_packets(tds_packet(0x12, b"a", eom=False)))


def test_reader_accepts_only_the_allowed_types():
    reader = PacketReader(ScriptedStream(tds_packet(0x01, b"sql batch")), frozenset({0x12, 0x04}))

    with pytest.raises(FramingError, match="0x01"):
        reader.next_packet()


def test_reader_distinguishes_a_clean_close_from_a_cut_packet():
    assert PacketReader(ScriptedStream(), frozenset({0x04})).next_packet() is None
    cut = PacketReader(ScriptedStream(tds_packet(0x04, b"abcdef")[:10]), frozenset({0x04}))
    with pytest.raises(ConnectionEnded, match="inside a TDS packet"):
        cut.next_packet()


def test_adapter_wraps_each_write_into_one_prelogin_message():
    stream = ScriptedStream()
    adapter = TdsTlsStream(stream, packet_size=512)

    adapter.sendall(b"\x16" * 1000)
    adapter.sendall(b"\x14\x03\x03")

    packets = decode_packets(bytes(stream.sent))
    assert {p.type for p in packets} == {0x12}
    assert [len(p.payload) for p in packets] == [504, 496, 3]
    assert [p.end_of_message for p in packets] == [False, True, True]
    assert [p.packet_id for p in packets] == [1, 2, 3]


def test_adapter_unwraps_0x12_and_0x04_replies_split_anywhere_and_never_needs_eom():
    tls_bytes = bytes(range(200))
    wire = (
        tds_packet(0x12, tls_bytes[:50], eom=False)
        + tds_packet(0x04, tls_bytes[50:120], eom=False)
        + tds_packet(0x12, b"", eom=False)
        + tds_packet(0x12, tls_bytes[120:], eom=False)
    )
    # TCP delivers the packets cut at arbitrary points
    stream = ScriptedStream(wire[:3], wire[3:61], wire[61:150], wire[150:])
    adapter = TdsTlsStream(stream)

    received = bytearray()
    while chunk := adapter.recv(33):
        received += chunk

    assert bytes(received) == tls_bytes


def test_adapter_close_closes_the_socket():
    stream = ScriptedStream()
    TdsTlsStream(stream).close()
    assert stream.closed
