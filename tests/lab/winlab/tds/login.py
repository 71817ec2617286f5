"""LOGIN7 in, "Login failed" out (MS-TDS 2.2.6.4 LOGIN7, 2.2.7.10 ERROR, 2.2.7.6 DONE).

The lab has no databases: once a client got through TLS it learns that its login failed, the
way a real instance answers wrong credentials (error 18456, class 14, state 1).
"""

from __future__ import annotations

import struct

TOKEN_ERROR = 0xAA
TOKEN_DONE = 0xFD
DONE_ERROR = 0x0002

LOGIN_FAILED = 18456
LOGIN_FAILED_CLASS = 14

# LOGIN7: fixed part of 36 bytes, then (offset, length) pairs; the user name is the second pair.
_USERNAME_FIELD = 40


def login_user_name(login7: bytes) -> str:
    """The user name of a LOGIN7 message, or "" when absent or unreadable."""
    if len(login7) < _USERNAME_FIELD + 4:
        return ""
    offset, chars = struct.unpack("<HH", login7[_USERNAME_FIELD : _USERNAME_FIELD + 4])
    raw = login7[offset : offset + 2 * chars]
    if len(raw) != 2 * chars:
        return ""
    return raw.decode("utf-16-le", errors="replace")


def _us_varchar(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<H", len(text)) + encoded


def _b_varchar(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<B", len(text)) + encoded


def build_login_failed_reply(user_name: str, server_name: str) -> bytes:
    """Token stream: ERROR 18456 then DONE with the error bit (payload of a 0x04 packet)."""
    message = f"Login failed for user '{user_name}'."
    body = (
        struct.pack("<iBB", LOGIN_FAILED, 1, LOGIN_FAILED_CLASS)
        + _us_varchar(message)
        + _b_varchar(server_name)
        + _b_varchar("")
        + struct.pack("<i", 1)
    )
    error = struct.pack("<BH", TOKEN_ERROR, len(body)) + body
    done = struct.pack("<BHHQ", TOKEN_DONE, DONE_ERROR, 0, 0)
    return error + done
