"""Scenarios 2, 3 and 5, and the policy-list checks.

Scenario 2: for every protocol the engine and Schannel share, the list in force has no
suite that fits the certificate's key type and that common clients offer. Scenario 3:
any TLS_DHE_* suite in force. Scenario 5: TLS_DHE_* in force on an OS without the
leading-zero fix (reference/windows-schannel.md 4-6); a scenario 5 host is also a
scenario 3 host. Schannel events 36874 / 36888 are attached as evidence (section 8).
"""

from __future__ import annotations

from typing import Any

from ..facts.ciphers import POLICY_MAX_CHARS
from ..facts.suites import parse_suite
from . import view
from .client_offer import COMMON_CLIENT_OFFER
from .findings import Term, make_finding


def usable_suites(effective: list[str], protocol: str, key_type: str) -> list[str]:
    offer = COMMON_CLIENT_OFFER.get(protocol, frozenset())
    return [
        name
        for name in effective
        if protocol in (suite := parse_suite(name)).protocols
        and suite.usable_with_key(key_type)
        and suite.canonical in offer
    ]


def no_common_suite_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    suites = facts["cipher_suites"]
    server = view.effective_protocols(facts, "server")
    certs = view.certificates(facts)
    findings = []
    for instance in view.instances(facts):
        shared = view.tls_only(view.instance_protocols(instance) & server)
        if not shared:
            continue  # no protocol in common at all is scenario 1
        key_type = view.key_type_in_use(instance, certs)
        if any(usable_suites(suites["effective"], p, key_type) for p in shared):
            continue
        findings.append(
            make_finding(
                "s2.no_common_cipher_suite",
                lang,
                target=instance["id"],
                instance=instance["name"],
                protocols=view.ordered(shared),
                key_type=key_type,
                source=Term(f"term.source.{suites['source']}"),
                suite_count=len(suites["effective"]),
                events_36874=view.event_count(facts, 36874),
            )
        )
    return findings


def dhe_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    suites = facts["cipher_suites"]
    dhe = list(suites["dhe"])
    if not dhe:
        return []
    source = Term(f"term.source.{suites['source']}")
    findings = [make_finding("s3.dhe_suites_enabled", lang, suites=dhe, count=len(dhe), source=source)]
    fix = facts["os"]["dhe_leading_zero_fix"]
    if fix["fixed"] is False:
        findings.append(
            make_finding(
                "s5.dhe_without_leading_zero_fix",
                lang,
                os_version=facts["os"]["version"],
                fixed_from=fix["fixed_from"] or Term("term.none"),
                suites=dhe,
                events_36888=view.event_count(facts, 36888),
            )
        )
    return findings


def policy_findings(facts: view.Facts, lang: str) -> list[dict[str, Any]]:
    policy = facts["cipher_suites"]["policy"]
    if not policy["present"]:
        return []
    findings = [
        make_finding(
            "cipher_policy_present",
            lang,
            count=len(policy["functions"]),
            length=policy["length"] or 0,
        )
    ]
    if policy["over_limit"]:
        findings.append(
            make_finding(
                "cipher_policy_too_long",
                lang,
                length=policy["length"],
                limit=POLICY_MAX_CHARS,
            )
        )
    return findings
