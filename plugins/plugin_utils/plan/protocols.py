"""The ``tls12`` concern: Schannel protocol keys, .NET strong crypto, WinHTTP default protocols.

Rules (reference/windows-schannel.md):
- section 1: to enable write ``Enabled=1``, ``DisabledByDefault=0``; to disable ``Enabled=0``,
  ``DisabledByDefault=1``; always both values (a half-written key is read with the OS default
  for the other value). Any non-zero ``Enabled`` already means enabled (IIS Crypto writes
  0xffffffff), so it is left as it is. A side without any value whose OS default (section 2)
  already is the desired state is left alone: SSL 3.0 on 2016+, SSL 2.0 where it does not
  exist, TLS 1.2 where it is on by default.
- sections 1.1 and 2: TLS 1.3 exists from Server 2022; on an older OS its keys are removed.
- section 1.2: every Schannel change takes effect at the next reboot.
- section 7: .NET ``SchUseStrongCrypto`` / ``SystemDefaultTlsVersions`` and WinHTTP
  ``DefaultSecureProtocols`` (values in ``dotnet_wire`` / ``winhttp_value``).

``plan_protocol_changes`` plans the desired state; the safety gate (``gate.py``) then
decides which of the changes may go ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..facts.clients import DOTNET_KEYS, WINHTTP_KEYS
from ..facts.schannel import PROTOCOLS, SCHANNEL_KEY
from . import gate
from .model import IMMEDIATE, REBOOT, Plan, PlannedOp, PlanWarning
from .registry import RegistryView, UnknownState, dword, remove_key, set_value

ENABLED, DISABLED, KEEP = "enabled", "disabled", "keep"
STATES = (ENABLED, DISABLED, KEEP)
SIDES = ("server", "client")
# What the issue and Microsoft's guidance ask for by default: TLS 1.2 on, everything older off.
DEFAULT_PROTOCOLS: dict[str, str] = {
    "SSL 2.0": DISABLED,
    "SSL 3.0": DISABLED,
    "TLS 1.0": DISABLED,
    "TLS 1.1": DISABLED,
    "TLS 1.2": ENABLED,
    "TLS 1.3": KEEP,
}
# WINHTTP_FLAG_SECURE_PROTOCOL_* (windows-schannel.md 7)
WINHTTP_FLAGS = {"TLS 1.0": 0x80, "TLS 1.1": 0x200, "TLS 1.2": 0x800, "TLS 1.3": 0x2000}
DOTNET_VALUES = ("SchUseStrongCrypto", "SystemDefaultTlsVersions")


class PolicyError(ValueError):
    """Module arguments that do not describe a policy; the message names the field."""


@dataclass(frozen=True)
class ProtocolPolicy:
    # protocol -> side -> enabled | disabled | keep
    protocols: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {p: dict.fromkeys(SIDES, s) for p, s in DEFAULT_PROTOCOLS.items()}
    )
    remove_unsupported_tls13: bool = True
    dotnet_strong_crypto: bool = True
    dotnet_system_default_tls_versions: bool = True
    winhttp_default_secure_protocols: bool = True
    # .NET 3.5 on Server 2012 R2 needs KB3154520 before these values mean anything (dotnet/docs
    # tls.md; docs/reference-windows-bindings.md 9); the registry cannot tell whether it is installed.
    dotnet35_update_installed: bool = False
    builtin_driver_blocks: bool = True
    force: bool = False


def _side_states(name: str, value: Any) -> dict[str, str]:
    where = f"protocols[{name!r}]"
    if isinstance(value, str):
        if value not in STATES:
            raise PolicyError(f"{where}: expected one of {list(STATES)}, got {value!r}")
        return dict.fromkeys(SIDES, value)
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected a state or {{server: state, client: state}}, got {value!r}")
    unknown = set(value) - set(SIDES)
    if unknown:
        raise PolicyError(f"{where}: unknown side(s) {sorted(unknown)}, expected {list(SIDES)}")
    states = {side: value.get(side, KEEP) for side in SIDES}
    for side, state in states.items():
        if state not in STATES:
            raise PolicyError(f"{where}.{side}: expected one of {list(STATES)}, got {state!r}")
    return states


def protocol_policy(protocols: Mapping[str, Any] | None = None, **switches: bool) -> ProtocolPolicy:
    """Validate module arguments: ``protocols`` overrides the defaults per protocol."""
    merged = {p: dict.fromkeys(SIDES, s) for p, s in DEFAULT_PROTOCOLS.items()}
    if protocols is not None and not isinstance(protocols, Mapping):
        raise PolicyError(f"protocols: expected a mapping of protocol names, got {type(protocols).__name__}")
    for name, value in (protocols or {}).items():
        if name not in PROTOCOLS:
            raise PolicyError(f"protocols: unknown protocol {name!r}, expected one of {list(PROTOCOLS)}")
        merged[name] = _side_states(name, value)
    known = {f.name for f in ProtocolPolicy.__dataclass_fields__.values()} - {"protocols"}
    for key, value in switches.items():
        if key not in known:
            raise PolicyError(f"{key}: unknown option, expected one of {sorted(known)}")
        if not isinstance(value, bool):
            raise PolicyError(f"{key}: expected a boolean, got {value!r}")
    return ProtocolPolicy(protocols=merged, **switches)


def protocol_key(protocol: str, side: str) -> str:
    return f"{SCHANNEL_KEY}\\Protocols\\{protocol}\\{side.capitalize()}"


def _enabled_is_on(view: RegistryView, path: str) -> bool:
    current = view.value(path, "Enabled")
    return bool(current and current["type"] == "REG_DWORD" and current["data"] != 0)


def _already_by_default(fact: Mapping[str, Any], state: str) -> bool:
    """No value of this side in the registry and the OS default is already the desired state:
    nothing to write (a compliant host is not touched, nor rebooted, for keys it does not need).
    A side with one value present is written whole: half-written keys are a source of trouble."""
    registry = fact.get("registry") or {}
    untouched = registry.get("Enabled") is None and registry.get("DisabledByDefault") is None
    return untouched and bool(fact.get("enabled")) == (state == ENABLED)


def _protocol_ops(view: RegistryView, protocol: str, side: str, state: str) -> list[PlannedOp]:
    path = protocol_key(protocol, side)
    if state == ENABLED:
        wanted = [("DisabledByDefault", 0)]
        if not _enabled_is_on(view, path):
            wanted.insert(0, ("Enabled", 1))
    else:
        wanted = [("Enabled", 0), ("DisabledByDefault", 1)]
    ops = [set_value(view, path, name, dword(value), REBOOT) for name, value in wanted]
    return [o for o in ops if o is not None]


def _schannel_ops(facts: Mapping[str, Any], view: RegistryView, policy: ProtocolPolicy) -> list[PlannedOp]:
    ops: list[PlannedOp] = []
    tls13_supported = bool(facts["os"].get("tls13_supported"))
    for protocol in PROTOCOLS:
        if protocol == "TLS 1.3" and not tls13_supported:
            continue
        for side in SIDES:
            state = policy.protocols[protocol][side]
            if state != KEEP and not _already_by_default(
                facts["schannel"]["protocols"][side][protocol], state
            ):
                ops += _protocol_ops(view, protocol, side, state)
    if not tls13_supported and policy.remove_unsupported_tls13:
        # "TLS 1.3 registry keys exist on an OS that does not support it … delete the key" (SQLCheck, 1.1)
        removal = remove_key(view, f"{SCHANNEL_KEY}\\Protocols\\TLS 1.3", REBOOT)
        if removal is not None:
            ops.append(removal)
    return ops


def _needs_dotnet35_update(facts: Mapping[str, Any], label: str, policy: ProtocolPolicy) -> bool:
    version = facts["os"].get("version_tuple") or [0]
    return label.startswith("v2") and version[0] < 10 and not policy.dotnet35_update_installed


def _dotnet_warnings(facts: Mapping[str, Any], policy: ProtocolPolicy) -> list[PlanWarning]:
    if not (policy.dotnet_strong_crypto or policy.dotnet_system_default_tls_versions):
        return []
    skipped = [
        label
        for label in DOTNET_KEYS
        if facts["dotnet"]["keys"].get(label, {}).get("exists")
        and _needs_dotnet35_update(facts, label, policy)
    ]
    if not skipped:
        return []
    return [
        PlanWarning(
            "dotnet35_update_unknown", "client:.NET Framework 3.5", {"keys": skipped, "update": "KB3154520"}
        )
    ]


def _dotnet_ops(facts: Mapping[str, Any], view: RegistryView, policy: ProtocolPolicy) -> list[PlannedOp]:
    wanted = [
        name
        for name, on in zip(
            DOTNET_VALUES,
            (policy.dotnet_strong_crypto, policy.dotnet_system_default_tls_versions),
            strict=True,
        )
        if on
    ]
    ops = []
    for label, path in DOTNET_KEYS.items():
        # A framework that is not installed has no key: nothing of it to configure.
        if not facts["dotnet"]["keys"].get(label, {}).get("exists"):
            continue
        if _needs_dotnet35_update(facts, label, policy):
            continue
        for name in wanted:
            planned = set_value(view, path, name, dword(1), IMMEDIATE)
            if planned is not None:
                ops.append(planned)
    return ops


def winhttp_value(client_protocols: set[str]) -> int:
    """DefaultSecureProtocols for the TLS versions the client side will have (never below TLS 1.2)."""
    value = WINHTTP_FLAGS["TLS 1.2"]
    for protocol, flag in WINHTTP_FLAGS.items():
        if protocol in client_protocols:
            value |= flag
    return value


def _winhttp_ops(view: RegistryView, client_after: set[str]) -> list[PlannedOp]:
    desired = dword(winhttp_value(client_after))
    ops = [
        set_value(view, path, "DefaultSecureProtocols", desired, IMMEDIATE) for path in WINHTTP_KEYS.values()
    ]
    return [o for o in ops if o is not None]


def plan_protocol_changes(
    facts: Mapping[str, Any], policy: ProtocolPolicy, peers: gate.Peers | None = None
) -> Plan:
    """Facts + policy -> the ``tls12`` plan, after the safety gate removed what it refuses."""
    view = RegistryView(facts.get("registry"))
    states, blockers, warnings = gate.check_protocols(
        facts,
        policy.protocols,
        force=policy.force,
        builtin_driver_blocks=policy.builtin_driver_blocks,
        dotnet_strong_crypto=policy.dotnet_strong_crypto,
        peers=peers,
    )
    allowed = replace(policy, protocols=states)
    try:
        ops = _schannel_ops(facts, view, allowed) + _dotnet_ops(facts, view, allowed)
        if allowed.winhttp_default_secure_protocols:
            ops += _winhttp_ops(view, gate.protocols_after(facts, states)["client"])
    except UnknownState as exc:
        return Plan(concern="tls12", blockers=(gate.state_unknown(str(exc)),))
    return Plan(
        concern="tls12",
        ops=tuple(ops),
        blockers=tuple(blockers),
        warnings=tuple(warnings) + tuple(_dotnet_warnings(facts, allowed)),
        forced=any(b.forced for b in blockers),
    )
