"""How Schannel answers a ClientHello: protocol version, cipher suite, curve. Pure functions.

Rules (reference/windows-schannel.md §1-§5, reference/tds-tls-probing.md §5.4, §6, §9):
- version: the highest version both sides enable. The Server-side Schannel keys decide what the
  server enables. TLS 1.3 only exists on an OS that supports it, and SQL Server uses it only on
  the TDS 8.0 strict path; on TDS 7.x wrapping it is never negotiated (§5.4).
- suite: server preference. The first entry of the effective list that the client offers, that
  is defined for the chosen version, that the certificate's key type can serve (RSA vs ECDSA;
  DHE_DSS needs a DSA certificate) and, for ECDHE, that has a curve both sides support.
- nothing in common: Schannel gives up and SQL Server drops the connection ("If there are no
  matching suites, the server closes the connection instead of responding", the 10054 article),
  which the listener turns into a TCP reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocols import ALL_VERSIONS, TLS12, TLS13, version_label
from .state import EndpointState
from .suites import DEFAULT_SERVER_GROUPS, Suite, suite_for_windows_name
from .tls_records import ClientHello

ALPN_TDS8 = b"tds/8.0"


@dataclass(frozen=True)
class Negotiated:
    version: int
    suite: Suite
    # ECDHE curve (TLS <= 1.2) or key-exchange group (TLS 1.3); None for RSA and DHE.
    group: int | None
    # ALPN protocol the server selects (strict path only).
    alpn: bytes | None


@dataclass(frozen=True)
class Refused:
    reason: str


def versions_offered(hello: ClientHello, server_knows_supported_versions: bool) -> frozenset[int]:
    """The versions the client is willing to speak, as this server can tell them.

    RFC 8446 §4.2.1: a server that knows supported_versions must use it and ignore
    legacy_version; an older Schannel does not know the extension and reads legacy_version as
    "this version or any lower" (RFC 5246 Appendix E.1).
    """
    if hello.supported_versions is not None and server_knows_supported_versions:
        return frozenset(v for v in hello.supported_versions if v in ALL_VERSIONS)
    ceiling = min(hello.legacy_version, TLS12)
    return frozenset(v for v in ALL_VERSIONS if v <= ceiling)


def _has_tls13_suite(cipher_suites: tuple[str, ...]) -> bool:
    return any((s := suite_for_windows_name(name)) is not None and s.allows(TLS13) for name in cipher_suites)


def choose_version(hello: ClientHello, state: EndpointState, strict: bool) -> int | None:
    enabled = set(state.server_versions)
    # A list without TLS 1.3 suites leaves TLS 1.3 unusable, and the server negotiates 1.2
    # instead (inference: the usual workaround of disabling the TLS_AES_* suites on 2022).
    if not (strict and state.os_supports_tls13 and _has_tls13_suite(state.cipher_suites)):
        enabled.discard(TLS13)
    common = enabled & versions_offered(hello, state.os_supports_tls13)
    return max(common) if common else None


def _shared_group(candidates: tuple[int, ...], hello: ClientHello) -> int | None:
    # No supported_groups extension: the client accepts any curve (RFC 4492 §4).
    if hello.supported_groups is None:
        return candidates[0]
    return next((g for g in candidates if g in hello.supported_groups), None)


def _tls13_group(hello: ClientHello) -> int | None:
    # Prefer a group the client already sent a key share for (no HelloRetryRequest needed).
    with_share = next((g for g in DEFAULT_SERVER_GROUPS if g in hello.key_shares), None)
    if with_share is not None:
        return with_share
    if hello.supported_groups is None:
        return None
    return next((g for g in DEFAULT_SERVER_GROUPS if g in hello.supported_groups), None)


def choose_suite(
    hello: ClientHello, version: int, cipher_suites: tuple[str, ...], certificate_key: str
) -> tuple[Suite, int | None] | None:
    offered = set(hello.cipher_suites)
    for name in cipher_suites:
        suite = suite_for_windows_name(name)
        if suite is None or suite.iana_id not in offered or not suite.allows(version):
            continue
        if suite.certificate_key not in ("ANY", certificate_key):
            continue
        group: int | None = None
        if suite.key_exchange == "ECDHE":
            candidates = (suite.pinned_group,) if suite.pinned_group else DEFAULT_SERVER_GROUPS
            group = _shared_group(candidates, hello)
            if group is None:
                continue
        elif suite.key_exchange == "TLS13":
            group = _tls13_group(hello)
            if group is None:
                continue
        return suite, group
    return None


def negotiate(hello: ClientHello, state: EndpointState, strict: bool) -> Negotiated | Refused:
    if state.certificate is None:
        return Refused("no certificate loaded")
    version = choose_version(hello, state, strict)
    if version is None:
        return Refused("no protocol version in common")
    chosen = choose_suite(hello, version, state.cipher_suites, state.certificate.key_type)
    if chosen is None:
        return Refused(f"no cipher suite in common for {version_label(version)}")
    suite, group = chosen
    alpn = None
    if strict and hello.alpn_protocols and ALPN_TDS8 in hello.alpn_protocols:
        alpn = ALPN_TDS8
    return Negotiated(version=version, suite=suite, group=group, alpn=alpn)
