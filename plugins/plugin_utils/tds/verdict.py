"""Would this client connect? Client profiles judged against what a probe measured.

Negotiation model (reference/tds-tls-probing.md, windows-schannel.md):
- the version is the highest one both sides accept; with none in common the
  server drops the connection and the client reports error 10054 (scenario 1);
- the suite is the first of the server's accepted list that the client offers
  (server preference, Schannel's default), or the first of the client's offer
  the server accepts when the probe saw the server follow the client's order;
  none in common ends the handshake the same way (scenario 2);
- a chosen TLS_DHE_* suite connects but risks intermittent failures when the
  two ends differ in the DH leading-zero fix (scenarios 3 and 5, KB4557473).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ProbeInputError
from .profiles import ClientProfile
from .suites import name_for_id, suite_by_id, suite_by_name
from .versions import TlsVersion
from .windows_defaults import client_offer


@dataclass(frozen=True)
class ServerView:
    """The measured side of one entry path."""

    mode: str
    accepted: Mapping[TlsVersion, tuple[int, ...]]  # accepted version -> suite IDs, server order
    client_order: frozenset[TlsVersion] = frozenset()  # versions where the server follows the client
    encryption_not_supported: bool = False  # TDS 7.x PRELOGIN answered ENCRYPT_NOT_SUP


@dataclass(frozen=True)
class Verdict:
    profile: str
    connects: bool
    protocol: str | None
    suite: str | None
    reason: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "connects": self.connects,
            "protocol": self.protocol,
            "suite": self.suite,
            "reason": self.reason,
            "warnings": list(self.warnings),
        }


def evaluate(profile: ClientProfile, view: ServerView) -> Verdict:
    if view.encryption_not_supported:
        if profile.requires_encryption:
            return Verdict(
                profile.name,
                False,
                None,
                None,
                "server answered ENCRYPT_NOT_SUP and this client requires encryption",
            )
        return Verdict(
            profile.name, True, None, None, "no TLS: server answered ENCRYPT_NOT_SUP, login in clear"
        )

    client_versions = set(profile.protocols)
    if view.mode == "tds":
        client_versions.discard(TlsVersion.TLS13)  # never used inside TDS 7.x packets (section 5.4)
    common = sorted(client_versions & set(view.accepted), reverse=True)
    if not common:
        return Verdict(profile.name, False, None, None, _no_common_protocol(client_versions, view))

    version = common[0]
    offer = client_offer(profile.suite_list, version)
    server_order = view.accepted[version]
    if version in view.client_order:
        chosen = next((s for s in offer if s in server_order), None)
        whose = "client preference"
    else:
        chosen = next((s for s in server_order if s in offer), None)
        whose = "server preference"
    if chosen is None:
        return Verdict(
            profile.name,
            False,
            version.label,
            None,
            f"no common cipher suite for {version.label}: the server ends the handshake and the "
            "client reports error 10054",
        )
    suite_name = name_for_id(chosen)
    return Verdict(
        profile.name,
        True,
        version.label,
        suite_name,
        f"connects with {version.label} and {suite_name} ({whose})",
        _warnings(profile, chosen),
    )


def _no_common_protocol(client_versions: set[TlsVersion], view: ServerView) -> str:
    client = ", ".join(v.label for v in sorted(client_versions)) or "nothing"
    server = ", ".join(v.label for v in sorted(view.accepted)) or "nothing"
    return (
        f"no common protocol: client offers {client}, server accepts {server}; the server resets "
        "the connection, which the client reports as error 10054"
    )


def _warnings(profile: ClientProfile, chosen: int) -> tuple[str, ...]:
    suite = suite_by_id(chosen)
    if suite is None or not suite.is_dhe:
        return ()
    if profile.dhe_leading_zero_fix is False:
        return (
            "TLS_DHE suite chosen and this client OS lacks the DH leading-zero fix (KB4557473): "
            "intermittent 10054 against a fixed server",
        )
    return (
        "TLS_DHE suite chosen: intermittent 10054 when client and server differ in the DH "
        "leading-zero fix (KB4557473)",
    )


def view_from_probe_result(result: Mapping[str, object]) -> ServerView:
    """Rebuild the measured view from a probe result dict (see docs/prober.md), e.g. a stored one."""
    mode = result.get("mode")
    protocols = result.get("protocols")
    suites = result.get("cipher_suites")
    order = result.get("suite_order") or {}
    if (
        not isinstance(protocols, Mapping)
        or not isinstance(suites, Mapping)
        or not isinstance(order, Mapping)
    ):
        raise ProbeInputError(
            "result", "a probe result with protocols, cipher_suites and suite_order", result
        )
    accepted: dict[TlsVersion, tuple[int, ...]] = {}
    for label, state in protocols.items():
        if state is True:
            version = TlsVersion.from_label(label)
            accepted[version] = tuple(_suite_id(name) for name in suites.get(label, ()))
    client_order = frozenset(TlsVersion.from_label(label) for label, how in order.items() if how == "client")
    encryption = result.get("encryption") or {}
    not_supported = isinstance(encryption, Mapping) and encryption.get("answer_name") == "ENCRYPT_NOT_SUP"
    return ServerView(str(mode), accepted, client_order, not_supported)


def _suite_id(name: str) -> int:
    if name.startswith("0x"):
        return int(name, 16)
    return suite_by_name(name).id
