"""SSL/TLS protocol versions as the prober names them.

Names follow the Schannel protocol key names ("TLS 1.2", windows-schannel.md
section 1) so probe results line up with the registry facts of the same host.
"""

from __future__ import annotations

import enum

from .errors import ProbeInputError


class TlsVersion(enum.IntEnum):
    """Wire value of ``ProtocolVersion`` (RFC 5246 / RFC 8446)."""

    SSL3 = 0x0300
    TLS10 = 0x0301
    TLS11 = 0x0302
    TLS12 = 0x0303
    TLS13 = 0x0304

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> TlsVersion:
        for version, text in _LABELS.items():
            if text == label:
                return version
        raise ProbeInputError("protocol", f"one of {list(_LABELS.values())}", label)


_LABELS = {
    TlsVersion.SSL3: "SSL 3.0",
    TlsVersion.TLS10: "TLS 1.0",
    TlsVersion.TLS11: "TLS 1.1",
    TlsVersion.TLS12: "TLS 1.2",
    TlsVersion.TLS13: "TLS 1.3",
}

ALL_VERSIONS: tuple[TlsVersion, ...] = tuple(TlsVersion)

# Python's SSLObject.version() spelling -> ours.
_STDLIB_NAMES = {
    "SSLv3": TlsVersion.SSL3,
    "TLSv1": TlsVersion.TLS10,
    "TLSv1.1": TlsVersion.TLS11,
    "TLSv1.2": TlsVersion.TLS12,
    "TLSv1.3": TlsVersion.TLS13,
}


def from_stdlib_name(name: str | None) -> TlsVersion | None:
    """Map ``ssl.SSLObject.version()`` output to a :class:`TlsVersion`."""
    return _STDLIB_NAMES.get(name or "")


def wire_name(value: int) -> str:
    """Readable name for any 16-bit version value a server may send."""
    try:
        return TlsVersion(value).label
    except ValueError:
        return f"0x{value:04X}"
