"""Scenario 4 and the certificate checks around it.

Only certificates SQL Server uses matter: the one it loaded (ERRORLOG), the one bound in
SuperSocketNetLib\\Certificate, or, with no binding, the ones it could auto-pick.
MD5, SHA224 and SHA512 signatures are scenario 4; SHA1 is a warning; SQL Server's
self-generated certificate is never the cause (reference/sqlserver-tls.md 3-5).

A weak certificate that is only an auto-pick candidate, on instances whose ERRORLOG
shows that the last start loaded something else, is not what SQL Server uses: it is
reported as ``weak_certificate_auto_pick_candidate`` (latent risk, no scenario, fixed
by the same role). "Something else" is the self-generated certificate or another
certificate that is still a candidate of that instance (SQL Server preferred it over
this one). The choice among candidates is undocumented (reference 3), so when the log
says nothing about the last start, or the certificate it loaded is no longer a
candidate (the next start chooses again), the candidate stays scenario 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import view
from .findings import Term, Usage, make_finding


def _usage(entries: list[tuple[str, str]]) -> list[Usage]:
    return [Usage(instance, role) for instance, role in entries]


def _loaded_instead(instance: Mapping[str, Any], thumbprint: str) -> Any:
    """What this instance loaded at its last start instead of auto-picking ``thumbprint``:
    the self-generated certificate or another candidate; None when that is not known."""
    cert = instance["certificate"]
    loaded = cert["loaded"]
    if loaded.get("line") is None:
        return None  # ERRORLOG says nothing about the last start
    if loaded.get("self_generated"):
        return Term("term.self_generated")
    other = loaded.get("thumbprint")
    if other and other != thumbprint and other in (cert.get("auto_pick_candidates") or []):
        return other
    return None


def _latent_auto_pick(facts: view.Facts, thumbprint: str, entries: list[tuple[str, str]]) -> list | None:
    """What was loaded instead, when every use of the certificate is a latent auto-pick."""
    if any(role != "auto_pick" for _name, role in entries):
        return None
    by_name = {instance["name"]: instance for instance in view.instances(facts)}
    instead = [_loaded_instead(by_name[name], thumbprint) for name, _role in entries]
    if any(label is None for label in instead):
        return None
    return list(dict.fromkeys(instead))


def weak_hash_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    certs = view.certificates(facts)
    findings = []
    for thumbprint, entries in sorted(view.certificate_usage(facts).items()):
        cert = certs.get(thumbprint)
        if cert is None or cert.get("parse_error"):
            continue
        roles = {role for _thumbprint, role in entries}
        common = {
            "target": thumbprint,
            "thumbprint": thumbprint,
            "subject": cert["subject"],
            "usage": _usage(entries),
        }
        weak = cert["signature_hash_class"] == "weak"
        latent = _latent_auto_pick(facts, thumbprint, entries) if weak else None
        if latent is not None:
            findings.append(
                make_finding(
                    "weak_certificate_auto_pick_candidate",
                    lang,
                    hash=cert["signature_hash"].upper(),
                    loaded=latent,
                    **common,
                )
            )
        elif weak:
            still_chosen = bool(roles & {"bound", "auto_pick"})
            findings.append(
                make_finding(
                    "s4.weak_certificate_hash",
                    lang,
                    fixable_by="weak_certificates" if still_chosen else "sql_restart",
                    remediation_variant=None if still_chosen else "restart",
                    hash=cert["signature_hash"].upper(),
                    **common,
                )
            )
        elif cert["signature_hash_class"] == "sha1":
            findings.append(make_finding("cert_sha1_signature", lang, **common))
    return findings


def certificate_health_findings(
    facts: view.Facts, lang: str, expiry_warning_days: int
) -> list[dict[str, Any]]:
    certs = view.certificates(facts)
    findings = []
    for thumbprint, entries in sorted(view.certificate_usage(facts).items()):
        cert = certs.get(thumbprint)
        served = [(name, role) for name, role in entries if role in ("loaded", "bound")]
        if cert is None or cert.get("parse_error") or not served:
            continue
        common = {
            "target": thumbprint,
            "thumbprint": thumbprint,
            "subject": cert["subject"],
            "usage": _usage(served),
        }
        if cert["days_left"] < expiry_warning_days:
            findings.append(
                make_finding(
                    "cert_expiring",
                    lang,
                    severity="high" if cert["expired"] else None,
                    days_left=cert["days_left"],
                    not_after=cert["not_after"],
                    **common,
                )
            )
        if not cert["has_private_key"]:
            findings.append(make_finding("cert_no_private_key", lang, **common))
    return findings


def _unusable_reason(thumbprint: str | None, certs: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not thumbprint:
        return "none_configured"
    cert = certs.get(thumbprint)
    if cert is None:
        return "missing_from_store"
    if not cert["has_private_key"]:
        return "no_private_key"
    if cert.get("expired"):
        return "expired"
    if not cert.get("server_auth"):
        return "no_server_auth"
    return None


def binding_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    certs = view.certificates(facts)
    findings = []
    for instance in view.instances(facts):
        cert, name, target = instance["certificate"], instance["name"], instance["id"]
        bound = cert["bound"]
        reason = _unusable_reason(bound, certs)
        if bound and bound not in certs:
            findings.append(
                make_finding("cert_bound_missing", lang, target=target, instance=name, thumbprint=bound)
            )
        if instance["force_encryption"] and bound and reason:
            findings.append(
                make_finding(
                    "force_encryption_without_certificate",
                    lang,
                    target=target,
                    instance=name,
                    thumbprint=bound,
                    reason=Term(f"term.reason.{reason}"),
                )
            )
        if instance["force_strict"] and reason:
            findings.append(
                make_finding(
                    "force_strict_without_certificate",
                    lang,
                    target=target,
                    instance=name,
                    reason=Term(f"term.reason.{reason}"),
                )
            )
        loaded = cert["loaded"]
        if loaded.get("line") is None:
            continue  # no ERRORLOG evidence of what was loaded
        loaded_label: Any = Term("term.self_generated") if loaded["self_generated"] else loaded["thumbprint"]
        pending = (bound and (loaded["self_generated"] or loaded["thumbprint"] != bound)) or (
            not bound and loaded["thumbprint"] and loaded["thumbprint"] not in cert["auto_pick_candidates"]
        )
        if pending:
            findings.append(
                make_finding(
                    "sql_restart_pending_certificate",
                    lang,
                    target=target,
                    instance=name,
                    configured=bound or Term("term.reason.none_configured"),
                    loaded=loaded_label,
                )
            )
    return findings
