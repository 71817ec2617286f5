"""Targets, timeouts and the PRELOGIN exchange (reference sections 3, 5.2 and 11.1)."""

from __future__ import annotations

import socket
import time

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import (
    ConnectionEnded,
    FramingError,
    PreloginError,
    ProbeInputError,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.framing import decode_packets
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.prelogin import Encryption, parse_prelogin
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint, probe_many
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.transport import (
    Endpoint,
    SocketStream,
    exchange_prelogin,
    make_transport,
    parse_target,
)
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import tds_packet

REPLY = bytes.fromhex(
    "00001A0006 0100200001 0200210001 0300220000 0400220001 FF 0F000FA00000 03 00 00".replace(" ", "")
)


class Scripted:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks, self.sent = list(chunks), bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, bufsize: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("sql01", Endpoint("sql01", 1433)),
        ("sql01:14330", Endpoint("sql01", 14330)),
        ("[::1]:1433", Endpoint("::1", 1433)),
        ("[fe80::1]", Endpoint("fe80::1", 1433)),
        ("::1", Endpoint("::1", 1433)),
        (("127.0.0.2", 1500), Endpoint("127.0.0.2", 1500)),
    ],
)
def test_targets(target, expected):
    assert parse_target(target) == expected


@pytest.mark.parametrize("target", ["", "sql01:0", "sql01:70000", "sql01:abc", ":1433", 1433])
def test_bad_targets_name_the_field(target):
    with pytest.raises(ProbeInputError, match="target"):
        parse_target(target)


def test_endpoint_text_brackets_ipv6():
    assert str(Endpoint("::1", 1433)) == "[::1]:1433"
    assert str(Endpoint("sql01", 1433)) == "sql01:1433"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"mode": "tds8"}, "mode"), ({"mode": "tds", "timeout": 0}, "timeout")],
)
def test_bad_transport_arguments(kwargs, field):
    with pytest.raises(ProbeInputError, match=field):
        make_transport(Endpoint("h", 1), **kwargs)


def test_transports_per_mode():
    endpoint = Endpoint("h", 1)
    assert make_transport(endpoint, "strict").alpn == ("tds/8.0",)
    assert make_transport(endpoint, "tds").tls13_applicable is False
    assert make_transport(endpoint, "tls").alpn == ()


def test_prelogin_exchange_sends_encrypt_off_and_reads_a_0x04_reply():
    stream = Scripted(tds_packet(0x04, REPLY))

    reply = exchange_prelogin(stream, Encryption.OFF)

    (request,) = decode_packets(bytes(stream.sent))
    assert request.type == 0x12 and request.end_of_message
    assert parse_prelogin(request.payload).encryption == Encryption.OFF
    assert reply.encryption == Encryption.REQ
    assert reply.version_text == "15.0.4000"


def test_prelogin_reply_without_eom_split_over_packets_is_still_read():
    # "mssql2k unpatched do not set last packet flag" (FreeTDS, reference section 5.2)
    stream = Scripted(tds_packet(0x12, REPLY[:20], eom=False), tds_packet(0x12, REPLY[20:], eom=False))
    assert exchange_prelogin(stream).encryption == Encryption.REQ


def test_prelogin_close_and_cut_reply():
    with pytest.raises(ConnectionEnded, match="before the PRELOGIN reply"):
        exchange_prelogin(Scripted())
    with pytest.raises(PreloginError):
        exchange_prelogin(Scripted(tds_packet(0x04, REPLY[:20], eom=False)))


def test_prelogin_reply_of_the_wrong_packet_type():
    with pytest.raises(FramingError, match="type"):
        exchange_prelogin(Scripted(tds_packet(0x01, REPLY)))


def test_socket_stream_maps_silence_to_timeout_and_close_to_empty_read():
    left, right = socket.socketpair()
    try:
        stream = SocketStream(left, timeout=0.05, deadline=time.monotonic() + 5)
        with pytest.raises(ConnectionEnded) as caught:
            stream.recv(10)
        assert caught.value.kind == "timeout"
        right.close()
        assert stream.recv(10) == b""
    finally:
        left.close()


def test_socket_stream_enforces_the_exchange_deadline():
    left, right = socket.socketpair()
    try:
        stream = SocketStream(left, timeout=5, deadline=time.monotonic() - 1)
        with pytest.raises(ConnectionEnded, match="deadline"):
            stream.recv(10)
    finally:
        left.close()
        right.close()


def test_socket_stream_maps_reset():
    left, right = socket.socketpair()
    right.close()
    stream = SocketStream(left, timeout=1, deadline=time.monotonic() + 5)
    try:
        with pytest.raises(ConnectionEnded) as caught:
            for _attempt in range(100):  # the first send may still be buffered
                stream.sendall(b"x" * 65536)
        assert caught.value.kind == "reset"
    finally:
        left.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"versions": []}, "versions"),
        ({"versions": ["TLS 1.2"]}, "versions"),
        ({"delay": -1}, "delay"),
        ({"profiles": ["nope"]}, "profile"),
        ({"server_name": "10.0.0.1"}, "server_name"),
        ({"mode": "ssh"}, "mode"),
    ],
)
def test_probe_rejects_bad_arguments_before_any_traffic(kwargs, field):
    mode = kwargs.pop("mode", "tds")
    with pytest.raises(ProbeInputError, match=field):
        probe_endpoint("127.0.0.1:9", mode, **kwargs)  # never contacted


@pytest.mark.parametrize(
    ("targets", "kwargs", "field"),
    [
        (["127.0.0.1:9", "bad:port:x:"], {}, "target"),
        (["127.0.0.1:9"], {"max_workers": 0}, "max_workers"),
        (["127.0.0.1:9"], {"mode": "ssh"}, "mode"),
        (["127.0.0.1:9"], {"versions": []}, "versions"),
        (["127.0.0.1:9"], {"timeout": -1}, "timeout"),
        (["127.0.0.1:9"], {"profiles": ["nope"]}, "profile"),
    ],
)
def test_probe_many_validates_everything_before_the_first_packet(targets, kwargs, field):
    mode = kwargs.pop("mode", "tds")
    with pytest.raises(ProbeInputError, match=field):
        probe_many(targets, mode, **kwargs)
