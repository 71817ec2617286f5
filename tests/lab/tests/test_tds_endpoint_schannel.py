"""The Schannel emulation's decisions and the parsers under it, without sockets.

Expected answers are written by hand from reference/windows-schannel.md and
reference/tds-tls-probing.md, not computed with winlab code.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from winlab.tds import packets, prelogin
from winlab.tds.schannel import Negotiated, Refused, choose_version, negotiate, versions_offered
from winlab.tds.state import EndpointState, ServerCertificate
from winlab.tds.suites import suite_for_windows_name
from winlab.tds.tls_records import ClientHello, ClientHelloAssembler, MalformedHello

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
X25519, P256, P384 = 0x001D, 0x0017, 0x0018


def state(
    suites: tuple[str, ...],
    versions=frozenset({TLS10, TLS11, TLS12}),
    key: str = "RSA",
    tls13_os: bool = False,
) -> EndpointState:
    certificate = ServerCertificate(b"", b"", configured=True, key_type=key)
    return EndpointState(
        "MSSQLSERVER",
        True,
        1433,
        (16, 0, 4135),
        False,
        False,
        certificate,
        frozenset(versions),
        tls13_os,
        suites,
    )


def hello(
    suites: list[int],
    version: int = TLS12,
    groups: list[int] | None = None,
    supported_versions: list[int] | None = None,
    key_shares: dict[int, bytes] | None = None,
    alpn: tuple[bytes, ...] | None = None,
) -> ClientHello:
    return ClientHello(
        version,
        b"\x00" * 32,
        b"",
        tuple(suites),
        b"\x00",
        {},
        tuple(supported_versions) if supported_versions else None,
        tuple(groups) if groups is not None else (X25519, P256, P384),
        alpn,
        key_shares or {},
    )


def chosen(result: Negotiated | Refused) -> tuple[int, str]:
    assert isinstance(result, Negotiated), result
    return result.version, result.suite.windows_name


# ---------------------------------------------------------------- versions


def test_highest_common_version_wins():
    s = state(("TLS_RSA_WITH_AES_128_CBC_SHA",), versions={TLS10, TLS12})
    assert choose_version(hello([0x002F], version=TLS12), s, strict=False) == TLS12
    # A TLS 1.1 client against a server with 1.1 disabled falls back to 1.0 (RFC 5246 E.1).
    assert choose_version(hello([0x002F], version=TLS11), s, strict=False) == TLS10


def test_tls13_only_on_the_strict_path_of_an_os_that_has_it():
    s = state(("TLS_AES_256_GCM_SHA384",), versions={TLS12, TLS13}, tls13_os=True)
    h = hello([0x1302], supported_versions=[TLS13, TLS12], key_shares={X25519: b"k" * 32})
    assert choose_version(h, s, strict=True) == TLS13
    assert choose_version(h, s, strict=False) == TLS12


def test_a_list_without_tls13_suites_makes_the_strict_path_use_tls12():
    s = state(("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",), versions={TLS12, TLS13}, tls13_os=True)
    h = hello([0x1302, 0xC030], supported_versions=[TLS13, TLS12], key_shares={X25519: b"k" * 32})
    assert chosen(negotiate(h, s, strict=True)) == (TLS12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


def test_an_os_without_tls13_reads_legacy_version_and_ignores_supported_versions():
    h = hello([0x002F], version=TLS12, supported_versions=[TLS13])
    assert versions_offered(h, server_knows_supported_versions=False) == {SSL3, TLS10, TLS11, TLS12}
    assert versions_offered(h, server_knows_supported_versions=True) == {TLS13}


def test_no_common_version_is_refused():
    s = state(("TLS_RSA_WITH_AES_128_CBC_SHA",), versions={TLS12})
    result = negotiate(hello([0x002F], version=TLS10), s, strict=False)
    assert result == Refused("no protocol version in common")


# ---------------------------------------------------------------- suites


def test_server_order_wins_over_client_order():
    s = state(("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"))
    result = negotiate(hello([0xC030, 0x002F]), s, strict=False)
    assert chosen(result) == (TLS12, "TLS_RSA_WITH_AES_128_CBC_SHA")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (TLS12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        (TLS11, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
        (TLS10, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    ],
)
def test_gcm_and_sha2_suites_need_tls12(version, expected):
    s = state(
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        )
    )
    assert chosen(negotiate(hello([0xC030, 0xC028, 0xC014], version=version), s, strict=False)) == (
        version,
        expected,
    )


def test_certificate_key_type_filters_suites():
    suites = (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )
    offer = hello([0xC02C, 0x0038, 0xC030])
    for key, expected in (
        ("RSA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        ("EC", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    ):
        assert chosen(negotiate(offer, state(suites, key=key), strict=False))[1] == expected
    # DHE_DSS needs a DSA certificate: never chosen for RSA or EC keys.
    dss_only = hello([0x0038])
    assert isinstance(negotiate(dss_only, state(suites, key="RSA"), strict=False), Refused)
    assert isinstance(negotiate(dss_only, state(suites, key="EC"), strict=False), Refused)


def test_ecdhe_needs_a_shared_curve_and_2012r2_suffixes_pin_it():
    s = state(
        (
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P384",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256",
            "TLS_RSA_WITH_AES_256_CBC_SHA",
        )
    )
    p256_only = negotiate(hello([0xC014, 0x0035], groups=[P256]), s, strict=False)
    assert isinstance(p256_only, Negotiated)
    assert p256_only.suite.windows_name == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256"
    assert p256_only.group == P256
    x25519_only = negotiate(hello([0xC014, 0x0035], groups=[X25519]), s, strict=False)
    assert chosen(x25519_only)[1] == "TLS_RSA_WITH_AES_256_CBC_SHA"


def test_unsuffixed_ecdhe_uses_the_windows_curve_order():
    s = state(("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",))
    result = negotiate(hello([0xC030], groups=[P384, P256]), s, strict=False)
    assert isinstance(result, Negotiated) and result.group == P256


def test_tls13_suites_only_for_tls13_and_tls12_suites_not_for_tls13():
    s = state(
        ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        versions={TLS12, TLS13},
        tls13_os=True,
    )
    tls13 = hello([0x1301, 0xC030], supported_versions=[TLS13, TLS12], key_shares={X25519: b"k" * 32})
    assert chosen(negotiate(tls13, s, strict=True)) == (TLS13, "TLS_AES_128_GCM_SHA256")
    assert chosen(negotiate(tls13, s, strict=False)) == (TLS12, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


def test_ssl3_gets_only_the_suites_schannel_defines_for_it():
    s = state(("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"), versions={SSL3})
    assert chosen(negotiate(hello([0x002F, 0x000A], version=SSL3), s, strict=False)) == (
        SSL3,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    )


def test_unknown_windows_names_are_skipped():
    s = state(("SSL_CK_RC4_128_WITH_MD5", "TLS_PSK_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"))
    assert chosen(negotiate(hello([0x002F, 0x00A9]), s, strict=False))[1] == "TLS_RSA_WITH_AES_128_CBC_SHA"


def test_strict_selects_tds8_alpn_only_when_offered():
    s = state(("TLS_RSA_WITH_AES_128_CBC_SHA",))
    with_alpn = negotiate(hello([0x002F], alpn=(b"h2", b"tds/8.0")), s, strict=True)
    without = negotiate(hello([0x002F], alpn=(b"h2",)), s, strict=True)
    assert isinstance(with_alpn, Negotiated) and with_alpn.alpn == b"tds/8.0"
    assert isinstance(without, Negotiated) and without.alpn is None


def test_2012r2_suffix_maps_to_the_same_iana_id():
    plain = suite_for_windows_name("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384")
    suffixed = suite_for_windows_name("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P384")
    assert plain is not None and suffixed is not None
    assert (plain.iana_id, suffixed.iana_id, suffixed.pinned_group) == (0xC028, 0xC028, P384)
    assert suite_for_windows_name("TLS_RSA_WITH_AES_256_CBC_SHA_P256") is None


# ---------------------------------------------------------------- ClientHello reassembly


def _record_bytes(suites: list[int]) -> bytes:
    exts = struct.pack(">HHH", 10, 4, 2) + struct.pack(">H", P256)
    exts += struct.pack(">HH", 43, 5) + bytes([4]) + struct.pack(">HH", TLS13, TLS12)
    alpn = bytes([7]) + b"tds/8.0"
    exts += struct.pack(">HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    body = (
        struct.pack(">H", TLS12)
        + bytes(32)
        + b"\x00"
        + struct.pack(">H", 2 * len(suites))
        + b"".join(struct.pack(">H", s) for s in suites)
        + b"\x01\x00"
        + struct.pack(">H", len(exts))
        + exts
    )
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return message


@given(
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=6),
    record_split=st.integers(min_value=1, max_value=120),
)
def test_client_hello_reassembles_from_any_split(cuts, record_split):
    message = _record_bytes([0xC030, 0x002F])
    fragments = [message[i : i + record_split] for i in range(0, len(message), record_split)]
    records = b"".join(struct.pack(">BHH", 22, 0x0301, len(f)) + f for f in fragments)
    assembler = ClientHelloAssembler()
    result, pos = None, 0
    for cut in [*cuts, len(records)]:
        piece = records[pos : pos + cut]
        pos += len(piece)
        if piece:
            result = assembler.feed(piece)
        if result is not None or pos >= len(records):
            break
    assert result is not None and pos == len(records)
    assert result.cipher_suites == (0xC030, 0x002F)
    assert result.supported_versions == (TLS13, TLS12)
    assert result.supported_groups == (P256,)
    assert result.alpn_protocols == (b"tds/8.0",)
    assert bytes(assembler.raw) == records


def test_non_handshake_first_record_is_malformed():
    with pytest.raises(MalformedHello):
        ClientHelloAssembler().feed(struct.pack(">BHH", 21, 0x0301, 2) + b"\x02\x28")


def test_truncated_hello_body_is_malformed():
    message = _record_bytes([0x002F])
    bad = message[:4] + message[4:40]
    bad = bad[:1] + (len(bad) - 4).to_bytes(3, "big") + bad[4:]
    with pytest.raises(MalformedHello):
        ClientHelloAssembler().feed(struct.pack(">BHH", 22, 0x0301, len(bad)) + bad)


# ---------------------------------------------------------------- TDS framing and PRELOGIN


def test_messages_split_at_4096_with_eom_on_the_last_packet():
    wire = packets.encode_message(0x12, bytes(10000))
    sizes, statuses, pos = [], [], 0
    while pos < len(wire):
        status, length = wire[pos + 1], struct.unpack(">H", wire[pos + 2 : pos + 4])[0]
        sizes.append(length)
        statuses.append(status)
        pos += length
    assert sizes == [4096, 4096, 10000 - 2 * 4088 + 8]
    assert statuses == [0, 0, 1]


def test_prelogin_parser_requires_version_first_and_bounds():
    # MS-TDS 4.1 sample payload.
    sample = bytes.fromhex(
        "00001a0006 0100200001 0200210001 0300220004 0400260001 ff090000000000 01 00 b80d0000 01"
    )
    parsed = prelogin.parse_prelogin(sample)
    assert parsed.encryption == 0x01
    assert parsed.options[0x00] == bytes.fromhex("090000000000")
    with pytest.raises(prelogin.PreloginError):
        prelogin.parse_prelogin(bytes.fromhex("0100200001") + sample[5:])
    with pytest.raises(prelogin.PreloginError):
        prelogin.parse_prelogin(bytes.fromhex("00ff000006ff"))


@pytest.mark.parametrize(("client", "expected"), [(0x81, (0x01, False)), (0x21, (0x01, False)), (0x04, None)])
def test_client_certificate_and_reserved_bits_do_not_change_the_answer(client, expected):
    assert prelogin.negotiate_encryption(client, prelogin.SERVER_OFF) == expected
