"""The ``cipher_suites`` concern: strip suites by pattern from the list in force, keep every SQL
Server certificate servable, optionally put named suites first.

Where the list in force lives decides the ops and the activation (reference/windows-schannel.md 4,
facts ``cipher_suites`` in docs/facts-schema.md):

- **Policy** ``Functions`` (REG_SZ, comma list) when present and not empty: it overrides the Local
  list. One ``reg.write`` of the new string, compare-and-set on the exact current value; the
  sibling ``EccCurves`` value is not touched. Activation ``reboot`` ("It is necessary to restart
  the computer after modifying this setting"). The string is never truncated: over 1023
  characters the change is refused (section 4, project rule for every OS). A domain GPO owns
  the value and a policy refresh writes it back, so ``policy_owned`` decides: ``refuse``, ``warn``
  (edit, and warn that the GPO must change too) or ``edit``.
- **Local list on 2016 and later** (the TLS module exists): ``tls.suite.disable`` per suite
  removed, ``tls.suite.enable`` at its position per suite added; activation ``immediate`` ("No
  restart is required", section 4). Positions are indexes of the Local list, which
  Get-TlsCipherSuite shows while no Policy value is in force (section 4). Disables come first,
  then enables in ascending final position, so every op's journaled ``after`` is still true
  when the batch ends (what rollback compares with). A suite that must move (explicit
  ``order``) is disabled, then enabled at its new place.
- **Local list on 2012 R2** (no TLS module): one ``reg.write`` of the REG_MULTI_SZ value; an
  absent value means the OS default list of section 5, which then is the list transformed.
  Activation ``reboot`` (inference: section 4 says "immediately" of the CNG functions and of
  the cmdlets that call them; a direct registry write bypasses CNG, which Microsoft calls "not
  supported", and no source says Schannel rereads the value, so the next boot is the safe
  reading). On 2016 and later without a cmdlet answer, nothing is planned: writing that value
  there is the unsupported path.
- A Policy value that Windows does not use (REG_MULTI_SZ, "using multistring leads to the values
  not being used by the system", AuditTAP #448; or an empty string, facts inference) is left as
  it is, with a warning; the Local list is planned.

The new list is a transform of the list in force, never a fixed list (section 4):
1. remove the suites matching ``remove`` (case-sensitive ``fnmatch``, as Get-TlsCipherSuite
   matches names; a pattern also matches a 2012 R2 name without its ``_P256`` curve suffix);
2. for every key type in use that the result cannot serve (scenario 2, whether the list was
   already so or the removal made it so), append the OS default suites of section 5 for that key
   type, in the OS default order, without TLS_DHE, without what ``remove`` matches, and only the
   AES ones (this collection's choice: no 3DES, RC4 or NULL comes back);
3. put the suites named in ``order`` first, in that order (only reorders, never adds). Applied
   last, so that planning again against the result changes nothing.

"Served" is the audit's rule (assess/rules_ciphers.py ``usable_suites``): a suite of the effective
list (Schannel ``KeyExchangeAlgorithms``/``Ciphers`` switches applied, facts/ciphers.py) that fits
the key type and that common clients offer, for TLS 1.2 when the engine speaks it, else for the
older protocols it shares with Schannel. Certificates: what the engine loaded, is bound to, or
could auto-pick (assess/view.py); SQL Server's self-generated certificate is RSA.

Blockers (catalog ``blocker.<code>``): ``cipher_list_empty``, ``cipher_policy_too_long`` and
``cipher_no_suite_for_certificate`` (a list without a suite for a certificate in use fails every
connection to that instance, like a side without a protocol in gate.py) are never forced;
``cipher_policy_gpo_refused`` (``policy_owned: refuse``) is forceable. A certificate the list
could not serve before and still cannot is reported ``unfixable`` and does not stop the rest.
``registry_not_read`` (the Policy value, or the 2012 R2 Local value, was not read: a Policy list
not read could be the one in force) and ``tls_cmdlet_unavailable`` stop the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ..agent.ops import op
from ..assess import view
from ..assess.rules_ciphers import usable_suites

# The facts' own Schannel switch filter, so that "effective" means the same here as in the facts.
from ..facts.ciphers import (
    LOCAL_LIST_KEY,
    POLICY_LIST_KEY,
    POLICY_MAX_CHARS,
    disabled_switches,
    removed_by_switch,
)
from ..facts.suite_defaults import default_suites
from ..facts.suites import parse_suite
from . import gate
from .model import IMMEDIATE, REBOOT, Blocker, Change, Plan, PlannedOp, PlanWarning
from .protocols import PolicyError
from .registry import RegistryView, UnknownState, multi_sz, reg_sz, set_value

CONCERN = "cipher_suites"
REFUSE, WARN, EDIT = "refuse", "warn", "edit"
POLICY_OWNED = (REFUSE, WARN, EDIT)
DEFAULT_REMOVE = ("TLS_DHE_*",)
# Where the list in force is written.
POLICY, CMDLET, LOCAL_REGISTRY = "policy_registry", "tls_cmdlet", "local_registry"
# Key types (facts certificates[].key_type) that Schannel serves with a suite family.
KEY_TYPES = {"RSA": "RSA", "EC": "ECDSA"}
# What the scenario 2 repair restores: AES suites only (no 3DES, RC4, NULL; this collection's choice).
RESTORED_BULK = frozenset({"AES_128", "AES_256"})
_PATTERN = re.compile(r"^[A-Z0-9_*?\[\]!-]+$")
_NAME = re.compile(r"^[A-Z0-9_]+$")
GPO_NAME = "SSL Cipher Suite Order"


@dataclass(frozen=True)
class CipherPolicy:
    remove: tuple[str, ...] = DEFAULT_REMOVE
    order: tuple[str, ...] = ()
    policy_owned: str = WARN
    restore_for_certificates: bool = True
    force: bool = False


def _names(field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{field}: expected a list of strings, got {value!r}")
    return tuple(v.strip() for v in value)


def matches_pattern(name: str, pattern: str) -> bool:
    return fnmatchcase(name, pattern) or fnmatchcase(parse_suite(name).canonical, pattern)


def _is(name: str, entry: str) -> bool:
    """An ``order`` entry names a suite with or without 2012 R2's curve suffix."""
    return name == entry or parse_suite(name).canonical == entry


def cipher_policy(
    remove: Sequence[str] | None = None,
    order: Sequence[str] | None = None,
    policy_owned: str = WARN,
    restore_for_certificates: bool = True,
    force: bool = False,
) -> CipherPolicy:
    """Validate module arguments; the error names the field (and the list index)."""
    patterns = DEFAULT_REMOVE if remove is None else _names("remove", remove)
    for index, pattern in enumerate(patterns):
        if not _PATTERN.match(pattern):
            raise PolicyError(
                f"remove[{index}]: {pattern!r} is not a suite-name pattern; names are upper case "
                "and matched case-sensitively (e.g. TLS_DHE_*)"
            )
    entries = () if order is None else _names("order", order)
    for index, entry in enumerate(entries):
        suite = parse_suite(entry)
        if not _NAME.match(entry) or (suite.key_exchange is None and not suite.protocols):
            raise PolicyError(f"order[{index}]: {entry!r} is not a cipher-suite name (no wildcards)")
        if entry in entries[:index]:
            raise PolicyError(f"order[{index}]: {entry!r} is listed twice")
        clash = next((p for p in patterns if matches_pattern(entry, p)), None)
        if clash is not None:
            raise PolicyError(f"order[{index}]: {entry!r} matches remove pattern {clash!r}")
    if policy_owned not in POLICY_OWNED:
        raise PolicyError(f"policy_owned: expected one of {list(POLICY_OWNED)}, got {policy_owned!r}")
    for name, flag in (("restore_for_certificates", restore_for_certificates), ("force", force)):
        if not isinstance(flag, bool):
            raise PolicyError(f"{name}: expected a boolean, got {flag!r}")
    return CipherPolicy(patterns, entries, policy_owned, restore_for_certificates, force)


# --- what the host needs ------------------------------------------------------------------------
@dataclass(frozen=True)
class Demand:
    """One certificate of one instance, and the protocols it must be served over."""

    instance: str
    key_type: str  # facts name: RSA or EC
    protocols: tuple[str, ...]
    thumbprint: str | None  # None: SQL Server's self-generated certificate


def demands(facts: Mapping[str, Any]) -> list[Demand]:
    """Per instance, the key types of the certificates it serves now (ERRORLOG), is bound to, or
    could auto-pick (assess/view.py; self-generated = RSA), over TLS 1.2 when its build speaks it,
    else over the older protocols it shares with Schannel (the audit's scenario 2 rule). Other key
    types (DSA, EdDSA, unreadable) have no suite family to keep and are not checked."""
    certs = view.certificates(facts)
    usage = view.certificate_usage(facts)
    server = view.effective_protocols(facts, "server")
    found = []
    for instance in view.instances(facts):
        if "TLS 1.2" in instance["protocols"]:
            protocols = ("TLS 1.2",)
        else:
            protocols = tuple(view.ordered(view.tls_only(view.instance_protocols(instance) & server)))
        if not protocols:
            continue  # no protocol in common: scenario 1, not a suite question
        in_use = view.certificate_in_use(instance, certs)
        key_types = {view.key_type_in_use(instance, certs): in_use["thumbprint"] if in_use else None}
        for thumbprint, uses in usage.items():
            if thumbprint in certs and any(name == instance["name"] for name, _role in uses):
                key_types.setdefault(certs[thumbprint].get("key_type") or "", thumbprint)
        found += [
            Demand(instance["name"], key_type, protocols, thumbprint)
            for key_type, thumbprint in key_types.items()
            if key_type in KEY_TYPES
        ]
    return found


def served(effective: Sequence[str], demand: Demand) -> bool:
    return any(usable_suites(list(effective), p, demand.key_type) for p in demand.protocols)


def _effective_filter(facts: Mapping[str, Any]) -> Callable[[str], bool]:
    """Whether Schannel's switch keys leave a suite usable (facts/ciphers.py, section 3)."""
    kx_off, bulk_off = disabled_switches(facts["schannel"])
    return lambda name: not removed_by_switch(name, kx_off, bulk_off)


def _store(facts: Mapping[str, Any]) -> str | None:
    suites = facts["cipher_suites"]
    if suites["policy"]["in_force"]:
        return POLICY
    if suites["tls_cmdlet"]["available"]:
        return CMDLET
    version = facts["os"].get("version_tuple") or [10]
    return LOCAL_REGISTRY if version[0] < 10 else None


# --- the transform ------------------------------------------------------------------------------
def _reorder(names: list[str], order: Sequence[str]) -> list[str]:
    chosen: list[int] = []
    for entry in order:
        chosen += [i for i, name in enumerate(names) if i not in chosen and _is(name, entry)]
    return [names[i] for i in chosen] + [n for i, n in enumerate(names) if i not in chosen]


def _repair(
    facts: Mapping[str, Any],
    policy: CipherPolicy,
    kept: list[str],
    needs: list[Demand],
    usable: Callable[[str], bool],
) -> list[str]:
    """OS default suites (section 5 order) for every key type the kept list can no longer serve."""
    effective = [n for n in kept if usable(n)]
    missing = {d.key_type for d in needs if not served(effective, d)}
    if not missing:
        return []
    version = facts["os"].get("version_tuple")
    _label, defaults = default_suites(tuple(version) if version else None, bool(facts["os"].get("is_server")))
    added = []
    for name in defaults:
        suite = parse_suite(name)
        if (
            name not in kept
            and not suite.is_dhe
            and suite.bulk in RESTORED_BULK
            and suite.authentication in {KEY_TYPES[k] for k in missing}
            and not any(matches_pattern(name, p) for p in policy.remove)
            and usable(name)
        ):
            added.append(name)
    return added


def _list_target(store: str) -> str:
    return f"{POLICY_LIST_KEY if store == POLICY else LOCAL_LIST_KEY}\\Functions"


def _certificate_blocker(demand: Demand, policy: CipherPolicy, unfixable: bool) -> Blocker:
    key_type = KEY_TYPES[demand.key_type]
    if not policy.restore_for_certificates:
        clears = f"restore_for_certificates: true, or keep a {key_type} suite (remove, order)"
    else:
        clears = (
            f"keep a {key_type} AES suite of the OS default list (narrow remove), or re-enable the Schannel "
            f"KeyExchangeAlgorithms/Ciphers keys its suites need"
        )
    return Blocker(
        "cipher_no_suite_for_certificate",
        f"server:{demand.instance}",
        {
            "instance": demand.instance,
            "key_type": key_type,
            "protocols": list(demand.protocols),
            "thumbprint": demand.thumbprint or "self-generated",
        },
        clears,
        forceable=False,
        unfixable=unfixable,
    )


def _blockers(
    facts: Mapping[str, Any],
    policy: CipherPolicy,
    store: str,
    base: list[str],
    new: list[str],
    needs: list[Demand],
    usable: Callable[[str], bool],
) -> list[Blocker]:
    before = [n for n in base if usable(n)]
    after = [n for n in new if usable(n)]
    target = _list_target(store)
    blockers = []
    if not after:
        blockers.append(
            Blocker(
                "cipher_list_empty",
                target,
                {"source": facts["cipher_suites"]["source"], "count": len(base)},
                "narrow remove so that at least one suite stays",
                forceable=False,
            )
        )
    for demand in needs:
        if not served(after, demand):
            blockers.append(_certificate_blocker(demand, policy, unfixable=not served(before, demand)))
    if store == POLICY:
        length = len(",".join(new))
        if length > POLICY_MAX_CHARS:
            blockers.append(
                Blocker(
                    "cipher_policy_too_long",
                    target,
                    {"length": length, "limit": POLICY_MAX_CHARS},
                    f"remove more suites, or shorten the GPO '{GPO_NAME}' list (never truncated)",
                    forceable=False,
                )
            )
        if policy.policy_owned == REFUSE:
            blockers.append(
                Blocker(
                    "cipher_policy_gpo_refused",
                    target,
                    {"gpo": GPO_NAME},
                    f"change the domain GPO '{GPO_NAME}', or set policy_owned: warn or edit",
                    forced=policy.force,
                )
            )
    return blockers


# --- ops ----------------------------------------------------------------------------------------
def _suite_target(name: str) -> str:
    return f"Local cipher suite list: {name}"


def _longest_in_order(names: list[str], rank: Mapping[str, int]) -> set[str]:
    """The most suites of ``names`` already in ``rank`` order: those stay, the others move."""
    chains: list[list[str]] = []
    for i, name in enumerate(names):
        longest = max((chains[j] for j in range(i) if rank[names[j]] < rank[name]), key=len, default=[])
        chains.append([*longest, name])
    return set(max(chains, key=len, default=[]))


def _cmdlet_ops(base: list[str], new: list[str]) -> list[PlannedOp]:
    """Disables (positions as the list shrinks), then enables in ascending final position.

    Journal ``before``/``after`` are the state around each op (rollback's ``suite`` target);
    the diff line shows positions as gathered and as planned."""
    rank = {name: i for i, name in enumerate(new)}
    stay = _longest_in_order([n for n in base if n in rank], rank)
    gathered = {name: i for i, name in enumerate(base)}
    current = list(base)
    ops = []
    for name in base:
        if name in stay:
            continue
        position = current.index(name)
        del current[position]
        ops.append(
            PlannedOp(
                op=op("tls.suite.disable", name=name, expect={"present": True}),
                change=Change(_suite_target(name), gathered[name], None, IMMEDIATE),
                target={"kind": "suite", "name": name},
                before={"present": True, "position": position},
                after={"present": False},
            )
        )
    for position, name in enumerate(new):
        if name in current:
            continue
        current.insert(position, name)
        ops.append(
            PlannedOp(
                op=op("tls.suite.enable", name=name, position=position, expect=None),
                change=Change(_suite_target(name), gathered.get(name), position, IMMEDIATE),
                target={"kind": "suite", "name": name},
                before={"present": False},
                after={"present": True, "position": position},
            )
        )
    return ops


def _ops(store: str, registry: RegistryView, base: list[str], new: list[str]) -> list[PlannedOp]:
    if store == CMDLET:
        return _cmdlet_ops(base, new)
    if store == POLICY:
        planned = set_value(registry, POLICY_LIST_KEY, "Functions", reg_sz(",".join(new)), REBOOT)
    else:
        planned = set_value(registry, LOCAL_LIST_KEY, "Functions", multi_sz(new), REBOOT)
    return [planned] if planned is not None else []


# --- warnings -----------------------------------------------------------------------------------
def _context_warnings(
    facts: Mapping[str, Any], policy: CipherPolicy, store: str, base: list[str]
) -> list[PlanWarning]:
    """What holds whether or not anything changes: an unused Policy value, order names not in force."""
    suites = facts["cipher_suites"]
    warnings = []
    reason = suites["policy"].get("ignored_reason")
    if suites["policy"]["present"] and reason in ("multi_sz", "empty"):
        warnings.append(
            PlanWarning(
                f"cipher_policy_{reason}",
                f"{POLICY_LIST_KEY}\\Functions",
                {"type": suites["policy"]["type"], "gpo": GPO_NAME},
            )
        )
    absent = [entry for entry in policy.order if not any(_is(name, entry) for name in base)]
    if absent:
        warnings.append(PlanWarning("cipher_order_not_in_list", _list_target(store), {"suites": absent}))
    return warnings


def _restored_warnings(
    added: list[str], needs: list[Demand], kept: list[str], usable: Callable[[str], bool]
) -> list[PlanWarning]:
    effective = [n for n in kept if usable(n)]
    warnings = []
    for key_type, label in KEY_TYPES.items():
        suites = [n for n in added if parse_suite(n).usable_with_key(key_type)]
        unserved = [d for d in needs if d.key_type == key_type and not served(effective, d)]
        if suites and unserved:
            warnings.append(
                PlanWarning(
                    "cipher_suites_restored",
                    f"server:{unserved[0].instance}",
                    {
                        "key_type": label,
                        "instances": sorted({d.instance for d in unserved}),
                        "count": len(suites),
                        "suites": suites,
                    },
                )
            )
    return warnings


def plan_cipher_suite_changes(facts: Mapping[str, Any], policy: CipherPolicy) -> Plan:
    """Facts + policy -> the ``cipher_suites`` plan (pure; no ops when refused or nothing to do)."""
    registry = RegistryView(facts.get("registry"))
    store = _store(facts)
    try:
        registry.value(POLICY_LIST_KEY, "Functions")  # a Policy list not read could be in force
        if store == LOCAL_REGISTRY:
            registry.value(LOCAL_LIST_KEY, "Functions")
    except UnknownState as exc:
        return Plan(CONCERN, blockers=(gate.state_unknown(str(exc)),))
    if store is None:
        cmdlet = facts["cipher_suites"]["tls_cmdlet"]
        blocker = Blocker(
            "tls_cmdlet_unavailable",
            _list_target(CMDLET),
            {"error_kind": cmdlet.get("error_kind") or "unknown"},
            "Get-TlsCipherSuite (TLS module) answering on the host, then gather the facts again",
            forceable=False,
        )
        return Plan(CONCERN, blockers=(blocker,))

    base = list(facts["cipher_suites"]["configured"])
    usable = _effective_filter(facts)
    needs = demands(facts)
    kept = [n for n in base if not any(matches_pattern(n, p) for p in policy.remove)]
    added = _repair(facts, policy, kept, needs, usable) if policy.restore_for_certificates else []
    new = _reorder(kept + added, policy.order)
    warnings = _context_warnings(facts, policy, store, base)
    if new == base:
        stays = [d for d in needs if not served([n for n in base if usable(n)], d)]
        blockers = [_certificate_blocker(d, policy, unfixable=True) for d in stays]
        return Plan(CONCERN, blockers=tuple(blockers), warnings=tuple(warnings))
    blockers = _blockers(facts, policy, store, base, new, needs, usable)
    if any(not b.forced and not b.unfixable for b in blockers):
        return Plan(CONCERN, blockers=tuple(blockers), warnings=tuple(warnings))
    if store == POLICY and policy.policy_owned != EDIT:
        warnings.append(PlanWarning("cipher_policy_gpo_owned", _list_target(POLICY), {"gpo": GPO_NAME}))
    warnings += _restored_warnings(added, needs, kept, usable)
    return Plan(
        CONCERN,
        ops=tuple(_ops(store, registry, base, new)),
        blockers=tuple(blockers),
        warnings=tuple(warnings),
        forced=any(b.forced for b in blockers),
    )
