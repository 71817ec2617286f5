"""Findings for the failing pairs of the fleet, in the shape of assess/findings.py.

One finding per (client host, SQL Server instance, scenario), naming every driver family
of the client that fails there; it is put on both hosts, so the server's findings name
the clients that fail against it and the client's findings name the servers.
``target`` names the pair (``client->server/INSTANCE``). The texts are in the
``<lang>.pairing.yml`` catalogs under ``pairing.finding.<id>``: these ids are not
per-host checks, so they live next to, not inside, the rule table of findings.py.
A pair known only by assumption (no declaration, no ERRORLOG line) is one severity lower.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..i18n.catalog import message
from .findings import SEVERITIES, Rule, sort_key
from .pairing import FAILING

PAIR_RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("pair.s1.no_common_protocol", 1, "high", "tls12", ("upgrade",)),
        Rule("pair.s2.no_common_cipher_suite", 2, "high", None),
        Rule("pair.s5.dhe_leading_zero_mismatch", 5, "high", "cipher_suites"),
    )
}
PAIR_CHECK_IDS = tuple(PAIR_RULES)
_BY_SCENARIO = {rule.scenario: rule for rule in PAIR_RULES.values()}
# Catalog words a pair finding may carry (tests/unit/assess/test_pairing_findings.py checks them).
WORDS = frozenset(
    {
        "pairing.word.none",
        "pairing.word.unknown",
        "pairing.word.fixed",
        "pairing.word.not_fixed",
        *(f"pairing.source.{s}" for s in ("declared", "observed", "assumed")),
        *(f"pairing.suite_source.{s}" for s in ("policy", "local", "os_default")),
        "pairing.side.client",
        "pairing.side.server",
    }
)


@dataclass(frozen=True)
class Word:
    """A parameter that is a catalog word of the pairing catalogs, translated when rendered."""

    key: str

    def __post_init__(self) -> None:
        if self.key not in WORDS:
            raise ValueError(f"word: unknown catalog word {self.key!r}, expected one of {sorted(WORDS)}")


def _render(value: Any, lang: str) -> str:
    if isinstance(value, Word):
        return message(value.key, lang)
    if isinstance(value, list | tuple):
        return ", ".join(_render(v, lang) for v in value) if value else message("pairing.word.none", lang)
    if value is None:
        return message("pairing.word.unknown", lang)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Word):
        return value.key
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def make_pair_finding(
    rule_id: str,
    lang: str,
    *,
    target: str,
    assumed: bool,
    fixable_by: str | None,
    remediation_variant: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    rule = PAIR_RULES[rule_id]
    if remediation_variant is not None and remediation_variant not in rule.remediation_variants:
        raise ValueError(f"remediation_variant: {remediation_variant!r} is not declared for {rule_id}")
    rendered = {name: _render(value, lang) for name, value in params.items()}
    prefix = f"pairing.finding.{rule_id}"
    remediation = f"{prefix}.remediation" + (f"_{remediation_variant}" if remediation_variant else "")
    severity = SEVERITIES[SEVERITIES.index(rule.severity) - 1] if assumed else rule.severity
    return {
        "id": rule_id,
        "scenario": rule.scenario,
        "severity": severity,
        "title": message(f"{prefix}.title", lang, **rendered),
        "evidence": message(f"{prefix}.evidence", lang, **rendered),
        "remediation": message(remediation, lang, **rendered),
        "fixable_by": fixable_by,
        "target": target,
        "data": {name: _plain(value) for name, value in params.items()},
    }


def _fixed(value: bool | None) -> Word:
    return Word(
        {True: "pairing.word.fixed", False: "pairing.word.not_fixed"}.get(value, "pairing.word.unknown")
    )


def _drivers(group: list[Mapping[str, Any]]) -> list[str]:
    return [f"{p['driver']} ({', '.join(p['driver_versions'])})" for p in group]


def _finding(group: list[Mapping[str, Any]], lang: str) -> dict[str, Any]:
    first = group[0]
    rule = _BY_SCENARIO[first["scenario"]]
    server = f"{first['server']}/{first['instance']}"
    common = {
        "client": first["client"],
        "server": server,
        "drivers": _drivers(group),
        "families": [p["driver"] for p in group],
        "sources": [Word(f"pairing.source.{s}") for s in first["sources"]],
        "pairs": [p["id"] for p in group],
        "errors_10054": sum(int(s.get("errors_17830_10054") or 0) for s in first["seen"]),
    }
    target = f"{first['client']}->{server}"
    assumed = first["sources"] == ["assumed"]
    if rule.scenario == 1:
        upgrades = sorted({p["clears_with"] for p in group if p["clears_with"]})
        sides = sorted({p["remedy"] for p in group if p["fixable_by"] == "tls12"})
        return make_pair_finding(
            rule.id,
            lang,
            target=target,
            assumed=assumed,
            fixable_by=None if upgrades else "tls12",
            remediation_variant="upgrade" if upgrades else None,
            client_protocols=sorted({x for p in group for x in p["client_protocols"]}),
            server_protocols=first["server_protocols"],
            clears_with=upgrades,
            enable_on=[Word(f"pairing.side.{s.rsplit('_', 1)[1]}") for s in sides],
            **common,
        )
    if rule.scenario == 2:
        return make_pair_finding(
            rule.id,
            lang,
            target=target,
            assumed=assumed,
            fixable_by=None,
            protocol=first["protocol"],
            key_type=first["key_type"],
            client_suite_source=Word(f"pairing.suite_source.{first['client_suite_source']}"),
            server_suite_source=Word(f"pairing.suite_source.{first['server_suite_source']}"),
            **common,
        )
    return make_pair_finding(
        rule.id,
        lang,
        target=target,
        assumed=assumed,
        fixable_by="cipher_suites",
        suite=sorted({p["suite"] for p in group}),
        client_os=first["client_os"],
        server_os=first["server_os"],
        client_fix=_fixed(first["dh_fix"]["client"]),
        server_fix=_fixed(first["dh_fix"]["server"]),
        **common,
    )


def pair_findings(pairs: list[Mapping[str, Any]], lang: str) -> dict[str, list[dict[str, Any]]]:
    """host -> its pair findings (as a client and as a server), most severe first."""
    groups: dict[tuple[str, str, str, int], list[Mapping[str, Any]]] = {}
    for pair in pairs:
        if pair["status"] in FAILING:
            key = (pair["client"], pair["server"], pair["instance"], pair["scenario"])
            groups.setdefault(key, []).append(pair)
    by_host: dict[str, list[dict[str, Any]]] = {}
    for (client, server, _instance, _scenario), group in sorted(groups.items()):
        finding = _finding(group, lang)
        for host in dict.fromkeys((client, server)):
            by_host.setdefault(host, []).append(finding)
    return {host: sorted(found, key=sort_key) for host, found in sorted(by_host.items())}
