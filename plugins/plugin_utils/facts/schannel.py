"""Schannel protocol facts: effective state per protocol and side, with its source.

S = HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL, read with depth 3.
Rules: reference/windows-schannel.md 1 (values), 1.1 (effective state), 2 (OS defaults).
"""

from __future__ import annotations

from typing import Any

from . import registry as reg
from .osinfo import SERVER_2016, TLS13_MIN, Version

SCHANNEL_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL"
PROTOCOLS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
SIDES = ("server", "client")
ENABLED, DISABLED, NOT_SUPPORTED = "enabled", "disabled", "not_supported"

KEY_EXCHANGE_NAMES = ("Diffie-Hellman", "ECDH", "PKCS")
CIPHER_NAMES = (
    "NULL",
    "DES 56/56",
    "RC2 40/128",
    "RC2 56/128",
    "RC2 128/128",
    "RC4 40/128",
    "RC4 56/128",
    "RC4 64/128",
    "RC4 128/128",
    "Triple DES 168",
    "AES 128/128",
    "AES 256/256",
)
HASH_NAMES = ("MD5", "SHA", "SHA256", "SHA384", "SHA512")


def protocol_defaults(version: Version | None) -> dict[str, dict[str, str]]:
    """OS default per protocol and side (windows-schannel.md 2).

    Rows not in Microsoft's table are inferences: an unknown build is read as
    Server 2016; Windows 7 / 2008 R2 (6.1) ship TLS 1.1/1.2 disabled; 6.2 is read
    like 6.3; Windows 10 before 1607 still has SSL 2.0 (disabled) instead of "not supported".
    """
    v = version or SERVER_2016
    both = {p: ENABLED for p in ("TLS 1.0", "TLS 1.1", "TLS 1.2")}
    if v < (10, 0, 0, 0):
        both.update({"SSL 2.0": DISABLED, "SSL 3.0": ENABLED, "TLS 1.3": NOT_SUPPORTED})
        if v < (6, 2, 0, 0):
            both.update({"TLS 1.1": DISABLED, "TLS 1.2": DISABLED})
    else:
        both.update(
            {
                "SSL 2.0": NOT_SUPPORTED if v >= SERVER_2016 else DISABLED,
                "SSL 3.0": DISABLED,
                "TLS 1.3": ENABLED if v >= TLS13_MIN else NOT_SUPPORTED,
            }
        )
    return {p: {"server": both[p], "client": both[p]} for p in PROTOCOLS}


def effective_state(default: str, enabled: int | None, disabled_by_default: int | None) -> bool:
    """SQLCheck's rule (windows-schannel.md 1.1): any non-zero Enabled is TRUE and
    DisabledByDefault=1 turns a protocol off for default consumers."""
    used_by_default = disabled_by_default is None or disabled_by_default == 0
    if default == NOT_SUPPORTED:
        return False
    if default == DISABLED:
        return enabled is not None and enabled != 0 and used_by_default
    return not (enabled is not None and enabled == 0) and used_by_default


def _side_fact(node: reg.Node | None, default: str) -> dict[str, Any]:
    enabled = reg.dword(node, "Enabled")
    disabled_by_default = reg.dword(node, "DisabledByDefault")
    from_registry = default != NOT_SUPPORTED and (enabled is not None or disabled_by_default is not None)
    return {
        "enabled": effective_state(default, enabled, disabled_by_default),
        "source": "registry" if from_registry else "os_default",
        "os_default": default,
        "registry": {"Enabled": enabled, "DisabledByDefault": disabled_by_default},
    }


def _switches(parent: reg.Node | None, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Ciphers / Hashes / KeyExchangeAlgorithms keys that exist: Enabled non-zero or 0, absent = default."""
    found: dict[str, dict[str, Any]] = {}
    for name in reg.subkey_names(parent):
        node = reg.subkey(parent, name)
        value = reg.dword(node, "Enabled")
        canonical = next((n for n in names if n.casefold() == name.casefold()), name)
        found[canonical] = {"Enabled": value, "enabled": None if value is None else value != 0}
        if canonical == "Diffie-Hellman":
            found[canonical]["ServerMinKeyBitLength"] = reg.dword(node, "ServerMinKeyBitLength")
            found[canonical]["ClientMinKeyBitLength"] = reg.dword(node, "ClientMinKeyBitLength")
    return found


def schannel_facts(schannel: reg.Node | None, version: Version | None) -> dict[str, Any]:
    defaults = protocol_defaults(version)
    protocols_node = reg.subkey(schannel, "Protocols")
    protocols: dict[str, dict[str, Any]] = {side: {} for side in SIDES}
    for protocol in PROTOCOLS:
        for side in SIDES:
            node = reg.subkey(protocols_node, protocol, side.capitalize())
            protocols[side][protocol] = _side_fact(node, defaults[protocol][side])
    known = {p.casefold() for p in PROTOCOLS}
    return {
        "protocols": protocols,
        "effective": {side: [p for p in PROTOCOLS if protocols[side][p]["enabled"]] for side in SIDES},
        "tls13_keys_present": reg.subkey(protocols_node, "TLS 1.3") is not None,
        "other_protocol_keys": sorted(
            n for n in reg.subkey_names(protocols_node) if n.casefold() not in known
        ),
        "key_exchange": _switches(reg.subkey(schannel, "KeyExchangeAlgorithms"), KEY_EXCHANGE_NAMES),
        "ciphers": _switches(reg.subkey(schannel, "Ciphers"), CIPHER_NAMES),
        "hashes": _switches(reg.subkey(schannel, "Hashes"), HASH_NAMES),
        "event_logging": reg.dword(schannel, "EventLogging"),
    }
