"""Before -> after: what changed for clients between two probes of the same endpoints.

The verify phase probes after a remediation and compares with a probe taken
before it (``verify_baseline``). Endpoints are matched by (target, mode). A
change is a plain dict:

``{"target", "mode", "instance", "kind", "item", "before", "after", "regression", "text"}``

``kind`` is one of ``endpoint`` (probed on one side only), ``reachable``,
``protocol`` (item: the version), ``cipher_suites`` (item: the version; also
``added`` and ``removed``), ``certificate``, ``encryption_forced``, ``client``
(item: the profile name). ``regression`` is true only where a client that
connected no longer does, or an endpoint stopped answering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ProbeInputError

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


def compare_probes(before: Any, after: Any) -> list[dict[str, Any]]:
    """Every client-visible difference between two probes, endpoint by endpoint (order of ``after``)."""
    old = _by_key(probe_results_of(before, "before"))
    new = _by_key(probe_results_of(after, "after"))
    changes: list[dict[str, Any]] = []
    for key, result in new.items():
        if key in old:
            changes += _endpoint_changes(old[key], result)
        else:
            changes.append(_change(result, "endpoint", None, "absent", "probed", "newly probed"))
    for key, result in old.items():
        if key not in new:
            changes.append(_change(result, "endpoint", None, "probed", "absent", "no longer probed"))
    return changes


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


def _reachable(result: Mapping[str, Any]) -> bool:
    return any(state is not None for state in (result.get("protocols") or {}).values())


def _endpoint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    was, now = _reachable(old), _reachable(new)
    if was != now:
        text = "reachable -> unreachable" if was else "unreachable -> reachable"
        # Details would only compare measurements with "unknown".
        return [_change(new, "reachable", None, was, now, text, regression=was)]
    if not now:
        return []
    return [
        *_protocol_changes(old, new),
        *_suite_changes(old, new),
        *_certificate_changes(old, new),
        *_encryption_changes(old, new),
        *_client_changes(old, new),
    ]


def _protocol_word(state: Any) -> str:
    return {True: "accepted", False: "refused", None: "unknown"}.get(state, str(state))


def _protocol_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    before, after = old.get("protocols") or {}, new.get("protocols") or {}
    changes = []
    for label in [*after, *(label for label in before if label not in after)]:
        if before.get(label) != after.get(label):
            text = f"{_protocol_word(before.get(label))} -> {_protocol_word(after.get(label))}"
            changes.append(_change(new, "protocol", label, before.get(label), after.get(label), text))
    return changes


def _suite_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
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
            parts.append("suites removed: " + ", ".join(removed))
        if added:
            parts.append("suites added: " + ", ".join(added))
        text = "; ".join(parts) or "suite order changed"
        changes.append(_change(new, "cipher_suites", label, was, now, text, added=added, removed=removed))
    return changes


def _certificate_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    was, now = old.get("certificate") or {}, new.get("certificate") or {}
    if was.get("thumbprint_sha1") == now.get("thumbprint_sha1"):
        return []
    return [
        _change(
            new,
            "certificate",
            None,
            was.get("thumbprint_sha1"),
            now.get("thumbprint_sha1"),
            f"certificate {_certificate_text(was)} -> {_certificate_text(now)}",
        )
    ]


def _certificate_text(certificate: Mapping[str, Any]) -> str:
    if not certificate:
        return "none"
    subject, signature_hash = certificate.get("subject"), certificate.get("signature_hash")
    return f"{subject} ({signature_hash}, {certificate.get('thumbprint_sha1')})"


def _encryption_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    was = (old.get("encryption") or {}).get("forced")
    now = (new.get("encryption") or {}).get("forced")
    if was == now:
        return []
    words = {True: "forced", False: "not forced", None: "unknown"}
    return [_change(new, "encryption_forced", None, was, now, f"encryption {words[was]} -> {words[now]}")]


def _client_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
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
                f"{_verdict_text(previous)} -> {_verdict_text(verdict)}",
                regression=previous["connects"] and not verdict["connects"],
            )
        )
    return changes


def _outcome(verdict: Mapping[str, Any]) -> dict[str, Any]:
    return {"connects": verdict["connects"], "protocol": verdict["protocol"], "suite": verdict["suite"]}


def _verdict_text(verdict: Mapping[str, Any]) -> str:
    if verdict["connects"] and verdict["protocol"] is None:
        return f"connects ({verdict['reason']})"  # ENCRYPT_NOT_SUP: login in clear, no TLS at all
    if verdict["connects"]:
        return f"connects with {verdict['protocol']} and {verdict['suite']}"
    return f"fails ({verdict['reason']})"
