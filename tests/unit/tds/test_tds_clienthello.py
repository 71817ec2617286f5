"""The raw ClientHello, read back by an independent strict parser (RFC 5246 7.4.1.2, RFC 8446 4.1.2)."""

from __future__ import annotations

import struct

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.clienthello import (
    HelloOptions,
    build_client_hello,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from ansible_collections.mssql.tls.tests.unit.tds.tds_wire_builders import parse_client_hello

SUITES = (0xC030, 0x009F, 0x000A, 0x0005)


def test_tls12_hello_carries_version_suites_and_the_usual_extensions():
    random = bytes(range(32))
    wire = build_client_hello(
        HelloOptions(TlsVersion.TLS12, SUITES, server_name="sql01.corp.test"), random=random
    )

    hello = parse_client_hello(wire)

    assert hello.record_version == 0x0301  # the safe record version (reference section 9)
    assert hello.client_version == 0x0303
    assert hello.random == random
    assert hello.session_id == b""
    assert hello.suites == list(SUITES)
    assert hello.compression == b"\x00"
    assert hello.extensions[0] == b"\x00\x12\x00\x00\x0fsql01.corp.test"  # server_name list, host_name type
    assert hello.extensions[11] == b"\x01\x00"  # uncompressed points
    assert hello.extensions[0xFF01] == b"\x00"  # empty renegotiated_connection
    groups = hello.extensions[10]
    assert struct.unpack(f">H{len(groups) // 2 - 1}H", groups)[1:] == (0x1D, 0x17, 0x18, 0x19, 0x100, 0x101)
    assert 0x0401 in struct.unpack(f">{len(hello.extensions[13]) // 2}H", hello.extensions[13])
    assert 43 not in hello.extensions and 51 not in hello.extensions and 16 not in hello.extensions


def test_tls13_hello_keeps_legacy_version_12_and_offers_only_13_with_an_x25519_share():
    share = b"\x5a" * 32
    wire = build_client_hello(HelloOptions(TlsVersion.TLS13, (0x1301, 0x1302)), key_share=share)

    hello = parse_client_hello(wire)

    assert hello.client_version == 0x0303
    assert hello.extensions[43] == b"\x02\x03\x04"
    assert hello.extensions[51] == b"\x00\x24\x00\x1d\x00\x20" + share
    assert hello.extensions[45] == b"\x01\x01"
    assert 13 in hello.extensions  # signature_algorithms is mandatory for certificate auth in 1.3
    assert 11 not in hello.extensions and 0xFF01 not in hello.extensions


def test_ssl3_hello_has_no_extensions_and_record_version_3_0():
    hello = parse_client_hello(build_client_hello(HelloOptions(TlsVersion.SSL3, (0x000A,))))
    assert (hello.record_version, hello.client_version) == (0x0300, 0x0300)
    assert hello.extensions == {}


def test_tls10_hello_has_no_signature_algorithms():
    hello = parse_client_hello(build_client_hello(HelloOptions(TlsVersion.TLS10, (0xC014,))))
    assert hello.client_version == 0x0301
    assert 13 not in hello.extensions


def test_alpn_for_the_strict_path():
    hello = parse_client_hello(
        build_client_hello(HelloOptions(TlsVersion.TLS12, (0xC030,), alpn=("tds/8.0",)))
    )
    assert hello.extensions[16] == b"\x00\x08\x07tds/8.0"


def test_openssl_answers_the_hello_with_the_offered_suite(openssl_answer):
    # A second, independent parser: an in-memory OpenSSL server picks from our offer.
    reply = openssl_answer(
        build_client_hello(HelloOptions(TlsVersion.TLS12, (0xC02F,), server_name="db.test"))
    )

    assert reply[0] == 22  # handshake record, not an alert
    assert reply[5] == 2  # ServerHello
    session_id_length = reply[5 + 4 + 2 + 32]
    suite_at = 5 + 4 + 2 + 32 + 1 + session_id_length
    assert struct.unpack_from(">H", reply, suite_at)[0] == 0xC02F


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (HelloOptions(TlsVersion.TLS12, ()), "suites"),
        (HelloOptions(TlsVersion.TLS12, (0x10000,)), "suites"),
        (HelloOptions(TlsVersion.TLS12, (0x2F,), alpn=("",)), "alpn"),
        (HelloOptions(TlsVersion.TLS12, (0x2F,), server_name="127.0.0.1"), "server_name"),
        (HelloOptions(TlsVersion.TLS12, (0x2F,), server_name="x" * 254), "server_name"),
        (HelloOptions(0x0303, (0x2F,)), "version"),  # type: ignore[arg-type]
    ],
)
def test_bad_options_name_the_field(options, field):
    with pytest.raises(ProbeInputError, match=field):
        build_client_hello(options)


def test_random_and_key_share_must_be_32_bytes():
    with pytest.raises(ProbeInputError, match="random"):
        build_client_hello(HelloOptions(TlsVersion.TLS12, (0x2F,)), random=b"short")
    with pytest.raises(ProbeInputError, match="key_share"):
        build_client_hello(HelloOptions(TlsVersion.TLS13, (0x1301,)), key_share=b"short")
