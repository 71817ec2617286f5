"""PRELOGIN build/parse and the ENCRYPTION answer (MS-TDS 2.2.6.5; reference sections 3 and 4)."""

from __future__ import annotations

import struct

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import PreloginError, ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.prelogin import (
    Encryption,
    build_prelogin,
    interpret_encryption,
    parse_prelogin,
)

# MS-TDS 4.1 sample, payload after the 8-byte header (reference section 3).
SPEC_SAMPLE = bytes.fromhex(
    "00001A0006 0100200001 0200210001 0300220004 0400260001 FF 090000000000 01 00 B80D0000 01".replace(
        " ", ""
    )
)


def _options(payload: bytes) -> list[tuple[int, bytes]]:
    """Independent reader of the option table, for checking what build_prelogin wrote."""
    out, position = [], 0
    while payload[position] != 0xFF:
        token, offset, length = struct.unpack_from(">BHH", payload, position)
        out.append((token, payload[offset : offset + length]))
        position += 5
    return out


def test_the_spec_sample_parses():
    reply = parse_prelogin(SPEC_SAMPLE)

    assert reply.version == (9, 0, 0, 0)
    assert reply.version_text == "9.0.0"
    assert reply.encryption == Encryption.ON
    assert reply.instance == 0
    assert reply.mars == 1
    assert reply.unknown_tokens == ()


def test_built_prelogin_has_version_first_and_the_requested_encryption():
    payload = build_prelogin(Encryption.OFF)

    options = _options(payload)
    assert options[0][0] == 0x00  # VERSION first, or SQL Server closes (MS-TDS 3.3.5.1)
    assert len(options[0][1]) == 6
    assert dict(options)[0x01] == b"\x00"
    assert dict(options)[0x02] == b"\x00"  # default instance
    assert len(dict(options)[0x03]) == 4
    # data starts right after the 5-byte entries and the terminator
    assert struct.unpack_from(">H", payload, 1)[0] == 5 * len(options) + 1


def test_instance_name_is_nul_terminated():
    assert dict(_options(build_prelogin(instance="SQLEXPRESS")))[0x02] == b"SQLEXPRESS\x00"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"encryption": 256}, "encryption"),
        ({"client_version": b"\x01"}, "client_version"),
        ({"thread_id": -1}, "thread_id"),
        ({"instance": "naïve"}, "instance"),
    ],
)
def test_bad_build_arguments_name_the_field(kwargs, field):
    with pytest.raises(ProbeInputError, match=field):
        build_prelogin(**kwargs)


def test_a_real_server_answer_with_unknown_tokens_is_understood():
    # SQL Server 2019 style reply plus an option from the future (0x42) that must be skipped
    data = bytes([0x0F, 0x00, 0x0F, 0xA0, 0x00, 0x00]) + b"\x03" + b"\x00" + b"\x00" + b"\xde\xad"
    table = [(0x00, 6), (0x01, 1), (0x02, 1), (0x04, 1), (0x42, 2)]
    offset, entries = 5 * len(table) + 1, b""
    for token, length in table:
        entries += struct.pack(">BHH", token, offset, length)
        offset += length
    reply = parse_prelogin(entries + b"\xff" + data)

    assert reply.version_text == "15.0.4000"
    assert reply.encryption == Encryption.REQ
    assert reply.unknown_tokens == (0x42,)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"", "option table"),
        (b"\x00\x00\x05\x00\x00", "option table"),  # no terminator
        (b"\x00\x00", "option 0x00"),  # truncated entry
        (b"\x00\x00\x06\x00\x06\xff\x01", "option 0x00"),  # data runs past the end
        (b"\x01\x00\x06\x00\x00\xff", "ENCRYPTION"),  # present but empty
        (b"\x00\x00\x06\x00\x02\xff\x0f\x00", "VERSION"),  # too short
    ],
)
def test_malformed_replies_raise_prelogin_errors_naming_the_field(payload, field):
    with pytest.raises(PreloginError) as caught:
        parse_prelogin(payload)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("answer", "name", "forced", "tls"),
    [
        (0x00, "ENCRYPT_OFF", False, True),
        (0x03, "ENCRYPT_REQ", True, True),
        (0x02, "ENCRYPT_NOT_SUP", False, False),
        (0x01, "ENCRYPT_ON", None, True),  # not a valid answer to OFF: cannot tell
    ],
)
def test_answers_to_encrypt_off_tell_whether_encryption_is_forced(answer, name, forced, tls):
    result = interpret_encryption(answer, Encryption.OFF)

    assert (result.name, result.forced, result.tls_available) == (name, forced, tls)
    assert result.sent == "ENCRYPT_OFF"


def test_encrypt_on_cannot_reveal_forced_encryption():
    assert interpret_encryption(0x01, Encryption.ON).forced is None


def test_linux_client_cert_bit_is_separated():
    result = interpret_encryption(0x83, Encryption.OFF)
    assert (result.name, result.forced, result.client_cert) == ("ENCRYPT_REQ", True, True)


def test_unknown_and_absent_answers():
    assert interpret_encryption(0x20).name == "unknown (0x20)"
    assert interpret_encryption(None).to_dict() == {
        "sent": "ENCRYPT_OFF",
        "answer": None,
        "answer_name": "absent",
        "forced": None,
        "tls_available": None,
        "client_cert": False,
    }
