"""TLS protocol versions as they appear on the wire and in Schannel's registry key names."""

from __future__ import annotations

SSL3 = 0x0300
TLS10 = 0x0301
TLS11 = 0x0302
TLS12 = 0x0303
TLS13 = 0x0304

# Schannel protocol key names (reference/windows-schannel.md §1). SSL 2.0 is left out: its
# hello has a different record format that no client of a SQL Server sends.
VERSION_BY_SCHANNEL_NAME: dict[str, int] = {
    "SSL 3.0": SSL3,
    "TLS 1.0": TLS10,
    "TLS 1.1": TLS11,
    "TLS 1.2": TLS12,
    "TLS 1.3": TLS13,
}

SCHANNEL_NAME_BY_VERSION: dict[int, str] = {v: k for k, v in VERSION_BY_SCHANNEL_NAME.items()}

ALL_VERSIONS: tuple[int, ...] = (SSL3, TLS10, TLS11, TLS12, TLS13)


def version_label(version: int) -> str:
    return SCHANNEL_NAME_BY_VERSION.get(version, f"0x{version:04x}")
