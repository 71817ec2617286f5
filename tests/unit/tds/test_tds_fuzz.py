"""Property tests: hostile server bytes never crash the prober.

Truncated, oversized, mutated and random bytes go into the framing,
PRELOGIN and ServerHello parsers and through the I/O paths that use them.
The only acceptable outcomes are a result or a classified ProbeError
(MalformedResponse for bad bytes, ConnectionEnded for a dead peer): never
IndexError, struct.error, a bare ValueError or a hang (the hypothesis
deadline catches loops that do not end).
"""

from __future__ import annotations

import contextlib
import datetime
import struct

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.clienthello import HelloOptions
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.enumerate import send_hello
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import (
    ConnectionEnded,
    FramingError,
    MalformedResponse,
    PreloginError,
    TlsRecordError,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.framing import (
    PacketDecoder,
    TdsTlsStream,
    decode_packets,
    parse_header,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.prelogin import parse_prelogin
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.serverhello import parse_server_flight
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.transport import (
    Endpoint,
    Transport,
    exchange_prelogin,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import (
    alert,
    certificate_message,
    handshake,
    record,
    server_hello,
    server_hello_done,
    tds_packet,
    tls13_server_hello,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=300,
    deadline=datetime.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)

PRELOGIN_REPLY = bytes.fromhex(
    "00001A0006 0100200001 0200210001 0300220000 0400220001 FF 0F000FA00000 03 00 00".replace(" ", "")
)
VALID_FLIGHTS = [
    record(22, server_hello(0xC030) + certificate_message(b"\x30\x03\x02\x01\x01") + server_hello_done()),
    record(22, tls13_server_hello(0x1302, alpn="tds/8.0")) + record(20, b"\x01") + record(23, b"\x00" * 30),
    record(22, handshake(2, b"\x03\x03" + b"\x01" * 32 + b"\x00\x00\x2f\x00")),
    alert(40),
]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A valid message, then truncated, overwritten, spliced with garbage or given huge length bytes."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _mutation in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "max_length"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[position:]
        elif kind == "overwrite" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(max_size=16))
        elif len(data) >= position + 2:
            data[position : position + 2] = b"\xff\xff"
    return bytes(data)


any_bytes = st.binary(max_size=600)


@FUZZ
@given(any_bytes)
def test_packet_header(data):
    try:
        length = parse_header(data)[2]
    except FramingError:
        return
    assert 8 <= length <= 32767


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_packet_decoder_fed_arbitrary_chunks(chunks):
    decoder = PacketDecoder()
    try:
        for chunk in chunks:
            for packet in decoder.feed(chunk):
                assert len(packet.payload) <= 32767 - 8
    except FramingError:
        pass


@FUZZ
@given(any_bytes)
def test_decode_packets(data):
    with contextlib.suppress(FramingError):
        decode_packets(data)


@FUZZ
@given(st.one_of(any_bytes, mutated([PRELOGIN_REPLY])))
def test_prelogin_parser(payload):
    try:
        reply = parse_prelogin(payload)
    except PreloginError:
        return
    assert reply.encryption is None or 0 <= reply.encryption <= 255


@FUZZ
@given(st.one_of(any_bytes, mutated(VALID_FLIGHTS)))
def test_server_flight_parser(data):
    try:
        flight = parse_server_flight(data)
    except TlsRecordError:
        return
    if flight.certificates is not None:
        assert all(flight.certificates)


class Scripted:
    def __init__(self, chunks: list[bytes], end: Exception | None = None) -> None:
        self.chunks, self.end = list(chunks), end

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, bufsize: int) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.end:
            raise self.end
        return b""

    def close(self) -> None:
        pass


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if data[a:b]]


ends = st.sampled_from([None, ConnectionEnded("reset"), ConnectionEnded("timeout")])


@FUZZ
@given(st.one_of(any_bytes, mutated([tds_packet(0x04, PRELOGIN_REPLY)])), st.lists(st.integers(0, 700)), ends)
def test_prelogin_exchange_over_a_hostile_stream(data, cuts, end):
    with contextlib.suppress(MalformedResponse, ConnectionEnded):
        exchange_prelogin(Scripted(_split(data, cuts), end))


@FUZZ
@given(
    st.one_of(any_bytes, mutated([tds_packet(0x12, f) for f in VALID_FLIGHTS])), st.lists(st.integers(0, 700))
)
def test_tds_adapter_over_a_hostile_stream(data, cuts):
    adapter = TdsTlsStream(Scripted(_split(data, cuts)))
    try:
        for _read in range(len(data) + 2):
            if not adapter.recv(4096):
                break
    except (MalformedResponse, ConnectionEnded):
        pass


@FUZZ
@given(
    st.one_of(any_bytes, mutated(VALID_FLIGHTS)),
    st.lists(st.integers(0, 700)),
    ends,
    st.booleans(),
    st.sampled_from(list(TlsVersion)),
)
def test_send_hello_always_returns_an_outcome(data, cuts, end, want_certificate, version):
    transport = Transport("tls", Endpoint("fuzz", 1), lambda: Scripted(_split(data, cuts), end), (), True)

    outcome = send_hello(
        transport, HelloOptions(version, (0x002F, 0x1301)), want_certificate=want_certificate
    )

    assert outcome.accepted == (outcome.suite is not None)
    assert outcome.accepted or outcome.rejection


def test_oversized_lengths_are_refused_not_awaited():
    # a 16 MB handshake message or an 0xFFFF record would otherwise make the reader wait forever
    huge_message = record(22, bytes([2]) + ((1 << 24) - 1).to_bytes(3, "big"))
    huge_record = struct.pack(">BHH", 22, 0x0303, 0xFFFF)
    for data, field in ((huge_message, "handshake message 2"), (huge_record, "record length")):
        try:
            parse_server_flight(data)
        except TlsRecordError as error:
            assert error.field == field
        else:
            raise AssertionError(f"{field}: accepted")
