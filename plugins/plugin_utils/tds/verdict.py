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
from dataclasses import dataclass, field
from typing import Any

from ..i18n.catalog import CatalogError, catalog, message
from .errors import ProbeInputError
from .profiles import ClientProfile
from .suites import name_for_id, suite_by_id, suite_by_name
from .versions import TlsVersion
from .windows_defaults import client_offer

# Stable machine codes; the text of each is ``probe.verdict.<code>`` / ``probe.warning.<code>``
# in plugin_utils/i18n/<lang>.yml, filled with the verdict's ``params``.
VERDICT_CODES = (
    "connects",  # params: protocol, suite, preference (server or client)
    "connects_without_tls",  # ENCRYPT_NOT_SUP and the client does not insist: login in clear
    "encryption_required_not_supported",  # ENCRYPT_NOT_SUP and the client insists on encryption
    "no_common_protocol",  # params: client_protocols, server_protocols (scenario 1)
    "no_common_suite",  # params: protocol (scenario 2)
)
WARNING_CODES = (
    "dhe_without_leading_zero_fix_client",  # the client OS lacks KB4557473 (scenario 5)
    "dhe_leading_zero_mismatch",  # either side may lack it (scenario 3)
)
PREFERENCES = ("server", "client")


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
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)  # plain data: str or list of str
    warning_codes: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return verdict_reason(self.to_dict(texts=False))

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(verdict_warnings(self.to_dict(texts=False)))

    def to_dict(self, texts: bool = True) -> dict[str, object]:
        """The JSON form; ``reason`` and ``warnings`` are the English texts (schema 1 compatible)."""
        data: dict[str, object] = {
            "profile": self.profile,
            "connects": self.connects,
            "protocol": self.protocol,
            "suite": self.suite,
            "code": self.code,
            "params": {name: _plain(value) for name, value in self.params.items()},
            "warning_codes": list(self.warning_codes),
        }
        if texts:
            data["reason"] = verdict_reason(data)
            data["warnings"] = verdict_warnings(data)
        return data


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def evaluate(profile: ClientProfile, view: ServerView) -> Verdict:
    if view.encryption_not_supported:
        if profile.requires_encryption:
            return Verdict(profile.name, False, None, None, "encryption_required_not_supported")
        return Verdict(profile.name, True, None, None, "connects_without_tls")

    client_versions = set(profile.protocols)
    if view.mode == "tds":
        client_versions.discard(TlsVersion.TLS13)  # never used inside TDS 7.x packets (section 5.4)
    common = sorted(client_versions & set(view.accepted), reverse=True)
    if not common:
        params = {
            "client_protocols": [v.label for v in sorted(client_versions)],
            "server_protocols": [v.label for v in sorted(view.accepted)],
        }
        return Verdict(profile.name, False, None, None, "no_common_protocol", params)

    version = common[0]
    offer = client_offer(profile.suite_list, version)
    server_order = view.accepted[version]
    if version in view.client_order:
        chosen = next((s for s in offer if s in server_order), None)
        preference = "client"
    else:
        chosen = next((s for s in server_order if s in offer), None)
        preference = "server"
    if chosen is None:
        return Verdict(
            profile.name, False, version.label, None, "no_common_suite", {"protocol": version.label}
        )
    suite_name = name_for_id(chosen)
    return Verdict(
        profile.name,
        True,
        version.label,
        suite_name,
        "connects",
        {"protocol": version.label, "suite": suite_name, "preference": preference},
        _warning_codes(profile, chosen),
    )


def _warning_codes(profile: ClientProfile, chosen: int) -> tuple[str, ...]:
    suite = suite_by_id(chosen)
    if suite is None or not suite.is_dhe:
        return ()
    if profile.dhe_leading_zero_fix is False:
        return ("dhe_without_leading_zero_fix_client",)
    return ("dhe_leading_zero_mismatch",)


# ------------------------------------------------------------------ texts


def verdict_reason(verdict: Mapping[str, Any], lang: str = "en") -> str:
    """The reason of a verdict dict in ``lang``, from its ``code`` and ``params``.

    A stored result without a known code (written before codes existed) keeps its English ``reason``.
    """
    catalog(lang)  # an unknown language is the caller's mistake, never hidden by the fallback
    code, params = verdict.get("code"), verdict.get("params")
    if code in VERDICT_CODES and isinstance(params, Mapping):
        try:
            return message(f"probe.verdict.{code}", lang, **_param_texts(params, lang))
        except CatalogError:
            pass  # params that do not fit the text: a hand-edited stored result
    return str(verdict.get("reason", ""))


def verdict_warnings(verdict: Mapping[str, Any], lang: str = "en") -> list[str]:
    """The warnings of a verdict dict in ``lang`` (stored English text when it has no known codes)."""
    catalog(lang)
    codes, params = verdict.get("warning_codes"), verdict.get("params")
    if (
        isinstance(codes, list | tuple)
        and all(code in WARNING_CODES for code in codes)
        and isinstance(params, Mapping)
    ):
        try:
            texts = _param_texts(params, lang)
            return [message(f"probe.warning.{code}", lang, **texts) for code in codes]
        except CatalogError:
            pass
    return [str(w) for w in verdict.get("warnings") or []]


def _param_texts(params: Mapping[str, Any], lang: str) -> dict[str, str]:
    texts = {}
    for name, value in params.items():
        if name == "preference" and value in PREFERENCES:
            texts[name] = message(f"probe.preference.{value}", lang)
        elif isinstance(value, list | tuple):
            texts[name] = ", ".join(str(v) for v in value) or message("probe.word.nothing", lang)
        else:
            texts[name] = str(value)
    return texts


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
