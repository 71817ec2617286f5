"""PRELOGIN request parsing and the server's reply (MS-TDS 2.2.6.5; reference/tds-tls-probing.md §3-§4)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

TOKEN_VERSION = 0x00
TOKEN_ENCRYPTION = 0x01
TOKEN_INSTOPT = 0x02
TOKEN_THREADID = 0x03
TOKEN_MARS = 0x04
TOKEN_TERMINATOR = 0xFF

ENCRYPT_OFF = 0x00
ENCRYPT_ON = 0x01
ENCRYPT_NOT_SUP = 0x02
ENCRYPT_REQ = 0x03

# The server side of the table: ForceEncryption makes it ON, no certificate makes it NOT_SUP.
SERVER_OFF = "OFF"
SERVER_ON = "ON"
SERVER_NOT_SUP = "NOT_SUP"


class PreloginError(ValueError):
    """Not a structurally valid PRELOGIN: the server closes the connection (MS-TDS 3.3.5.1)."""


@dataclass(frozen=True)
class PreloginRequest:
    # Token -> option data, in the order of the option table.
    options: dict[int, bytes]

    @property
    def encryption(self) -> int | None:
        data = self.options.get(TOKEN_ENCRYPTION)
        return data[0] if data else None


def parse_prelogin(payload: bytes) -> PreloginRequest:
    """Parse a client PRELOGIN; VERSION must be the first option (MS-TDS 3.3.5.1)."""
    options: dict[int, bytes] = {}
    pos = 0
    while True:
        if pos >= len(payload):
            raise PreloginError("option table without terminator")
        token = payload[pos]
        if token == TOKEN_TERMINATOR:
            break
        if pos + 5 > len(payload):
            raise PreloginError("truncated option table")
        offset, length = struct.unpack(">HH", payload[pos + 1 : pos + 5])
        if offset + length > len(payload):
            raise PreloginError(f"option 0x{token:02x} points past the packet")
        options[token] = payload[offset : offset + length]
        pos += 5
    if not options or next(iter(options)) != TOKEN_VERSION:
        raise PreloginError("VERSION is not the first option")
    return PreloginRequest(options)


# (client value, server setting) -> (reply, server terminates after replying). MS-TDS 2.2.6.5,
# transcribed in reference/tds-tls-probing.md §4.
_ENCRYPTION_TABLE: dict[tuple[int, str], tuple[int, bool]] = {
    (ENCRYPT_OFF, SERVER_OFF): (ENCRYPT_OFF, False),
    (ENCRYPT_OFF, SERVER_ON): (ENCRYPT_REQ, False),
    (ENCRYPT_OFF, SERVER_NOT_SUP): (ENCRYPT_NOT_SUP, False),
    (ENCRYPT_ON, SERVER_OFF): (ENCRYPT_ON, False),
    (ENCRYPT_ON, SERVER_ON): (ENCRYPT_ON, False),
    (ENCRYPT_ON, SERVER_NOT_SUP): (ENCRYPT_NOT_SUP, True),
    (ENCRYPT_NOT_SUP, SERVER_OFF): (ENCRYPT_NOT_SUP, False),
    (ENCRYPT_NOT_SUP, SERVER_ON): (ENCRYPT_REQ, True),
    (ENCRYPT_NOT_SUP, SERVER_NOT_SUP): (ENCRYPT_NOT_SUP, False),
    (ENCRYPT_REQ, SERVER_OFF): (ENCRYPT_ON, False),
    (ENCRYPT_REQ, SERVER_ON): (ENCRYPT_ON, False),
    (ENCRYPT_REQ, SERVER_NOT_SUP): (ENCRYPT_NOT_SUP, True),
}


def negotiate_encryption(client_value: int, server_setting: str) -> tuple[int, bool] | None:
    """The ENCRYPTION reply and whether the server then ends the connection.

    Bit 0x80 (client certificate, SQL Server on Linux only) and the reserved bit 0x20 are not
    part of the decision (MS-TDS notes <36>, <37>). None for a value MS-TDS does not define,
    which the listener answers by closing (inference: no source says what SQL Server does).
    """
    return _ENCRYPTION_TABLE.get((client_value & ~0xA0, server_setting))


def build_prelogin_reply(product_version: tuple[int, int, int], encryption: int) -> bytes:
    """Server PRELOGIN payload: VERSION, ENCRYPTION, INSTOPT, THREADID (empty), MARS."""
    major, minor, build = product_version
    entries = [
        (TOKEN_VERSION, struct.pack(">BBHH", major, minor, build, 0)),
        (TOKEN_ENCRYPTION, bytes([encryption])),
        # INSTOPT 0x00: the instance name matched (or none was asked for).
        (TOKEN_INSTOPT, b"\x00"),
        # THREADID: "server replies with length 0" (reference §3).
        (TOKEN_THREADID, b""),
        (TOKEN_MARS, b"\x00"),
    ]
    offset = 5 * len(entries) + 1
    table = bytearray()
    data = bytearray()
    for token, value in entries:
        table += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return bytes(table) + bytes([TOKEN_TERMINATOR]) + bytes(data)
