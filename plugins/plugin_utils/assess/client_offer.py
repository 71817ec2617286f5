"""Cipher suites that common SQL Server clients offer, per protocol (canonical names).

Windows clients (SqlClient, ODBC, OLE DB) offer their OS default list
(reference/windows-schannel.md 5); clients on other stacks offer the ECDHE/RSA AES
suites. The sets below keep the suites offered by the Windows defaults from 2012 R2
to 2025 that other TLS stacks also offer, without NULL, RC4, DSS or export suites;
TLS 1.0 clients need the ECDHE/RSA AES CBC_SHA suites (section 4). This is a
judgement of "common", documented in docs/scenarios.md (inference).
"""

from __future__ import annotations

_AES_CBC_SHA = tuple(
    f"TLS_{kx}_WITH_AES_{bits}_CBC_SHA"
    for kx in ("ECDHE_ECDSA", "ECDHE_RSA", "RSA", "DHE_RSA")
    for bits in (256, 128)
)

COMMON_CLIENT_OFFER: dict[str, frozenset[str]] = {
    "TLS 1.3": frozenset(
        {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
    ),
    "TLS 1.2": frozenset(
        {
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_256_CBC_SHA256",
            "TLS_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            *_AES_CBC_SHA,
        }
    ),
    "TLS 1.1": frozenset({*_AES_CBC_SHA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}),
    "TLS 1.0": frozenset({*_AES_CBC_SHA, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}),
}
