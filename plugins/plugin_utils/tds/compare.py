"""Before -> after: what changed for clients between two probes of the same endpoints.

The verify phase probes after a remediation and compares with a probe taken
before it (``verify_baseline``). Endpoints are matched by (target, mode). A
change is a plain dict:

``{"target", "mode", "instance", "kind", "item", "before", "after", "regression", "text"}``

``kind`` is one of ``endpoint`` (probed on one side only), ``reachable``,
``protocol`` (item: the version), ``cipher_suites`` (item: the version; also
``added`` and ``removed``), ``certificate``, ``encryption_forced``, ``client``
(item: the profile name). ``regression`` is true only where a client that
connected no longer does, or an endpoint stopped answering. Only ``text`` depends on
the language (``probe.change.*`` catalog keys); the other fields are the same in every one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..i18n.catalog import catalog, message
from .errors import ProbeInputError
from .probe import NOT_APPLICABLE_TDS7
from .verdict import verdict_reason

_EXPECTED = (
    "a registered mssql.tls.tds_probe result (with 'endpoints'), a list of probe results or one probe result"
)


def probe_results_of(value: Any, field: str = "baseline") -> list[Mapping[str, Any]]:
    """The probe results inside ``value``: a tds_probe task result, a list of results, or one result."""
    if isinstance(value, Mapping) and "endpoints" in value:
        value = value["endpoints"]
    elif isinstance(value, Mapping) and "schema_version" in value:
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise ProbeInputError(field, _EXPECTED, _abridged(value))
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not {"target", "mode", "protocols"} <= set(item):
            raise ProbeInputError(f"{field}[{index}]", "a probe result with target, mode and protocols", item)
    return list(value)


def _abridged(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 200 else text[:200] + "..."


def compare_probes(before: Any, after: Any, lang: str = "en") -> list[dict[str, Any]]:
    """Every client-visible difference between two probes, endpoint by endpoint (order of ``after``).

    Only ``text`` depends on ``lang``; the other fields are the same in every language.
    """
    catalog(lang)  # refuse an unknown language even when nothing changed
    old = _by_key(probe_results_of(before, "before"))
    new = _by_key(probe_results_of(after, "after"))
    changes: list[dict[str, Any]] = []
    for key, result in new.items():
        if key in old:
            changes += _endpoint_changes(old[key], result, lang)
        else:
            text = message("probe.change.newly_probed", lang)
            changes.append(_change(result, "endpoint", None, "absent", "probed", text))
    for key, result in old.items():
        if key not in new:
            text = message("probe.change.no_longer_probed", lang)
            changes.append(_change(result, "endpoint", None, "probed", "absent", text))
    return changes


def change_summary(changes: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """One line for a list of changes: "no change visible to clients" or the counts."""
    if not changes:
        return message("probe.change.none", lang)
    regressions = sum(1 for change in changes if change["regression"])
    return message("probe.change.summary", lang, changes=len(changes), regressions=regressions)


def _by_key(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    keyed: dict[tuple[str, str], Mapping[str, Any]] = {}
    for result in results:
        keyed.setdefault((str(result["target"]), str(result["mode"])), result)
    return keyed


def _change(
    result: Mapping[str, Any],
    kind: str,
    item: str | None,
    before: Any,
    after: Any,
    text: str,
    regression: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    subject = f"{result['target']} {result['mode']}" + (f" {item}" if item else "")
    return {
        "target": result["target"],
        "mode": result["mode"],
        "instance": result.get("instance"),
        "kind": kind,
        "item": item,
        "before": before,
        "after": after,
        "regression": regression,
        "text": f"{subject}: {text}",
        **extra,
    }


def _transition(before: str, after: str, lang: str) -> str:
    return message("probe.change.transition", lang, before=before, after=after)


def _reachable(result: Mapping[str, Any]) -> bool:
    return any(state is not None for state in (result.get("protocols") or {}).values())


def _endpoint_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    was, now = _reachable(old), _reachable(new)
    if was != now:
        reachable = message("probe.change.reachable", lang)
        unreachable = message("probe.change.unreachable", lang)
        text = _transition(reachable, unreachable, lang) if was else _transition(unreachable, reachable, lang)
        # Details would only compare measurements with "unknown".
        return [_change(new, "reachable", None, was, now, text, regression=was)]
    if not now:
        return []
    return [
        *_protocol_changes(old, new, lang),
        *_suite_changes(old, new, lang),
        *_certificate_changes(old, new, lang),
        *_encryption_changes(old, new, lang),
        *_client_changes(old, new, lang),
    ]


def _protocol_word(state: Any, lang: str) -> str:
    if state is True:
        return message("probe.change.protocol_accepted", lang)
    if state is False:
        return message("probe.change.protocol_refused", lang)
    if state is None:
        return message("probe.word.unknown", lang)
    if state == NOT_APPLICABLE_TDS7:
        return message("probe.change.protocol_not_applicable", lang)
    return str(state)


def _protocol_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    before, after = old.get("protocols") or {}, new.get("protocols") or {}
    changes = []
    for label in [*after, *(label for label in before if label not in after)]:
        if before.get(label) != after.get(label):
            was, now = before.get(label), after.get(label)
            text = _transition(_protocol_word(was, lang), _protocol_word(now, lang), lang)
            changes.append(_change(new, "protocol", label, was, now, text))
    return changes


def _suite_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    before, after = old.get("cipher_suites") or {}, new.get("cipher_suites") or {}
    changes = []
    for label in [*after, *(label for label in before if label not in after)]:
        was, now = list(before.get(label) or []), list(after.get(label) or [])
        if was == now:
            continue
        added = [name for name in now if name not in was]
        removed = [name for name in was if name not in now]
        parts = []
        if removed:
            parts.append(message("probe.change.suites_removed", lang, suites=", ".join(removed)))
        if added:
            parts.append(message("probe.change.suites_added", lang, suites=", ".join(added)))
        text = "; ".join(parts) or message("probe.change.suite_order", lang)
        changes.append(_change(new, "cipher_suites", label, was, now, text, added=added, removed=removed))
    return changes


def _certificate_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    was, now = old.get("certificate") or {}, new.get("certificate") or {}
    if was.get("thumbprint_sha1") == now.get("thumbprint_sha1"):
        return []
    text = message(
        "probe.change.certificate",
        lang,
        before=_certificate_text(was, lang),
        after=_certificate_text(now, lang),
    )
    return [_change(new, "certificate", None, was.get("thumbprint_sha1"), now.get("thumbprint_sha1"), text)]


def _certificate_text(certificate: Mapping[str, Any], lang: str) -> str:
    if not certificate:
        return message("probe.word.none", lang)
    subject, signature_hash = certificate.get("subject"), certificate.get("signature_hash")
    return f"{subject} ({signature_hash}, {certificate.get('thumbprint_sha1')})"


def _encryption_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    was = (old.get("encryption") or {}).get("forced")
    now = (new.get("encryption") or {}).get("forced")
    if was == now:
        return []
    words = {
        True: message("probe.change.encryption_forced", lang),
        False: message("probe.change.encryption_not_forced", lang),
        None: message("probe.word.unknown", lang),
    }
    text = message("probe.change.encryption", lang, before=words[was], after=words[now])
    return [_change(new, "encryption_forced", None, was, now, text)]


def _client_changes(old: Mapping[str, Any], new: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    before = {v["profile"]: v for v in old.get("client_verdicts") or []}
    changes = []
    # Profiles judged on one side only were simply not asked for on the other: no change to report.
    for verdict in new.get("client_verdicts") or []:
        previous = before.get(verdict["profile"])
        if previous is None or _outcome(previous) == _outcome(verdict):
            continue
        changes.append(
            _change(
                new,
                "client",
                verdict["profile"],
                _outcome(previous),
                _outcome(verdict),
                _transition(_verdict_text(previous, lang), _verdict_text(verdict, lang), lang),
                regression=previous["connects"] and not verdict["connects"],
            )
        )
    return changes


def _outcome(verdict: Mapping[str, Any]) -> dict[str, Any]:
    return {"connects": verdict["connects"], "protocol": verdict["protocol"], "suite": verdict["suite"]}


def _verdict_text(verdict: Mapping[str, Any], lang: str) -> str:
    if verdict["connects"] and verdict["protocol"] is None:
        # ENCRYPT_NOT_SUP: login in clear, no TLS at all
        return message("probe.change.client_connects_because", lang, reason=verdict_reason(verdict, lang))
    if verdict["connects"]:
        return message(
            "probe.change.client_connects", lang, protocol=verdict["protocol"], suite=verdict["suite"]
        )
    return message("probe.change.client_fails", lang, reason=verdict_reason(verdict, lang))
