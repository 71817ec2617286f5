"""Private-key DACLs as SDDL: does a SID have read access, and the DACL that grants it.

The agent reads and writes a key's DACL as DACL-only SDDL (``D:<flags>(<ace>)...``, rendered by
.NET ``RawSecurityDescriptor.GetSddlForm``; docs/agent-protocol.md "Certificates and private
keys"), the same way for CSP and CNG keys (docs/reference-windows-bindings.md 5).

What "read" means (reference-windows-bindings.md 5, "Rule for the collection", inference): an
allow ACE for the SID, not inherit-only, whose mask has ``GENERIC_READ`` (0x80000000), or all
of ``FileSystemRights.Read`` (0x20089, what dbatools writes and SqlServerDsc tests), or
``GENERIC_ALL`` (0x10000000) / full control (``FILE_ALL_ACCESS`` 0x1F01FF).

What we grant: ``GENERIC_READ`` only, ``(A;;GR;;;<SID>)``. It is what ansible.windows'
``_CertACLHelper.cs`` writes for "Read" on a certificate's key (``Read = 0x80000000``) and the
right a key descriptor is checked against through its provider (CryptoKeyRights.GenericRead
"Read the key data, ... and permissions for the key"); the file-right mask 0x20089 describes a
file, and a CNG key's descriptor is not known to be the file's (section 5, "no source found").
The ACE goes after the explicit ACEs and before the inherited ones (``ID``), the canonical order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GENERIC_READ = 0x80000000
GENERIC_ALL = 0x10000000
FILE_READ = 0x20089  # FileSystemRights.Read
FILE_ALL_ACCESS = 0x1F01FF
GRANT_RIGHTS = "GR"

# SDDL access-right strings (MicrosoftDocs/win32 desktop-src/SecAuthZ/ace-strings.md).
_RIGHTS = {
    "GA": GENERIC_ALL,
    "GR": GENERIC_READ,
    "GW": 0x40000000,
    "GX": 0x20000000,
    "RC": 0x20000,
    "SD": 0x10000,
    "WD": 0x40000,
    "WO": 0x80000,
    "RP": 0x10,
    "WP": 0x20,
    "CC": 0x1,
    "DC": 0x2,
    "LC": 0x4,
    "SW": 0x8,
    "LO": 0x80,
    "DT": 0x40,
    "CR": 0x100,
    "FA": FILE_ALL_ACCESS,
    "FR": 0x120089,
    "FW": 0x120116,
    "FX": 0x1200A0,
    "KA": 0xF003F,
    "KR": 0x20019,
    "KW": 0x20006,
    "KX": 0x20019,
}
_DACL = re.compile(r"^D:(?P<flags>[A-Z_]*?)(?P<aces>(?:\([^()]*\))*)$")
_ACE = re.compile(r"\(([^()]*)\)")


class SddlError(ValueError):
    """A DACL string this module cannot read; planning against it is refused."""


@dataclass(frozen=True)
class Ace:
    text: str  # as written, without the parentheses
    type: str  # A (allow), D (deny), ...
    flags: str
    mask: int
    sid: str

    @property
    def inherited(self) -> bool:
        return "ID" in _pairs(self.flags)

    @property
    def inherit_only(self) -> bool:
        return "IO" in _pairs(self.flags)


def _pairs(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def _mask(text: str) -> int:
    if text.lower().startswith("0x"):
        return int(text, 16)
    if text.isdigit():
        return int(text)
    mask = 0
    for right in _pairs(text):
        if right not in _RIGHTS:
            raise SddlError(f"unknown access right {right!r} in {text!r}")
        mask |= _RIGHTS[right]
    return mask


def parse_dacl(sddl: str) -> tuple[str, list[Ace]]:
    """(DACL flags, ACEs) of ``D:<flags>(<ace>)...``."""
    match = _DACL.match(sddl or "")
    if not match:
        raise SddlError(f"expected a DACL in SDDL form ('D:...'), got {sddl!r}")
    aces = []
    for text in _ACE.findall(match["aces"]):
        fields = text.split(";")
        if len(fields) < 6:
            raise SddlError(f"ACE ({text}): expected 6 fields")
        ace_type, flags, rights, sid = fields[0], fields[1], fields[2], fields[5]
        aces.append(Ace(text, ace_type, flags, _mask(rights) if rights else 0, sid))
    return match["flags"], aces


def _reads(mask: int) -> bool:
    return bool(
        mask & (GENERIC_READ | GENERIC_ALL)
        or mask & FILE_READ == FILE_READ
        or mask & FILE_ALL_ACCESS == FILE_ALL_ACCESS
    )


def _is(ace: Ace, sid: str) -> bool:
    return ace.sid.upper() == sid.upper() and not ace.inherit_only


def grants_read(sddl: str, sid: str) -> bool:
    return any(ace.type == "A" and _is(ace, sid) and _reads(ace.mask) for ace in parse_dacl(sddl)[1])


def denies_read(sddl: str, sid: str) -> bool:
    """A deny ACE for the SID takes read rights away: an allow ACE after it would not help."""
    read_bits = GENERIC_READ | GENERIC_ALL | FILE_READ
    return any(ace.type == "D" and _is(ace, sid) and ace.mask & read_bits for ace in parse_dacl(sddl)[1])


def grant_read(sddl: str, sid: str) -> str:
    """The DACL with ``(A;;GR;;;<sid>)`` added before the first inherited ACE; as it was when
    the SID already has read access."""
    if grants_read(sddl, sid):
        return sddl
    flags, aces = parse_dacl(sddl)
    new = Ace(f"A;;{GRANT_RIGHTS};;;{sid}", "A", "", GENERIC_READ, sid)
    at = next((i for i, ace in enumerate(aces) if ace.inherited), len(aces))
    ordered = [*aces[:at], new, *aces[at:]]
    return f"D:{flags}" + "".join(f"({ace.text})" for ace in ordered)
