"""PRELOGIN message (MS-TDS 2.2.6.5): build the client's, parse the server's.

Layout (reference/tds-tls-probing.md section 3): an option table of 5-byte
entries ``token | offset (BE16) | length (BE16)`` ended by 0xFF, then the
option data; offsets count from the start of the payload. VERSION must be the
first option or SQL Server closes the connection (MS-TDS 3.3.5.1).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .errors import PreloginError, ProbeInputError

OPTION_VERSION = 0x00
OPTION_ENCRYPTION = 0x01
OPTION_INSTOPT = 0x02
OPTION_THREADID = 0x03
OPTION_MARS = 0x04
OPTION_TRACEID = 0x05
OPTION_FEDAUTHREQUIRED = 0x06
OPTION_NONCEOPT = 0x07
TERMINATOR = 0xFF

_ENTRY = struct.Struct(">BHH")

# ENCRYPT_CLIENT_CERT (0x80) is OR-ed onto OFF/ON/REQ by SQL Server on Linux only (section 4).
CLIENT_CERT_BIT = 0x80


class Encryption(enum.IntEnum):
    OFF = 0x00
    ON = 0x01
    NOT_SUP = 0x02
    REQ = 0x03

    @property
    def wire_name(self) -> str:
        return f"ENCRYPT_{self.name}"


_KNOWN_VALUES = frozenset(member.value for member in Encryption)

# A recent client version; servers do not act on it, but it must be present and first.
DEFAULT_CLIENT_VERSION = bytes([0x10, 0x00, 0x00, 0x00, 0x00, 0x00])


def build_prelogin(
    encryption: int = Encryption.OFF,
    *,
    client_version: bytes = DEFAULT_CLIENT_VERSION,
    instance: str = "",
    thread_id: int = 0,
    mars: bool = False,
) -> bytes:
    """PRELOGIN payload (without the TDS header) with VERSION as the first option."""
    if not 0 <= encryption <= 0xFF:
        raise ProbeInputError("encryption", "a byte value 0..255", encryption)
    if len(client_version) != 6:
        raise ProbeInputError("client_version", "6 bytes (UL_VERSION + US_SUBBUILD)", client_version)
    if not 0 <= thread_id <= 0xFFFFFFFF:
        raise ProbeInputError("thread_id", "an unsigned 32-bit integer", thread_id)
    if not instance.isascii() or "\x00" in instance:
        raise ProbeInputError("instance", "an ASCII instance name without NUL", instance)
    options = [
        (OPTION_VERSION, client_version),
        (OPTION_ENCRYPTION, bytes([encryption])),
        (OPTION_INSTOPT, instance.encode("ascii") + b"\x00"),
        (OPTION_THREADID, struct.pack(">I", thread_id)),
        (OPTION_MARS, b"\x01" if mars else b"\x00"),
    ]
    offset = len(options) * _ENTRY.size + 1
    table, data = bytearray(), bytearray()
    for token, value in options:
        table += _ENTRY.pack(token, offset + len(data), len(value))
        data += value
    return bytes(table) + bytes([TERMINATOR]) + bytes(data)


@dataclass(frozen=True)
class PreloginReply:
    """What the server said; ``None`` for an option it did not send."""

    version: tuple[int, int, int, int] | None
    encryption: int | None
    instance: int | None
    mars: int | None
    fedauth_required: int | None
    unknown_tokens: tuple[int, ...] = ()

    @property
    def version_text(self) -> str | None:
        if self.version is None:
            return None
        major, minor, build, _subbuild = self.version
        return f"{major}.{minor}.{build}"


def parse_prelogin(payload: bytes) -> PreloginReply:
    """Parse a server PRELOGIN payload; anything malformed raises PreloginError.

    Every offset and length is bounds-checked, the terminator is required and
    unknown tokens are skipped, as go-mssqldb's ``readPreloginOption`` does.
    """
    options: dict[int, bytes] = {}
    unknown: list[int] = []
    position = 0
    while True:
        if position >= len(payload):
            raise PreloginError("option table", "ended without the 0xFF terminator")
        token = payload[position]
        if token == TERMINATOR:
            break
        if position + _ENTRY.size > len(payload):
            raise PreloginError(f"option 0x{token:02X}", "table entry is truncated")
        _token, offset, length = _ENTRY.unpack_from(payload, position)
        position += _ENTRY.size
        if offset + length > len(payload):
            raise PreloginError(
                f"option 0x{token:02X}",
                f"data at offset {offset} length {length} runs past the payload ({len(payload)} bytes)",
            )
        if token > OPTION_NONCEOPT:
            unknown.append(token)
        options.setdefault(token, payload[offset : offset + length])
    return PreloginReply(
        version=_version(options.get(OPTION_VERSION)),
        encryption=_single_byte(options, OPTION_ENCRYPTION, "ENCRYPTION"),
        instance=_single_byte(options, OPTION_INSTOPT, "INSTOPT"),
        mars=_single_byte(options, OPTION_MARS, "MARS"),
        fedauth_required=_single_byte(options, OPTION_FEDAUTHREQUIRED, "FEDAUTHREQUIRED"),
        unknown_tokens=tuple(unknown),
    )


def _version(data: bytes | None) -> tuple[int, int, int, int] | None:
    if data is None:
        return None
    if len(data) < 6:
        raise PreloginError("VERSION", f"expected 6 bytes, got {len(data)}")
    # Server reply: major = byte 0, minor = byte 1, build = BE16 of bytes 2-3 (section 3).
    major, minor, build, subbuild = struct.unpack_from(">BBHH", data)
    return major, minor, build, subbuild


def _single_byte(options: dict[int, bytes], token: int, name: str) -> int | None:
    data = options.get(token)
    if data is None:
        return None
    if not data:
        raise PreloginError(name, "option is present but empty")
    return data[0]


@dataclass(frozen=True)
class EncryptionAnswer:
    """The ENCRYPTION reply read against what the client sent (section 4 table)."""

    sent: str
    value: int | None
    name: str
    forced: bool | None
    tls_available: bool | None
    client_cert: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "answer": self.value,
            "answer_name": self.name,
            "forced": self.forced,
            "tls_available": self.tls_available,
            "client_cert": self.client_cert,
        }


def interpret_encryption(value: int | None, sent: int = Encryption.OFF) -> EncryptionAnswer:
    """What the server's ENCRYPTION byte means.

    Only a client that sent ENCRYPT_OFF learns whether ForceEncryption is set:
    the server answers REQ when forced, OFF when not and NOT_SUP without TLS;
    ENCRYPT_ON gets ON either way (reference/tds-tls-probing.md section 4).
    """
    sent_name = Encryption(sent).wire_name if sent in _KNOWN_VALUES else f"0x{sent:02X}"
    if value is None:
        return EncryptionAnswer(sent_name, None, "absent", None, None, False)
    client_cert = bool(value & CLIENT_CERT_BIT)
    base = value & ~CLIENT_CERT_BIT
    if base not in _KNOWN_VALUES:
        return EncryptionAnswer(sent_name, value, f"unknown (0x{value:02X})", None, None, client_cert)
    answer = Encryption(base)
    tls_available = answer is not Encryption.NOT_SUP
    if answer is Encryption.NOT_SUP:
        forced: bool | None = False
    elif sent == Encryption.OFF:
        forced = {Encryption.OFF: False, Encryption.REQ: True}.get(answer)
    else:
        forced = None
    return EncryptionAnswer(sent_name, value, answer.wire_name, forced, tls_available, client_cert)
