"""The cipher-suite list in force, where it came from, and its TLS_DHE subset.

Precedence (reference/windows-schannel.md 4): the Policy ``Functions`` (REG_SZ,
comma list) wins; otherwise Get-TlsCipherSuite (2016+) or the Local ``Functions``
(REG_MULTI_SZ); otherwise the OS default list (section 5, ``suite_defaults``).
Schannel ``KeyExchangeAlgorithms`` / ``Ciphers`` keys set to 0 remove the suites
that need them (section 3), e.g. ``Diffie-Hellman\\Enabled=0`` removes every DHE suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import registry as reg
from .osinfo import Version
from .suite_defaults import default_suites
from .suites import parse_suite

LOCAL_LIST_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Cryptography\Configuration\Local\SSL\00010002"
POLICY_LIST_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Cryptography\Configuration\SSL\00010002"
# "The list of cipher suites is limited to 1023 characters" (section 4; project rule: every OS).
POLICY_MAX_CHARS = 1023

# Schannel switch key -> what it turns off (section 3 / 10). TLS 1.3 suites are left
# alone: no cited source says these keys govern them (inference).
_KEY_EXCHANGE_SWITCH = {"Diffie-Hellman": "DHE", "ECDH": "ECDHE", "PKCS": "RSA"}
_CIPHER_SWITCH = {
    "AES 128/128": "AES_128",
    "AES 256/256": "AES_256",
    "Triple DES 168": "3DES",
    "RC4 128/128": "RC4_128",
    "RC4 56/128": "RC4_56",
    "RC4 40/128": "RC4_40",
    "DES 56/56": "DES",
    "NULL": "NULL",
}


def _policy_facts(policy: reg.Node | None) -> dict[str, Any]:
    value_type = reg.value_type(policy, "Functions")
    raw = reg.text(policy, "Functions") if value_type in ("REG_SZ", "REG_EXPAND_SZ") else None
    functions = [s.strip() for s in raw.split(",") if s.strip()] if raw is not None else []
    ignored = None
    if value_type == "REG_MULTI_SZ":
        # "using multistring leads to the values not being used by the system" (AuditTAP #448)
        ignored = "multi_sz"
        functions = reg.multi(policy, "Functions") or []
    elif raw is not None and not functions:
        ignored = "empty"  # inference: an empty policy string does not leave Schannel without suites
    return {
        "present": value_type is not None,
        "type": value_type,
        "in_force": value_type is not None and ignored is None,
        "ignored_reason": ignored,
        "length": len(raw) if raw is not None else None,
        "over_limit": raw is not None and len(raw) > POLICY_MAX_CHARS,
        "functions": functions,
        "ecc_curves": reg.multi(policy, "EccCurves"),
    }


def _cmdlet_facts(result: Mapping[str, Any]) -> dict[str, Any]:
    if not result.get("ok"):
        return {"available": False, "error_kind": result.get("error_kind"), "names": []}
    rows = result.get("data") or []
    names = [str(r["name"]) for r in rows if isinstance(r, Mapping) and r.get("name")]
    return {"available": True, "error_kind": None, "names": names}


def disabled_switches(schannel_facts: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    kx = {
        _KEY_EXCHANGE_SWITCH[name]
        for name, item in (schannel_facts.get("key_exchange") or {}).items()
        if name in _KEY_EXCHANGE_SWITCH and item.get("enabled") is False
    }
    bulk = {
        _CIPHER_SWITCH[name]
        for name, item in (schannel_facts.get("ciphers") or {}).items()
        if name in _CIPHER_SWITCH and item.get("enabled") is False
    }
    return kx, bulk


def removed_by_switch(name: str, kx_off: set[str], bulk_off: set[str]) -> bool:
    suite = parse_suite(name)
    if "TLS 1.3" in suite.protocols:
        return False
    return suite.key_exchange in kx_off or suite.bulk in bulk_off


def cipher_suite_facts(
    local: reg.Node | None,
    policy: reg.Node | None,
    cmdlet_result: Mapping[str, Any],
    schannel_facts: Mapping[str, Any],
    version: Version | None,
    is_server: bool,
) -> dict[str, Any]:
    policy_facts = _policy_facts(policy)
    local_functions = reg.multi(local, "Functions")
    cmdlet = _cmdlet_facts(cmdlet_result)
    default_label, default_list = default_suites(version, is_server)

    configured: Sequence[str]
    if policy_facts["in_force"]:
        source, read_from, configured = "policy", "policy_registry", policy_facts["functions"]
    else:
        source = "local" if local_functions is not None else "os_default"
        if cmdlet["available"]:
            read_from, configured = "tls_cmdlet", cmdlet["names"]
        elif local_functions is not None:
            read_from, configured = "local_registry", local_functions
        else:
            read_from, configured = "os_default_table", default_list

    kx_off, bulk_off = disabled_switches(schannel_facts)
    effective = [n for n in configured if not removed_by_switch(n, kx_off, bulk_off)]
    return {
        "source": source,
        "read_from": read_from,
        "configured": list(configured),
        "effective": effective,
        "removed_by_schannel_keys": [n for n in configured if n not in effective],
        "dhe": [n for n in effective if parse_suite(n).is_dhe],
        "os_default_list": default_label,
        "policy": policy_facts,
        "local": {"present": local_functions is not None, "functions": local_functions or []},
        "tls_cmdlet": cmdlet,
    }
