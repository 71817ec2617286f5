"""Readable text rendering of a probe result dict (for a CLI or a log)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_table(result: Mapping[str, Any]) -> str:
    lines = [_headline(result), "", "Protocols:"]
    for label, state in result.get("protocols", {}).items():
        lines.append(f"  {label:<8} {_protocol_cell(label, state, result)}")
    for label, names in result.get("cipher_suites", {}).items():
        order = result.get("suite_order", {}).get(label, "n/a")
        lines += ["", f"Cipher suites {label} (order: {order}):"]
        lines += [f"  {index:>2}. {name}" for index, name in enumerate(names, 1)]
    lines += ["", _certificate_line(result.get("certificate"))]
    handshake = result.get("full_handshake")
    if handshake:
        text = (
            f"{handshake['protocol']} {handshake['suite']}"
            if handshake["ok"]
            else f"failed: {handshake['error']}"
        )
        lines.append(f"Full handshake: {text}")
    strict = result.get("strict")
    if strict:
        lines.append(
            f"TDS 8.0: TLS first {'yes' if strict['tls_first'] else 'no'}, "
            f"ALPN {strict['alpn_selected'] or '-'}, PRELOGIN inside TLS {_prelogin_cell(strict)}"
        )
    verdicts = result.get("client_verdicts", [])
    if verdicts:
        width = max(len(v["profile"]) for v in verdicts)
        lines += ["", "Client verdicts:"]
        for verdict in verdicts:
            mark = "OK  " if verdict["connects"] else "FAIL"
            lines.append(f"  {verdict['profile']:<{width}}  {mark}  {verdict['reason']}")
            lines += [f"  {'':<{width}}        warning: {w}" for w in verdict.get("warnings", [])]
    errors = result.get("errors", [])
    if errors:
        lines += ["", "Errors:"]
        lines += [f"  [{e['stage']}] {e['message']}" for e in errors]
    lines += ["", f"{result.get('handshakes', 0)} handshakes in {result.get('duration_s', 0)} s"]
    return "\n".join(lines)


def _headline(result: Mapping[str, Any]) -> str:
    parts = [f"Target {result.get('target')}", f"mode {result.get('mode')}"]
    if result.get("server_version"):
        parts.append(f"server {result['server_version']}")
    encryption = result.get("encryption")
    if encryption:
        forced = {True: "yes", False: "no", None: "unknown"}[encryption.get("forced")]
        parts.append(f"encryption {encryption.get('answer_name')} (forced: {forced})")
    return "  ".join(parts)


def _protocol_cell(label: str, state: Any, result: Mapping[str, Any]) -> str:
    if state is True:
        count = len(result.get("cipher_suites", {}).get(label, []))
        return f"yes  ({count} suites)"
    if state is False:
        reason = result.get("rejections", {}).get(label)
        return f"no   ({reason})" if reason else "no"
    if state is None:
        return "unknown (see errors)"
    return str(state)


def _certificate_line(cert: Mapping[str, Any] | None) -> str:
    if not cert:
        return "Certificate: none seen"
    key = f"{cert['key_type']} {cert['key_size']}" if cert.get("key_size") else cert["key_type"]
    return (
        f"Certificate: {cert['subject']} (issuer {cert['issuer']}), signature {cert['signature_hash']}, "
        f"key {key}, valid {cert['not_before']} .. {cert['not_after']}, thumbprint {cert['thumbprint_sha1']}"
    )


def _prelogin_cell(strict: Mapping[str, Any]) -> str:
    prelogin = strict.get("prelogin")
    if not prelogin:
        return "-"
    return f"ok (server {prelogin.get('server_version')})" if prelogin.get("ok") else "failed"
