"""The ``sql_encryption`` concern: each instance's ``SuperSocketNetLib`` binding and flags.

Values (reference/sqlserver-tls.md 2): ``Certificate`` (REG_SZ, the SHA-1 thumbprint in lower
case, "Configuration Manager requires thumbprint to be lowercase"; clearing = the empty
string), ``ForceEncryption`` and ``ForceStrict`` (DWORD). All are read at the next service
start (section 2), so every change here is activated by a restart of its instance.

Setting a certificate first checks it against section 4 (``certificate_choice.binding_problems``;
``force`` binds anyway, except a certificate that is not in the store), then grants the
instance's per-service SID (``NT SERVICE\\MSSQLSERVER`` / ``NT SERVICE\\MSSQL$<name>``, section
10; the SID computed as docs/reference-windows-bindings.md 4 describes) read access to the
certificate's private key (section 4: "The SQL Server service account must have read
permissions ... Failure to do so can cause the SQL Server service restart to fail"), for CSP
and CNG keys alike through the agent's ``cert.key.acl.set`` (plan/key_acl.py). The prior DACL
goes into the journal; rollback restores it.

``ForceStrict`` exists from SQL Server 2022 (section 9) and needs a configured certificate
(TDS 8.0; the self-generated one serves TDS 7.x only, section 3): the plan warns when the next
start would leave it without one. Turning it on is the operator's choice, never a default
(section 9 project rule), and comes with a warning about the features it breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..agent.ops import op
from ..facts.service_sid import service_sid
from ..facts.sql import SQL_ROOT_KEY, service_names
from . import key_acl
from .certificate_choice import binding_problems
from .certificates import THUMBPRINT, PolicyError, hash_list, next_start_warnings
from .gate import state_unknown
from .model import SERVICE_RESTART, Blocker, Change, Plan, PlannedOp, PlanWarning
from .overlay import facts_after
from .registry import RegistryView, UnknownState, dword, reg_sz, set_value

CONCERN = "sql_encryption"
STORE = "My"
STRICT_MIN_MAJOR = 16
KEEP = None


@dataclass(frozen=True)
class BindingPolicy:
    instances: frozenset[str] | None = None  # names or ids (case-insensitive); None = every instance
    certificate: str | None = KEEP  # a thumbprint, "" to clear, None to leave the binding alone
    hashes: frozenset[str] | None = None  # only instances whose bound certificate has one of these
    force_encryption: bool | None = None
    force_strict: bool | None = None
    grant_key_access: bool = True
    force: bool = False


def binding_policy(
    instances: Any = None,
    certificate: Any = None,
    hashes: Any = None,
    force_encryption: bool | None = None,
    force_strict: bool | None = None,
    grant_key_access: bool = True,
    force: bool = False,
) -> BindingPolicy:
    if instances is not None and (isinstance(instances, str) or not isinstance(instances, Iterable)):
        raise PolicyError(f"instances: expected a list of instance names or ids, got {instances!r}")
    if certificate is not None and not isinstance(certificate, str):
        raise PolicyError(f"certificate: expected a thumbprint or '' (clear), got {certificate!r}")
    if certificate:
        text = certificate.replace(" ", "").strip()
        if not THUMBPRINT.match(text):
            raise PolicyError(f"certificate: expected 40 hex digits or '' (clear), got {certificate!r}")
        certificate = text.lower()
    return BindingPolicy(
        instances=None if instances is None else frozenset(str(i).casefold() for i in instances),
        certificate=certificate,
        hashes=None if hashes is None else hash_list(hashes),
        force_encryption=force_encryption,
        force_strict=force_strict,
        grant_key_access=bool(grant_key_access),
        force=bool(force),
    )


def netlib_key(instance: Mapping[str, Any]) -> str:
    return f"{SQL_ROOT_KEY}\\{instance['id']}\\MSSQLServer\\SuperSocketNetLib"


def engine_service(instance: Mapping[str, Any]) -> str:
    return (instance.get("service") or {}).get("name") or service_names(instance["name"])[0]


def _selected(
    facts: Mapping[str, Any], policy: BindingPolicy
) -> tuple[list[Mapping[str, Any]], list[PlanWarning]]:
    instances = facts["sql"]["instances"]
    warnings = []
    if policy.instances is not None:
        known = {i["name"].casefold() for i in instances} | {i["id"].casefold() for i in instances}
        for name in sorted(policy.instances - known):
            warnings.append(PlanWarning("instance_not_found", name, {"instance": name}))
    certs = {c["thumbprint"]: c for c in facts["certificates"] if c.get("thumbprint")}
    chosen = []
    for instance in instances:
        if policy.instances is not None and not {instance["name"].casefold(), instance["id"].casefold()} & (
            policy.instances
        ):
            continue
        if policy.hashes is not None:
            bound = certs.get(instance["certificate"].get("bound") or "")
            if bound is None or (bound.get("signature_hash") or "") not in policy.hashes:
                continue
        chosen.append(instance)
    return chosen, warnings


def scope_instances(facts: Mapping[str, Any], policy: BindingPolicy) -> list[str]:
    return [instance["id"] for instance in _selected(facts, policy)[0]]


def _certificate_ops(
    facts: Mapping[str, Any],
    view: RegistryView,
    instance: Mapping[str, Any],
    policy: BindingPolicy,
    acls: dict[str, str],
) -> tuple[list[PlannedOp], list[Blocker], list[PlanWarning]]:
    ids = (instance["id"],)
    path = netlib_key(instance)
    if policy.certificate == "":
        if not instance["certificate"].get("bound"):
            return [], [], []  # nothing bound: absent and "" both mean none (section 2)
        return (
            [o for o in [set_value(view, path, "Certificate", reg_sz(""), SERVICE_RESTART, ids)] if o],
            [],
            [],
        )
    thumbprint = str(policy.certificate)
    blockers = [
        Blocker(
            f"certificate_{p.code}",
            instance["id"],
            {"instance": instance["name"], "thumbprint": thumbprint, **p.data},
            "bind a certificate that meets the requirements (sqlserver-tls.md 4), or force: true",
            forceable=p.forceable,
            forced=policy.force and p.forceable,
        )
        for p in binding_problems(facts, instance, thumbprint)
    ]
    if any(not b.forced for b in blockers):
        return [], blockers, []
    grant, more_blockers, warnings = _grant_ops(facts, instance, thumbprint, policy, acls)
    if any(not b.forced for b in more_blockers):
        return [], blockers + more_blockers, warnings  # bound without read access, the start would fail
    ops = [o for o in [set_value(view, path, "Certificate", reg_sz(thumbprint), SERVICE_RESTART, ids)] if o]
    return ops + grant, blockers + more_blockers, warnings


def _grant_ops(
    facts: Mapping[str, Any],
    instance: Mapping[str, Any],
    thumbprint: str,
    policy: BindingPolicy,
    acls: dict[str, str],
) -> tuple[list[PlannedOp], list[Blocker], list[PlanWarning]]:
    cert = next(c for c in facts["certificates"] if c.get("thumbprint") == thumbprint)
    if not policy.grant_key_access or not cert.get("has_private_key"):
        return [], [], []  # no key: nothing to grant (a forced binding; the start will fail)
    service = engine_service(instance)
    sid = service_sid(service)
    data = {
        "instance": instance["name"],
        "thumbprint": thumbprint,
        "service": f"NT SERVICE\\{service}",
        "sid": sid,
    }
    current = acls.get(thumbprint)
    if current is None:
        acl = cert.get("key_acl") or {}
        current = acl.get("sddl")
    if current is None:
        error = cert.get("key_acl_error") or {}
        data["error"] = error.get("message") or "not read"
        blocker = Blocker(
            "key_acl_unreadable",
            instance["id"],
            data,
            f"grant NT SERVICE\\{service} read access to the key by hand, or force: true",
            forced=policy.force,
        )
        return [], [blocker], []
    try:
        if key_acl.denies_read(current, sid):
            return [], [], [PlanWarning("key_acl_denies_service", instance["id"], data)]
        new = key_acl.grant_read(current, sid)
    except key_acl.SddlError as exc:
        data["error"] = str(exc)
        return (
            [],
            [
                Blocker(
                    "key_acl_unreadable",
                    instance["id"],
                    data,
                    "grant read access by hand",
                    forced=policy.force,
                )
            ],
            [],
        )
    if new == current:
        return [], [], []
    acls[thumbprint] = new
    upper = thumbprint.upper()
    planned = PlannedOp(
        op=op("cert.key.acl.set", store=STORE, thumbprint=upper, sddl=new, expect={"data": current}),
        change=Change(
            f"Cert:\\LocalMachine\\{STORE}\\{upper} private key DACL (read for NT SERVICE\\{service})",
            current,
            new,
            SERVICE_RESTART,
            (instance["id"],),
        ),
        target={"kind": "key_acl", "store": STORE, "thumbprint": upper},
        before=current,
        after=new,
    )
    return [planned], [], []


def _dword_on(view: RegistryView, path: str, name: str) -> bool:
    """A flag is on when its DWORD is not 0; absent means off (section 2)."""
    current = view.value(path, name)
    return bool(current and current.get("type") == "REG_DWORD" and current.get("data"))


def _flag_ops(
    view: RegistryView, instance: Mapping[str, Any], policy: BindingPolicy
) -> tuple[list[PlannedOp], list[Blocker], list[PlanWarning]]:
    ids = (instance["id"],)
    path = netlib_key(instance)
    ops: list[PlannedOp | None] = []
    blockers: list[Blocker] = []
    warnings: list[PlanWarning] = []
    if (
        policy.force_encryption is not None
        and _dword_on(view, path, "ForceEncryption") != policy.force_encryption
    ):
        ops.append(
            set_value(
                view, path, "ForceEncryption", dword(int(policy.force_encryption)), SERVICE_RESTART, ids
            )
        )
    if policy.force_strict is not None and _dword_on(view, path, "ForceStrict") != policy.force_strict:
        data = {"instance": instance["name"], "version": instance.get("version")}
        if policy.force_strict and (instance.get("major") or 0) < STRICT_MIN_MAJOR:
            blockers.append(
                Blocker(
                    "force_strict_unsupported",
                    instance["id"],
                    data,
                    "SQL Server 2022 or later",
                    forceable=False,
                )
            )
        else:
            if policy.force_strict:
                warnings.append(PlanWarning("force_strict_side_effects", instance["id"], data))
            ops.append(
                set_value(view, path, "ForceStrict", dword(int(policy.force_strict)), SERVICE_RESTART, ids)
            )
    return [o for o in ops if o is not None], blockers, warnings


def plan_sql_encryption(facts: Mapping[str, Any], policy: BindingPolicy) -> Plan:
    view = RegistryView(facts.get("registry"))
    chosen, warnings = _selected(facts, policy)
    ops: list[PlannedOp] = []
    blockers: list[Blocker] = []
    acls: dict[str, str] = {}
    try:
        for instance in chosen:
            if policy.certificate is not KEEP:
                more_ops, more_blockers, more_warnings = _certificate_ops(facts, view, instance, policy, acls)
                ops += more_ops
                blockers += more_blockers
                warnings += more_warnings
            more_ops, more_blockers, more_warnings = _flag_ops(view, instance, policy)
            ops += more_ops
            blockers += more_blockers
            warnings += more_warnings
    except UnknownState as exc:
        return Plan(concern=CONCERN, blockers=(state_unknown(str(exc)),))
    after = facts_after(facts, ops)
    # Whether SQL Server picks a weak certificate itself is certificate_purpose's concern.
    warnings += next_start_warnings(after, [i["id"] for i in chosen], auto_pick=False)
    return Plan(
        concern=CONCERN,
        ops=tuple(ops),
        blockers=tuple(blockers),
        warnings=tuple(warnings),
        forced=any(b.forced for b in blockers),
    )
