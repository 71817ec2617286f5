"""``assess(facts, lang, **options)``: mssql_tls facts -> findings, pure and controller-side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n.catalog import LANGUAGES
from . import rules_certificates, rules_ciphers, rules_host, rules_load, rules_protocols
from .findings import SEVERITIES, sort_key

SUPPORTED_SCHEMA = 1
DEFAULT_OPTIONS = {"expiry_warning_days": 30}
# Top-level facts the rules read, with the type each must have.
_REQUIRED = {
    "os": dict,
    "schannel": dict,
    "cipher_suites": dict,
    "sql": dict,
    "certificates": list,
    "drivers": list,
    "dotnet": dict,
    "fips": dict,
    "schannel_events": dict,
}


class AssessError(ValueError):
    """Facts or options that assess cannot work with; the message names the field."""


def check_facts(facts: Any) -> None:
    """Raise AssessError naming the first top-level field of ``facts`` that the rules cannot read."""
    if not isinstance(facts, Mapping):
        raise AssessError(f"facts: expected the mssql_tls facts (a mapping), got {type(facts).__name__}")
    if facts.get("schema_version") != SUPPORTED_SCHEMA:
        raise AssessError(
            f"facts.schema_version: expected {SUPPORTED_SCHEMA}, got {facts.get('schema_version')!r} "
            "(gather them with mssql.tls.tls_facts)"
        )
    for name, kind in _REQUIRED.items():
        if not isinstance(facts.get(name), kind):
            raise AssessError(
                f"facts.{name}: expected a {kind.__name__}, got {type(facts.get(name)).__name__}"
            )
    if not isinstance(facts["sql"].get("instances"), list):
        raise AssessError("facts.sql.instances: expected a list")


def _check(facts: Any, lang: str, options: Mapping[str, Any]) -> dict[str, Any]:
    check_facts(facts)
    if lang not in LANGUAGES:
        raise AssessError(f"lang: expected one of {list(LANGUAGES)}, got {lang!r}")
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise AssessError(f"options: unknown option(s) {sorted(unknown)}, expected {sorted(DEFAULT_OPTIONS)}")
    merged = {**DEFAULT_OPTIONS, **options}
    days = merged["expiry_warning_days"]
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise AssessError(f"expiry_warning_days: expected a non-negative integer, got {days!r}")
    return merged


def assess(facts: Mapping[str, Any], lang: str = "en", **options: Any) -> list[dict[str, Any]]:
    """Every finding for one host, most severe first. A compliant host gives ``[]``."""
    opts = _check(facts, lang, options)
    findings = [
        *rules_protocols.sql_protocol_findings(facts, lang),
        *rules_protocols.driver_protocol_findings(facts, lang),
        *rules_protocols.tls13_key_findings(facts, lang),
        *rules_ciphers.no_common_suite_findings(facts, lang),
        *rules_ciphers.dhe_findings(facts, lang),
        *rules_ciphers.policy_findings(facts, lang),
        *rules_certificates.weak_hash_findings(facts, lang),
        *rules_certificates.certificate_health_findings(facts, lang, opts["expiry_warning_days"]),
        *rules_certificates.binding_findings(facts, lang),
        *rules_load.login_starvation_findings(facts, lang),
        *rules_load.login_error_findings(facts, lang),
        *rules_host.dotnet_findings(facts, lang),
        *rules_host.fips_findings(facts, lang),
        *rules_host.schannel_event_findings(facts, lang),
        *rules_host.pending_reboot_findings(facts, lang),
    ]
    return sorted(findings, key=sort_key)


def scenarios_of(findings: list[Mapping[str, Any]]) -> list[int]:
    return sorted({f["scenario"] for f in findings if f["scenario"] is not None})


def severity_counts(findings: list[Mapping[str, Any]]) -> dict[str, int]:
    return {s: sum(1 for f in findings if f["severity"] == s) for s in reversed(SEVERITIES)}
