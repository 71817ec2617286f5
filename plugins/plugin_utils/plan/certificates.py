"""The ``certificate_purpose`` concern: take Server Authentication away from weak certificates.

Scenario 4's second step (sqlserver-tls.md 0: "Enable only the following purposes, deselect
Server Authentication"): write certificate property 9 (``CERT_ENHKEY_USAGE_PROP_ID``) of the
store entry, never the certificate's extension (section 6). The effective purposes are the
extension intersected with the property; no property means "the extension", an empty one
means "no purposes". Section 6's rule, kept exactly:

    eff = ALL if neither; ext if no property; prop if no extension; else ext ∩ prop
    Server Authentication not in eff (and eff is not ALL): nothing to do
    new = (KEEP if eff is ALL else eff) - {Server Authentication}  -> property 9 = DER(new)

``KEEP`` (``keep_if_unrestricted``) is the explicit list a certificate valid for all purposes
keeps, since property 9 is a list of what is allowed, not of what is taken away; by default
Client Authentication (the section's example).

Which certificates: only those SQL Server loaded (ERRORLOG), binds, or could auto-pick
(section 5: "Only certificates that SQL Server actually uses or would auto-pick matter"),
selected by signature hash (MD5, SHA224, SHA512 by default; SHA1 opt-in) and/or thumbprint.
Refused without ``force``: a certificate the RDP listener, a WinRM HTTPS listener or an
http.sys binding also presents (docs/reference-windows-bindings.md 1-3; WinRM is the
connection this very module runs over), one whose other uses could not be read, and one
still bound in ``SuperSocketNetLib`` (a bound certificate that loses Server Authentication
may keep SQL Server from starting, section 4: clear or replace the binding first).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..agent.ops import op
from ..assess.view import certificate_usage
from ..facts.bindings import unread
from ..facts.certs import ALL_PURPOSES, SERVER_AUTH
from ..facts.der import encode_oid_sequence
from .certificate_choice import next_start_certificate
from .model import SERVICE_RESTART, Blocker, Change, Plan, PlannedOp, PlanWarning
from .overlay import facts_after

CONCERN = "certificate_purpose"
STORE = "My"
PROP_EKU = 9
HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
DEFAULT_HASHES = ("md5", "sha224", "sha512")
# Names the option accepts for purposes (RFC 5280 id-kp-*), besides dotted OIDs.
PURPOSES = {
    "server_auth": SERVER_AUTH,
    "client_auth": "1.3.6.1.5.5.7.3.2",
    "code_signing": "1.3.6.1.5.5.7.3.3",
    "email_protection": "1.3.6.1.5.5.7.3.4",
    "time_stamping": "1.3.6.1.5.5.7.3.8",
    "ocsp_signing": "1.3.6.1.5.5.7.3.9",
}
PURPOSE_NAMES = {oid: name for name, oid in PURPOSES.items()}
THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")
_OID = re.compile(r"^[0-2](\.[0-9]+)+$")


class PolicyError(ValueError):
    """Module arguments that do not describe a selection; the message names the field."""


@dataclass(frozen=True)
class PurposePolicy:
    hashes: frozenset[str] = frozenset(DEFAULT_HASHES)
    thumbprints: frozenset[str] = frozenset()
    keep_if_unrestricted: tuple[str, ...] = (PURPOSES["client_auth"],)
    force: bool = False


def thumbprint_list(values: Any, field: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise PolicyError(f"{field}: expected a list of 40-hex-digit thumbprints, got {values!r}")
    out = set()
    for index, value in enumerate(values):
        text = str(value).replace(" ", "").strip()
        if not THUMBPRINT.match(text):
            raise PolicyError(f"{field}[{index}]: expected 40 hex digits, got {value!r}")
        out.add(text.lower())
    return frozenset(out)


def hash_list(values: Any, field: str = "hashes") -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise PolicyError(f"{field}: expected a list of hash names {list(HASHES)}, got {values!r}")
    out = set()
    for index, value in enumerate(values):
        name = str(value).lower().replace("-", "")
        if name not in HASHES:
            raise PolicyError(f"{field}[{index}]: expected one of {list(HASHES)}, got {value!r}")
        out.add(name)
    return frozenset(out)


def purpose_policy(
    hashes: Any = DEFAULT_HASHES,
    thumbprints: Any = None,
    keep_if_unrestricted: Any = ("client_auth",),
    force: bool = False,
) -> PurposePolicy:
    keep = []
    if isinstance(keep_if_unrestricted, str) or not isinstance(keep_if_unrestricted, Iterable):
        raise PolicyError(f"keep_if_unrestricted: expected a list of purposes, got {keep_if_unrestricted!r}")
    for index, value in enumerate(keep_if_unrestricted):
        oid = PURPOSES.get(str(value), str(value))
        if not _OID.match(oid):
            raise PolicyError(
                f"keep_if_unrestricted[{index}]: expected one of {sorted(PURPOSES)} or a dotted OID, "
                f"got {value!r}"
            )
        if oid == SERVER_AUTH:
            raise PolicyError(f"keep_if_unrestricted[{index}]: Server Authentication is what is taken away")
        if oid not in keep:
            keep.append(oid)
    return PurposePolicy(
        hashes=hash_list(hashes),
        thumbprints=thumbprint_list(thumbprints, "thumbprints"),
        keep_if_unrestricted=tuple(keep),
        force=bool(force),
    )


def purposes_text(oids: list[str] | str | None) -> Any:
    """What the diff shows: names where known, ``all`` for an unrestricted certificate."""
    if oids is None or oids == ALL_PURPOSES:
        return oids
    return [PURPOSE_NAMES.get(oid, oid) for oid in oids]


def new_property(effective: list[str] | str, keep_if_unrestricted: tuple[str, ...]) -> list[str] | None:
    """Property 9 without Server Authentication (section 6), or None when there is nothing to do."""
    if effective != ALL_PURPOSES and SERVER_AUTH not in effective:
        return None
    base = list(keep_if_unrestricted) if effective == ALL_PURPOSES else list(effective)
    return [oid for oid in base if oid != SERVER_AUTH]


def _instance_ids(facts: Mapping[str, Any], names: Iterable[str]) -> tuple[str, ...]:
    by_name = {i["name"]: i["id"] for i in facts["sql"]["instances"]}
    return tuple(dict.fromkeys(by_name[n] for n in names if n in by_name))


def _selected(
    facts: Mapping[str, Any], policy: PurposePolicy
) -> tuple[list[tuple[dict, list]], list[PlanWarning]]:
    certs = {c["thumbprint"]: c for c in facts["certificates"] if c.get("thumbprint")}
    usage = certificate_usage(facts)
    chosen, warnings = [], []
    for thumbprint in sorted(policy.thumbprints - set(usage)):
        code = "certificate_not_in_store" if thumbprint not in certs else "certificate_not_used_by_sql"
        warnings.append(PlanWarning(code, thumbprint, {"thumbprint": thumbprint}))
    for thumbprint, entries in sorted(usage.items()):
        cert = certs.get(thumbprint)
        if cert is None or cert.get("parse_error"):
            continue
        if thumbprint in policy.thumbprints or (cert.get("signature_hash") or "") in policy.hashes:
            chosen.append((cert, entries))
    return chosen, warnings


def scope_instances(facts: Mapping[str, Any], policy: PurposePolicy) -> list[str]:
    """Ids of the instances that load, bind or could pick one of the selected certificates."""
    chosen, _warnings = _selected(facts, policy)
    return list(_instance_ids(facts, (name for _cert, entries in chosen for name, _role in entries)))


def _refusals(facts: Mapping[str, Any], cert: Mapping[str, Any], entries: list, force: bool) -> list[Blocker]:
    thumbprint = cert["thumbprint"]
    blockers = []
    uses = cert.get("used_by") or []
    if uses:
        services = [f"{u['service']} ({u['where']})" for u in uses]
        blockers.append(
            Blocker(
                "certificate_used_elsewhere",
                thumbprint,
                {"thumbprint": thumbprint, "services": services},
                "give that service another certificate first, or force: true",
                forced=force,
            )
        )
    missing = unread(facts.get("bindings") or {})
    if missing:
        blockers.append(
            Blocker(
                "bindings_not_read",
                thumbprint,
                {"thumbprint": thumbprint, "sources": missing},
                "gather the facts again (mssql.tls.tls_facts), or force: true",
                forced=force,
            )
        )
    bound_to = [name for name, role in entries if role == "bound"]
    if bound_to:
        blockers.append(
            Blocker(
                "certificate_still_bound",
                thumbprint,
                {"thumbprint": thumbprint, "instances": bound_to},
                "clear or replace the binding first (mssql.tls.sql_encryption), or force: true",
                forced=force,
            )
        )
    return blockers


def _purpose_op(cert: Mapping[str, Any], new: list[str], instances: tuple[str, ...]) -> PlannedOp:
    thumbprint = cert["thumbprint"].upper()
    current = cert.get("prop9")
    data = base64.b64encode(encode_oid_sequence(new)).decode("ascii")
    return PlannedOp(
        op=op(
            "cert.prop.set",
            store=STORE,
            thumbprint=thumbprint,
            prop_id=PROP_EKU,
            data=data,
            expect=None if current is None else {"data": current},
        ),
        change=Change(
            f"Cert:\\LocalMachine\\{STORE}\\{thumbprint} property 9 (enhanced key usage)",
            purposes_text(cert.get("eku_property")),
            purposes_text(new),
            SERVICE_RESTART,
            instances,
        ),
        target={"kind": "cert_prop", "store": STORE, "thumbprint": thumbprint, "prop_id": PROP_EKU},
        before=current,
        after=data,
    )


def next_start_warnings(
    facts: Mapping[str, Any], instance_ids: Iterable[str], *, auto_pick: bool = True
) -> list[PlanWarning]:
    """What the next start of these instances loads, when that is a problem (on facts after the plan).

    ``auto_pick`` False leaves out a weak certificate SQL Server would pick itself: the binding
    module warns about what the binding loads, the purpose module about what SQL Server picks."""
    warnings = []
    wanted = set(instance_ids)
    for instance in facts["sql"]["instances"]:
        if instance["id"] not in wanted:
            continue
        nxt = next_start_certificate(facts, instance)
        data = {"instance": instance["name"], **nxt.as_dict()}
        data["certificate"] = nxt.thumbprint or ", ".join(nxt.candidates) or "-"
        data["hashes"] = ", ".join(h.upper() for h in nxt.hashes) or "-"
        if nxt.kind == "start_fails":
            warnings.append(PlanWarning("next_start_fails", instance["id"], data))
        elif nxt.weak and (auto_pick or nxt.kind == "bound"):
            warnings.append(PlanWarning("next_start_certificate_weak", instance["id"], data))
        if instance.get("force_strict") and nxt.kind in ("self_generated", "start_fails"):
            warnings.append(PlanWarning("force_strict_without_certificate", instance["id"], data))
    return warnings


def plan_certificate_purpose(facts: Mapping[str, Any], policy: PurposePolicy) -> Plan:
    chosen, warnings = _selected(facts, policy)
    ops: list[PlannedOp] = []
    blockers: list[Blocker] = []
    affected: list[str] = []
    for cert, entries in chosen:
        new = new_property(cert.get("effective_purposes") or [], policy.keep_if_unrestricted)
        if new is None:
            continue  # Server Authentication is not effective: nothing to do (section 6)
        refusals = _refusals(facts, cert, entries, policy.force)
        blockers += refusals
        if refusals and not policy.force:
            continue
        instances = _instance_ids(facts, (name for name, _role in entries))
        affected += instances
        ops.append(_purpose_op(cert, new, instances))
    after = facts_after(facts, ops)
    warnings += next_start_warnings(after, affected)
    return Plan(
        concern=CONCERN,
        ops=tuple(ops),
        blockers=tuple(blockers),
        warnings=tuple(warnings),
        forced=any(b.forced for b in blockers),
    )
