"""Parsing the server's first flight: hand-built records and real OpenSSL answers (reference section 9)."""

from __future__ import annotations

import ssl

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.clienthello import (
    HelloOptions,
    build_client_hello,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import TlsRecordError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.serverhello import parse_server_flight
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import (
    alert,
    certificate_message,
    extension,
    handshake,
    record,
    server_hello,
    server_hello_done,
    tls13_server_hello,
)

LEAF, INTERMEDIATE = b"\x30\x82leaf-der", b"\x30\x82intermediate-der"
TLS12_FLIGHT = record(
    22,
    server_hello(0x009F)
    + certificate_message(LEAF, INTERMEDIATE)
    + handshake(12, b"dh")
    + server_hello_done(),
)


def test_a_tls12_flight_gives_version_suite_and_chain():
    flight = parse_server_flight(TLS12_FLIGHT)

    assert flight.hello.version == 0x0303
    assert flight.hello.cipher_suite == 0x009F
    assert flight.hello.is_hello_retry is False
    assert flight.certificates == (LEAF, INTERMEDIATE)
    assert flight.hello_done and flight.finished


def test_every_prefix_parses_and_each_part_appears_once_its_record_is_complete():
    parts = [
        record(22, server_hello(0x009F)),
        record(22, certificate_message(LEAF)),
        record(22, server_hello_done()),
    ]
    ends = [len(b"".join(parts[: i + 1])) for i in range(3)]
    data = b"".join(parts)

    for cut in range(len(data) + 1):
        flight = parse_server_flight(data[:cut])
        assert (flight.hello is not None) == (cut >= ends[0]), cut
        assert (flight.certificates is not None) == (cut >= ends[1]), cut
        assert flight.hello_done == (cut >= ends[2]), cut


def test_handshake_messages_spanning_records_are_reassembled():
    messages = server_hello(0x002F) + certificate_message(LEAF) + server_hello_done()
    records = b"".join(record(22, messages[i : i + 7]) for i in range(0, len(messages), 7))

    flight = parse_server_flight(records)

    assert flight.hello.cipher_suite == 0x002F
    assert flight.certificates == (LEAF,)
    assert flight.hello_done


def test_the_hello_is_available_before_the_certificate_arrives():
    flight = parse_server_flight(
        record(22, server_hello(0xC030)) + record(22, certificate_message(LEAF))[:20]
    )
    assert flight.hello.cipher_suite == 0xC030
    assert flight.certificates is None
    assert not flight.finished


def test_tls13_version_comes_from_supported_versions_and_alpn_is_read():
    flight = parse_server_flight(
        record(22, tls13_server_hello(0x1302, alpn="tds/8.0"))
        + record(20, b"\x01")
        + record(23, b"\x99" * 40)
    )

    assert flight.hello.legacy_version == 0x0303
    assert flight.hello.version == 0x0304
    assert flight.hello.cipher_suite == 0x1302
    assert flight.hello.alpn == "tds/8.0"
    assert flight.encrypted_from_here and flight.finished
    assert flight.certificates is None  # encrypted under TLS 1.3


def test_hello_retry_request_is_recognised():
    flight = parse_server_flight(record(22, tls13_server_hello(0x1301, hello_retry=True)))
    assert flight.hello.is_hello_retry
    assert flight.finished


@pytest.mark.parametrize(("description", "name"), [(40, "handshake_failure"), (70, "protocol_version")])
def test_an_alert_instead_of_a_hello(description, name):
    flight = parse_server_flight(alert(description))
    assert flight.hello is None
    assert (flight.alert.description, flight.alert.name) == (description, name)
    assert flight.finished


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "record type"),
        (b"\x16\x02\x00\x00\x01\x00", "record version"),
        (b"\x16\x03\x03\x50\x00", "record length"),
        (record(22, b""), "handshake record"),
        (record(21, b"\x02"), "alert"),
        (record(22, handshake(11, b"\x00\x00\x00")), "handshake type"),
        (record(23, b"data"), "record type"),
        (record(22, handshake(2, b"\x03\x03" + b"\x00" * 10)), "ServerHello.random"),
        (record(22, server_hello(0x2F, session_id=b"\x00" * 33)), "ServerHello.session_id"),
        (record(22, server_hello(0x2F, extensions=extension(43, b"\x03"))), "ServerHello.supported_versions"),
        (record(22, server_hello(0x2F, extensions=extension(16, b"\x00\x01\x00"))), "ServerHello.alpn"),
        (
            record(22, server_hello(0x2F, extensions=extension(1, b"") + extension(1, b""))),
            "ServerHello.extensions",
        ),
        (
            record(22, server_hello(0x2F) + handshake(11, b"\x00\x00\x05\x00\x00\x09")),
            "Certificate.certificate_list",
        ),
        (
            record(22, server_hello(0x2F) + handshake(11, b"\x00\x00\x03\x00\x00\x00")),
            "Certificate.certificate_list",
        ),
        (record(22, server_hello(0x2F) + handshake(4, b"")), "handshake type"),
        (record(22, bytes([2, 0x7F, 0xFF, 0xFF])), "handshake message 2"),
    ],
)
def test_malformed_flights_raise_tls_record_errors_naming_the_part(data, field):
    with pytest.raises(TlsRecordError) as caught:
        parse_server_flight(data)
    assert caught.value.field.startswith(field)


@pytest.mark.parametrize(
    ("version", "ssl_version", "ciphers", "expected_suite"),
    [
        (TlsVersion.TLS12, ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-SHA256", 0xC027),
        (TlsVersion.TLS10, ssl.TLSVersion.TLSv1, "AES256-SHA", 0x0035),
        (TlsVersion.TLS13, ssl.TLSVersion.TLSv1_3, "ALL", 0x1301),
    ],
)
def test_real_openssl_flights(
    openssl_answer, server_credential, version, ssl_version, ciphers, expected_suite
):
    offer = (0x1301,) if version is TlsVersion.TLS13 else (0xC027, 0x0035, 0x002F)
    hello = build_client_hello(HelloOptions(version, offer))

    flight = parse_server_flight(
        openssl_answer(hello, ciphers=ciphers, minimum=ssl_version, maximum=ssl_version)
    )

    assert flight.hello.version == version
    assert flight.hello.cipher_suite == expected_suite
    if version is TlsVersion.TLS13:
        assert flight.certificates is None
    else:
        assert flight.certificates == (server_credential.der,)
        assert flight.hello_done


def test_real_openssl_refusal_is_an_alert(openssl_answer):
    hello = build_client_hello(HelloOptions(TlsVersion.TLS10, (0x0035,)))

    flight = parse_server_flight(openssl_answer(hello, minimum=ssl.TLSVersion.TLSv1_2))

    assert flight.hello is None
    assert flight.alert.name == "protocol_version"
