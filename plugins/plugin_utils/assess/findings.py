"""Findings: the rule table (stable machine fields) and rendering of catalog text.

A finding is ``{id, scenario, severity, title, evidence, remediation, fixable_by,
target, data}``. ``id``, ``scenario``, ``severity``, ``fixable_by``, ``target`` and
``data`` (the language-neutral parameters) are the same in every language; ``title``,
``evidence`` and ``remediation`` come from the catalog of the requested language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..i18n.catalog import message

SEVERITIES = ("info", "low", "medium", "high")
FIXERS = ("tls12", "cipher_suites", "weak_certificates", "sql_restart")


@dataclass(frozen=True)
class Rule:
    id: str
    scenario: int | None
    severity: str
    fixable_by: str | None
    # extra remediation texts: catalog key ``finding.<id>.remediation_<variant>``
    remediation_variants: tuple[str, ...] = ()


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("s1.sql_no_common_protocol", 1, "high", "tls12", ("upgrade",)),
        Rule("s1.driver_no_common_protocol", 1, "high", "tls12", ("upgrade", "mdac")),
        Rule("s2.no_common_cipher_suite", 2, "high", "cipher_suites"),
        Rule("s3.dhe_suites_enabled", 3, "medium", "cipher_suites"),
        Rule("s4.weak_certificate_hash", 4, "high", "weak_certificates", ("restart",)),
        Rule("s5.dhe_without_leading_zero_fix", 5, "high", "cipher_suites"),
        Rule("s6.login_starvation_risk", 6, "medium", None),
        Rule("sql_no_tls12", None, "medium", None),
        Rule("driver_no_tls12", None, "low", None, ("mdac",)),
        Rule("dotnet_strong_crypto_off", None, "low", "tls12"),
        Rule("weak_certificate_auto_pick_candidate", None, "medium", "weak_certificates"),
        Rule("cert_sha1_signature", None, "low", None),
        Rule("cert_expiring", None, "medium", None),
        Rule("cert_no_private_key", None, "high", None),
        Rule("cert_bound_missing", None, "high", None),
        Rule("force_encryption_without_certificate", None, "high", None),
        Rule("force_strict_without_certificate", None, "high", None),
        Rule("sql_restart_pending_certificate", None, "low", "sql_restart"),
        Rule("tls13_keys_unsupported_os", None, "medium", "tls12"),
        Rule("cipher_policy_present", None, "info", None),
        Rule("cipher_policy_too_long", None, "medium", "cipher_suites"),
        Rule("fips_enabled", None, "low", None),
        Rule("schannel_events", None, "low", None),
        Rule("reboot_pending", None, "medium", None),
        Rule("login_errors_10054", None, "low", None),
    )
}
CHECK_IDS = tuple(RULES)


# Every catalog word a finding may carry as a parameter (tests/unit/i18n checks the catalogs).
TERMS = frozenset(
    {
        "term.none",
        "term.unknown",
        "term.self_generated",
        "term.usage.loaded",
        "term.usage.bound",
        "term.usage.auto_pick",
        "term.reason.missing_from_store",
        "term.reason.no_private_key",
        "term.reason.expired",
        "term.reason.no_server_auth",
        "term.reason.none_configured",
        "term.source.policy",
        "term.source.local",
        "term.source.os_default",
    }
)


@dataclass(frozen=True)
class Term:
    """A parameter that is a catalog word (``term.*``), translated when rendered."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in TERMS:
            raise ValueError(f"term: unknown catalog word {self.key!r}, expected one of {sorted(TERMS)}")


@dataclass(frozen=True)
class Usage:
    """How an instance uses a certificate: loaded, bound or auto_pick (``term.usage.*``)."""

    instance: str
    role: str


def _render(value: Any, lang: str) -> str:
    if isinstance(value, Term):
        return message(value.key, lang)
    if isinstance(value, Usage):
        return f"{value.instance} ({_render(Term(f'term.usage.{value.role}'), lang)})"
    if isinstance(value, list | tuple):
        return ", ".join(_render(v, lang) for v in value) if value else message("term.none", lang)
    if value is None:
        return message("term.unknown", lang)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Term):
        return value.key
    if isinstance(value, Usage):
        return {"instance": value.instance, "role": value.role}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_DEFAULT = object()


def make_finding(
    rule_id: str,
    lang: str,
    *,
    target: str | None = None,
    severity: str | None = None,
    fixable_by: Any = _DEFAULT,
    remediation_variant: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    rule = RULES[rule_id]
    if remediation_variant is not None and remediation_variant not in rule.remediation_variants:
        raise ValueError(
            f"remediation_variant: {remediation_variant!r} is not declared for {rule_id}, "
            f"expected one of {list(rule.remediation_variants)}"
        )
    rendered = {name: _render(value, lang) for name, value in params.items()}
    prefix = f"finding.{rule_id}"
    remediation_key = f"{prefix}.remediation" + (f"_{remediation_variant}" if remediation_variant else "")
    return {
        "id": rule_id,
        "scenario": rule.scenario,
        "severity": severity or rule.severity,
        "title": message(f"{prefix}.title", lang, **rendered),
        "evidence": message(f"{prefix}.evidence", lang, **rendered),
        "remediation": message(remediation_key, lang, **rendered),
        "fixable_by": rule.fixable_by if fixable_by is _DEFAULT else fixable_by,
        "target": target,
        "data": {name: _plain(value) for name, value in params.items()},
    }


def sort_key(finding: Mapping[str, Any]) -> tuple:
    return (
        -SEVERITIES.index(finding["severity"]),
        finding["scenario"] if finding["scenario"] is not None else 99,
        finding["id"],
        finding.get("target") or "",
    )
