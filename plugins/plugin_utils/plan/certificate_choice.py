"""Which certificate SQL Server loads at its next start, and whether a certificate may be bound.

``next_start_certificate(facts, instance)`` follows reference/sqlserver-tls.md 3:
1. ``SuperSocketNetLib\\Certificate`` set: that certificate of LocalMachine\\My. A missing one or
   one without its private key is not loaded: the start fails (26014 "Unable to load
   user-specified certificate", then 17182; section 3 and section 4, "SQL Server will not start
   if a certificate ... only meets some requirements ... and if it is manually configured").
2. Not set: a certificate that supports Server Authentication. The choice is undocumented
   (section 3), so the candidates are those of the facts (``sql_auto_pick_candidate``: private
   key, Server Authentication in the effective purposes, valid now). One candidate: that one.
   Several: "one of" them, and a weak one among them counts. (That the last start loaded one
   of them says nothing when that start loaded it because it was bound.)
3. No candidate: a self-generated certificate; it is never the cause of scenario 4 (section 5).

Planners call it on the facts *after* their plan (``overlay.facts_after``), so a plan can say
what the next start will load once it is applied.

``binding_problems`` checks a certificate against section 4 before it is bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..facts.certs import has_server_auth

BOUND = "bound"
START_FAILS = "start_fails"
AUTO_PICK = "auto_pick"
AUTO_PICK_ONE_OF = "auto_pick_one_of"
SELF_GENERATED = "self_generated"

# SQL Server 2019, 2022 and 2025 load CNG (KSP) certificates set through the registry
# (sqlserver-tls.md 4: dbatools issue #10713); Microsoft calls them unsupported before that.
CNG_MIN_MAJOR = 15


@dataclass(frozen=True)
class NextStart:
    kind: str
    thumbprint: str | None = None  # bound / auto_pick: the certificate; start_fails: the bound value
    candidates: tuple[str, ...] = ()  # auto_pick_one_of
    weak: bool = False  # a weak hash (scenario 4) among what may be loaded
    hashes: tuple[str, ...] = ()
    reason: str | None = None  # start_fails: missing_from_store | no_private_key

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "thumbprint": self.thumbprint,
            "candidates": list(self.candidates),
            "weak": self.weak,
            "signature_hashes": list(self.hashes),
            "reason": self.reason,
        }


def _certs(facts: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c["thumbprint"]: c for c in facts.get("certificates") or [] if c.get("thumbprint")}


def _weak(cert: Mapping[str, Any]) -> bool:
    return cert.get("signature_hash_class") == "weak"


def auto_pick_candidates(facts: Mapping[str, Any]) -> list[str]:
    return [c["thumbprint"] for c in facts.get("certificates") or [] if c.get("sql_auto_pick_candidate")]


def next_start_certificate(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> NextStart:
    certs = _certs(facts)
    bound = instance["certificate"].get("bound")
    if bound:
        cert = certs.get(bound)
        if cert is None or not cert.get("has_private_key"):
            reason = "missing_from_store" if cert is None else "no_private_key"
            return NextStart(START_FAILS, bound, reason=reason)
        return NextStart(BOUND, bound, weak=_weak(cert), hashes=(cert.get("signature_hash") or "?",))
    candidates = auto_pick_candidates(facts)
    if not candidates:
        return NextStart(SELF_GENERATED)
    if len(candidates) == 1:
        cert = certs[candidates[0]]
        return NextStart(
            AUTO_PICK, candidates[0], weak=_weak(cert), hashes=(cert.get("signature_hash") or "?",)
        )
    return NextStart(
        AUTO_PICK_ONE_OF,
        candidates=tuple(candidates),
        weak=any(_weak(certs[t]) for t in candidates),
        hashes=tuple(sorted({certs[t].get("signature_hash") or "?" for t in candidates})),
    )


def restart_changes_certificate(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> bool:
    """The next start loads something else than the last start did (ERRORLOG), or fails:
    a restart is what makes the configured state the live one. False when ERRORLOG is silent."""
    loaded = instance["certificate"]["loaded"]
    if loaded.get("line") is None:
        return False
    nxt = next_start_certificate(facts, instance)
    if nxt.kind == START_FAILS:
        return True
    if nxt.kind == SELF_GENERATED:
        return not loaded.get("self_generated")
    if nxt.kind == AUTO_PICK_ONE_OF:
        return loaded.get("thumbprint") not in nxt.candidates
    return loaded.get("self_generated") or loaded.get("thumbprint") != nxt.thumbprint


def server_fqdn(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> str | None:
    """The name clients connect to: the virtual server FQDN for a failover cluster instance (section 4)."""
    host = facts.get("host") or {}
    if instance.get("clustered") and instance.get("cluster_name"):
        domain = host.get("dns_domain")
        name = instance["cluster_name"]
        return f"{name}.{domain}".lower() if domain else name.lower()
    return (host.get("fqdn") or "").lower() or None


def _is_cng(cert: Mapping[str, Any]) -> bool:
    provider_type = cert.get("key_provider_type")
    if provider_type is not None:
        return provider_type == 0
    return "key storage provider" in str(cert.get("key_provider") or "").lower()


@dataclass(frozen=True)
class Problem:
    code: str  # catalog key suffix: blocker.certificate_<code>
    forceable: bool = True
    data: Mapping[str, Any] = field(default_factory=dict)


def binding_problems(facts: Mapping[str, Any], instance: Mapping[str, Any], thumbprint: str) -> list[Problem]:
    """What keeps ``thumbprint`` from being a certificate SQL Server can load (sqlserver-tls.md 4, 5)."""
    cert = _certs(facts).get(thumbprint)
    if cert is None or cert.get("parse_error"):
        return [Problem("not_in_store", forceable=False)]
    problems = []
    if not has_server_auth(cert.get("effective_purposes") or []):
        problems.append(Problem("no_server_auth"))
    if not cert.get("has_private_key"):
        problems.append(Problem("no_private_key"))
    elif _is_cng(cert):
        if (instance.get("major") or 0) < CNG_MIN_MAJOR:
            problems.append(Problem("key_unusable", data={"key": "CNG", "key_spec": cert.get("key_spec")}))
    elif cert.get("key_spec") != 1:  # AT_KEYEXCHANGE
        problems.append(Problem("key_unusable", data={"key": "CSP", "key_spec": cert.get("key_spec")}))
    fqdn = server_fqdn(facts, instance)
    names = {n.lower().rstrip(".") for n in [cert.get("common_name"), *(cert.get("sans") or [])] if n}
    if fqdn is None or fqdn not in names:
        problems.append(Problem("name_mismatch", data={"fqdn": fqdn, "names": sorted(names)}))
    if _weak(cert):
        problems.append(Problem("weak_hash", data={"hash": (cert.get("signature_hash") or "?").upper()}))
    if not cert.get("valid_now"):
        problems.append(
            Problem(
                "not_valid_now",
                data={"not_before": cert.get("not_before"), "not_after": cert.get("not_after")},
            )
        )
    return problems
