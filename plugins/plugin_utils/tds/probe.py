"""Probe one endpoint on one entry path and return a JSON-ready dict (schema: docs/prober.md).

Steps: (tds) a PRELOGIN with ENCRYPT_OFF to learn the ENCRYPTION answer;
raw-ClientHello enumeration per protocol version; one full stdlib handshake
(certificate under TLS 1.3, ALPN, and on the strict path a PRELOGIN inside
TLS); client verdicts. Everything the server does wrong ends up in
``errors``; only bad arguments raise (ProbeInputError). Functions keep no
shared state, so :func:`probe_many` runs endpoints in a thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..certificate import CertificateParseError, describe_certificate
from .clienthello import check_server_name
from .enumerate import ProtocolResult, enumerate_protocol
from .errors import ConnectionEnded, ProbeError, ProbeInputError
from .handshake import HandshakeResult, TlsSession, full_handshake
from .prelogin import Encryption, interpret_encryption
from .profiles import ClientProfile, profile_by_name, profiles_for_mode
from .table import format_table
from .transport import Endpoint, Transport, exchange_prelogin, make_transport, open_tcp, parse_target
from .verdict import evaluate, view_from_probe_result
from .versions import ALL_VERSIONS, TlsVersion

SCHEMA_VERSION = 1
NOT_APPLICABLE_TDS7 = "not applicable to TDS 7.x"

__all__ = ["NOT_APPLICABLE_TDS7", "SCHEMA_VERSION", "format_table", "probe_endpoint", "probe_many"]


def probe_endpoint(
    target: str | Endpoint | tuple[str, int],
    mode: str = "tds",
    *,
    timeout: float = 5.0,
    exchange_timeout: float = 15.0,
    versions: Sequence[TlsVersion] = ALL_VERSIONS,
    server_name: str | None = None,
    delay: float = 0.0,
    profiles: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Probe ``target`` on entry path ``mode`` (``tds``, ``strict`` or ``tls``).

    ``timeout`` bounds each receive, ``exchange_timeout`` each connection;
    ``delay`` spaces the handshakes of one protocol; ``profiles`` names the
    client profiles to judge (default: those using ``mode``'s entry path).
    """
    endpoint = parse_target(target)
    transport = make_transport(endpoint, mode, timeout=timeout, exchange_timeout=exchange_timeout)
    chosen_profiles = _check_options(mode, versions, delay, profiles, server_name)

    started = time.monotonic()
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "target": str(endpoint),
        "mode": mode,
        "server_version": None,
        "encryption": None,
        "protocols": {},
        "cipher_suites": {},
        "suite_order": {},
        "rejections": {},
        "certificate": None,
        "full_handshake": None,
        "strict": None,
        "client_verdicts": [],
        "handshakes": 0,
        "errors": [],
        "duration_s": 0.0,
    }
    reachable = True
    if mode == "tds":
        reachable = _prelogin_step(endpoint, timeout, exchange_timeout, result)
    if reachable:
        enumerations = _enumerate(transport, versions, server_name, delay, result)
        _handshake_step(transport, server_name, enumerations, result)
        if any(state is not None for state in result["protocols"].values()):
            view = view_from_probe_result(result)
            result["client_verdicts"] = [evaluate(p, view).to_dict() for p in chosen_profiles]
    else:
        for version in versions:
            result["protocols"][version.label] = None
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result


def probe_many(
    targets: Iterable[str | Endpoint | tuple[str, int]],
    mode: str = "tds",
    *,
    max_workers: int = 8,
    **options: Any,
) -> list[dict[str, Any]]:
    """Probe several endpoints concurrently (``options`` as for probe_endpoint); results in input order."""
    endpoints = [parse_target(t) for t in targets]
    if not isinstance(max_workers, int) or max_workers < 1:
        raise ProbeInputError("max_workers", "an integer >= 1", max_workers)
    # Every argument is checked before the first packet leaves.
    make_transport(
        Endpoint("validation", 1),
        mode,
        timeout=options.get("timeout", 5.0),
        exchange_timeout=options.get("exchange_timeout", 15.0),
    )
    _check_options(
        mode,
        options.get("versions", ALL_VERSIONS),
        options.get("delay", 0.0),
        options.get("profiles"),
        options.get("server_name"),
    )
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(lambda e: probe_endpoint(e, mode, **options), endpoints))


def _check_options(
    mode: str,
    versions: Sequence[TlsVersion],
    delay: float,
    profiles: Sequence[str] | None,
    server_name: str | None,
) -> tuple[ClientProfile, ...]:
    if server_name is not None:
        check_server_name(server_name)
    if not versions or any(not isinstance(v, TlsVersion) for v in versions):
        raise ProbeInputError("versions", "a non-empty sequence of TlsVersion", versions)
    if not isinstance(delay, int | float) or delay < 0:
        raise ProbeInputError("delay", "seconds >= 0", delay)
    if profiles is None:
        return profiles_for_mode(mode)
    return tuple(profile_by_name(name) for name in profiles)


def _error(result: dict[str, Any], stage: str, message: str) -> None:
    result["errors"].append({"stage": stage, "message": message})


def _prelogin_step(
    endpoint: Endpoint, timeout: float, exchange_timeout: float, result: dict[str, Any]
) -> bool:
    """PRELOGIN with ENCRYPT_OFF (section 4 prober rule). False when the endpoint cannot be probed."""
    try:
        stream = open_tcp(endpoint, timeout=timeout, deadline=time.monotonic() + exchange_timeout)
    except ConnectionEnded as error:
        _error(result, "connect", str(error))
        return False
    try:
        reply = exchange_prelogin(stream, Encryption.OFF)
    except ConnectionEnded as error:
        hint = ""
        if error.kind in ("closed", "reset"):
            # Force Strict closes a cleartext PRELOGIN (error 17819, section 6).
            hint = "; an instance with Force Strict Encryption does this: probe with mode=strict"
        _error(result, "prelogin", f"{error}{hint}")
        return False
    except ProbeError as error:
        _error(result, "prelogin", str(error))
        return False
    finally:
        stream.close()
    answer = interpret_encryption(reply.encryption, Encryption.OFF)
    result["encryption"] = answer.to_dict()
    result["server_version"] = reply.version_text
    if answer.tls_available is False:
        _error(result, "prelogin", "server answered ENCRYPT_NOT_SUP: no TLS on the TDS 7.x path")
    return True


def _enumerate(
    transport: Transport,
    versions: Sequence[TlsVersion],
    server_name: str | None,
    delay: float,
    result: dict[str, Any],
) -> dict[TlsVersion, ProtocolResult]:
    enumerations: dict[TlsVersion, ProtocolResult] = {}
    no_tls = (result["encryption"] or {}).get("tls_available") is False
    unreachable = False
    for version in versions:
        label = version.label
        if version is TlsVersion.TLS13 and not transport.tls13_applicable:
            result["protocols"][label] = NOT_APPLICABLE_TDS7
            continue
        if no_tls or unreachable:
            result["protocols"][label] = False if no_tls else None
            continue
        try:
            outcome = enumerate_protocol(transport, version, server_name=server_name, delay=delay)
        except ProbeError as error:
            _error(result, f"enumerate {label}", str(error))
            result["protocols"][label] = None
            unreachable = isinstance(error, ConnectionEnded) and error.kind in ("refused", "unreachable")
            continue
        enumerations[version] = outcome
        result["handshakes"] += outcome.handshakes
        result["protocols"][label] = outcome.accepted
        for note in outcome.notes:
            _error(result, f"enumerate {label}", note)
        if outcome.accepted:
            result["cipher_suites"][label] = outcome.suite_names
            result["suite_order"][label] = outcome.preference
        else:
            result["rejections"][label] = outcome.rejection
    return enumerations


def _handshake_step(
    transport: Transport,
    server_name: str | None,
    enumerations: dict[TlsVersion, ProtocolResult],
    result: dict[str, Any],
) -> None:
    accepted = [r for r in enumerations.values() if r.accepted]
    if not accepted:
        if transport.mode == "strict":
            result["strict"] = {"tls_first": False, "alpn_selected": None, "prelogin": None}
        return
    handshake, session = _run_full_handshake(transport, server_name, result)
    try:
        # The TLS <= 1.2 first flight carries the whole chain; TLS 1.3 hides it, so fall back to the leaf.
        first_flight = max((r for r in accepted if r.certificates), key=lambda r: r.version, default=None)
        if first_flight is not None:
            _set_certificate(result, first_flight.certificates or (), "first_flight")
        elif handshake is not None and handshake.leaf_der:
            _set_certificate(result, (handshake.leaf_der,), "handshake")
        if transport.mode == "strict":
            result["strict"] = _strict_info(accepted, handshake, session, result)
    finally:
        if session is not None:
            session.close()


def _run_full_handshake(
    transport: Transport, server_name: str | None, result: dict[str, Any]
) -> tuple[HandshakeResult | None, TlsSession | None]:
    try:
        stream = transport.connect()
    except ProbeError as error:
        _error(result, "full handshake", str(error))
        return None, None
    handshake, session = full_handshake(stream, alpn=transport.alpn, server_name=server_name)
    result["handshakes"] += 1
    result["full_handshake"] = handshake.to_dict()
    if session is None:
        stream.close()
        _error(result, "full handshake", handshake.error or "failed")
    return handshake, session


def _set_certificate(result: dict[str, Any], chain: Sequence[bytes], source: str) -> None:
    if not chain:
        return
    try:
        leaf = describe_certificate(chain[0]).to_dict()
    except CertificateParseError as error:
        _error(result, "certificate", str(error))
        return
    intermediates = []
    for der in chain[1:]:
        try:
            info = describe_certificate(der)
        except CertificateParseError as error:
            _error(result, "certificate chain", str(error))
            continue
        intermediates.append(
            {"subject": info.subject, "issuer": info.issuer, "signature_hash": info.signature_hash}
        )
    result["certificate"] = {**leaf, "source": source, "chain": intermediates}


def _strict_info(
    accepted: list[ProtocolResult],
    handshake: HandshakeResult | None,
    session: TlsSession | None,
    result: dict[str, Any],
) -> dict[str, Any]:
    """TDS 8.0 facts: TLS first accepted, ALPN selected, PRELOGIN answered inside TLS."""
    info: dict[str, Any] = {
        "tls_first": True,
        "alpn_selected": next((r.alpn for r in accepted if r.alpn), None)
        or (handshake and handshake.alpn)
        or None,
        "prelogin": None,
    }
    if session is None:
        return info
    try:
        # Inside TLS the client's ENCRYPTION byte is ignored; send NOT_SUP as SqlClient does (section 4).
        reply = exchange_prelogin(session, Encryption.NOT_SUP)
    except ProbeError as error:
        _error(result, "strict prelogin", str(error))
        info["prelogin"] = {"ok": False, "error": str(error)}
        return info
    info["prelogin"] = {
        "ok": True,
        "server_version": reply.version_text,
        "encryption_answer": reply.encryption,
    }
    result["server_version"] = result["server_version"] or reply.version_text
    return info
