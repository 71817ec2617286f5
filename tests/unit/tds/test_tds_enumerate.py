"""The enumeration algorithm against a scripted server model (no sockets).

The model reads each ClientHello with the test-side parser and answers as a
server with a known configuration would, so the tests state the server's
truth and check the enumerator recovers it (reference section 9).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds import enumerate as enumeration
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.enumerate import (
    enumerate_protocol,
    enumerate_versions,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ConnectionEnded
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.transport import Endpoint, Transport
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import (
    alert,
    certificate_message,
    parse_client_hello,
    record,
    server_hello,
    server_hello_done,
)
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import tls13_server_hello as hello13

TLS10, TLS12, TLS13 = TlsVersion.TLS10, TlsVersion.TLS12, TlsVersion.TLS13
LEAF = b"\x30\x82leaf"


@dataclass
class ModelServer:
    """Accepted suites per version in the server's preference order."""

    accepted: dict[int, list[int]]
    server_preference: bool = True
    refusal: Callable[[], bytes | Exception] = lambda: alert(40)
    hellos: list = field(default_factory=list)
    script: dict[int, bytes | Exception] = field(default_factory=dict)  # connection number -> answer

    def answer(self, wire: bytes) -> bytes | Exception:
        hello = parse_client_hello(wire)
        self.hellos.append(hello)
        if len(self.hellos) in self.script:
            return self.script[len(self.hellos)]
        offered_max = 0x0304 if hello.extensions.get(43) == b"\x02\x03\x04" else hello.client_version
        versions = [v for v in self.accepted if v <= offered_max]
        if not versions:
            return alert(70)
        version = max(versions)
        server_list = self.accepted[version]
        if self.server_preference:
            chosen = next((s for s in server_list if s in hello.suites), None)
        else:
            chosen = next((s for s in hello.suites if s in server_list), None)
        if chosen is None:
            return self.refusal()
        if version == 0x0304:
            return record(22, hello13(chosen))
        return record(22, server_hello(chosen, version) + certificate_message(LEAF) + server_hello_done())


class ModelStream:
    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.pending: list[bytes] = []
        self.closed = False
        self.error: Exception | None = None

    def sendall(self, data: bytes) -> None:
        answer = self.server.answer(data)
        if isinstance(answer, Exception):
            self.error = answer
        else:  # deliver in small pieces, as TCP may
            self.pending = [answer[i : i + 9] for i in range(0, len(answer), 9)]

    def recv(self, bufsize: int) -> bytes:
        if self.pending:
            return self.pending.pop(0)
        if self.error:
            raise self.error
        return b""

    def close(self) -> None:
        self.closed = True


def transport_for(server: ModelServer) -> Transport:
    return Transport("tls", Endpoint("model", 1), lambda: ModelStream(server), (), tls13_applicable=True)


def test_accepted_suites_come_back_in_server_order_in_accepted_plus_two_handshakes():
    server = ModelServer({0x0303: [0x002F, 0xC030, 0x009F]})

    result = enumerate_protocol(transport_for(server), TLS12)

    assert result.accepted
    assert result.suites == (0x002F, 0xC030, 0x009F)
    assert result.suite_names == [
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    ]
    assert result.preference == "server"
    assert result.handshakes == 3 + 1 + 1  # one per suite, the refusal, the order check
    assert result.certificates == (LEAF,)
    assert result.notes == ()
    # each retry offers what is left: the chosen suites disappear one by one
    offers = [set(h.suites) for h in server.hellos[:4]]
    assert offers[0] - offers[1] == {0x002F}
    assert offers[1] - offers[2] == {0xC030}
    assert offers[2] - offers[3] == {0x009F}
    # the order check offers the accepted suites reversed
    assert server.hellos[4].suites == [0x009F, 0xC030, 0x002F]


def test_a_server_that_follows_the_client_is_detected():
    server = ModelServer({0x0303: [0x002F, 0xC030, 0x009F]}, server_preference=False)

    result = enumerate_protocol(transport_for(server), TLS12)

    assert result.preference == "client"
    assert set(result.suites) == {0x002F, 0xC030, 0x009F}


def test_single_suite_needs_no_order_check():
    result = enumerate_protocol(transport_for(ModelServer({0x0303: [0x0035]})), TLS12)
    assert (result.suites, result.preference, result.handshakes) == ((0x0035,), "n/a", 2)


def test_an_unsupported_version_is_one_refused_handshake():
    result = enumerate_protocol(transport_for(ModelServer({0x0303: [0x002F]})), TLS10)

    assert not result.accepted
    assert result.rejection == "alert protocol_version (70)"
    assert result.handshakes == 1


def test_a_server_answering_with_a_lower_version_does_not_accept_the_probed_one():
    result = enumerate_protocol(transport_for(ModelServer({0x0301: [0x002F]})), TLS12)

    assert not result.accepted
    assert result.rejection == "server answered with TLS 1.0"


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (lambda: ConnectionEnded("reset", "RST"), "connection reset"),
        (lambda: ConnectionEnded("closed"), "connection closed"),
        (lambda: b"", "connection closed"),
    ],
)
def test_a_server_that_drops_the_connection_instead_of_alerting(refusal, reason):
    # "If there are no matching suites, the server closes the connection" (reference section 5.2)
    server = ModelServer({0x0303: [0x002F]}, refusal=refusal)
    only_other_suites = [0xC030, 0x009F]

    result = enumerate_protocol(transport_for(server), TLS12, only_other_suites)

    assert not result.accepted
    assert result.rejection == reason


def test_tls13_suites_and_hello_retry_count_as_accepted():
    server = ModelServer({0x0304: [0x1302, 0x1301]})
    server.script[1] = record(22, hello13(0x1302, hello_retry=True))

    result = enumerate_protocol(transport_for(server), TLS13)

    assert result.suites == (0x1302, 0x1301)
    assert result.preference == "server"
    assert result.certificates is None  # encrypted in TLS 1.3
    assert all(h.extensions[43] == b"\x02\x03\x04" for h in server.hellos)


def test_a_suite_that_was_not_offered_stops_the_enumeration_with_a_note():
    server = ModelServer({0x0303: [0x002F, 0x0035]})
    server.script[2] = record(22, server_hello(0x002F) + server_hello_done())  # chosen again after removal

    result = enumerate_protocol(transport_for(server), TLS12)

    assert result.suites == (0x002F,)
    assert result.notes == ("TLS 1.2: server chose TLS_RSA_WITH_AES_128_CBC_SHA, which was not offered",)


def test_a_timeout_in_the_middle_is_reported_as_an_early_stop():
    server = ModelServer({0x0303: [0x002F, 0x0035]})
    server.script[2] = ConnectionEnded("timeout")

    result = enumerate_protocol(transport_for(server), TLS12)

    assert result.suites == (0x002F,)
    assert result.notes == ("TLS 1.2: enumeration stopped early: connection timeout",)


def test_a_malformed_answer_is_a_rejection_and_a_note():
    server = ModelServer({0x0303: [0x002F]})
    server.script[1] = b"\x48\x54\x54\x50/1.1 400\r\n"

    result = enumerate_protocol(transport_for(server), TLS12)

    assert not result.accepted
    assert result.rejection.startswith("malformed answer: record type")
    assert len(result.notes) == 1


def test_hello_then_reset_still_counts_as_accepted():
    server = ModelServer({0x0303: [0x002F]})
    server.script[1] = record(22, server_hello(0x002F))  # then the stream ends without a certificate

    result = enumerate_protocol(transport_for(server), TLS12)

    assert result.suites == (0x002F,)
    assert result.certificates is None


def test_every_connection_is_closed():
    streams: list[ModelStream] = []
    server = ModelServer({0x0303: [0x002F, 0x0035]})

    def connect() -> ModelStream:
        streams.append(ModelStream(server))
        return streams[-1]

    enumerate_protocol(Transport("tls", Endpoint("model", 1), connect, (), True), TLS12)

    assert len(streams) == 4 and all(s.closed for s in streams)


def test_delay_between_handshakes(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(enumeration.time, "sleep", sleeps.append)

    result = enumerate_protocol(transport_for(ModelServer({0x0303: [0x002F, 0x0035]})), TLS12, delay=0.25)

    assert sleeps == [0.25] * (result.handshakes - 1)


def test_unreachable_endpoint_propagates():
    def refuse():
        raise ConnectionEnded("refused")

    with pytest.raises(ConnectionEnded, match="refused"):
        enumerate_protocol(Transport("tls", Endpoint("model", 1), refuse, (), True), TLS12)


def test_enumerate_versions_covers_each_version():
    server = ModelServer({0x0301: [0x002F], 0x0303: [0xC030, 0x002F]})

    results = enumerate_versions(transport_for(server), [TLS10, TLS12, TLS13])

    assert {v: r.suites for v, r in results.items()} == {TLS10: (0x002F,), TLS12: (0xC030, 0x002F), TLS13: ()}


def test_losing_the_endpoint_midway_keeps_what_was_found():
    server = ModelServer({0x0303: [0x002F, 0x0035]})
    connections = 0

    def connect() -> ModelStream:
        nonlocal connections
        connections += 1
        if connections > 1:
            raise ConnectionEnded("refused")
        return ModelStream(server)

    result = enumerate_protocol(Transport("tls", Endpoint("model", 1), connect, (), True), TLS12)

    assert result.suites == (0x002F,)
    assert result.notes == ("TLS 1.2: enumeration stopped early: connection refused",)
