"""What a Schannel cipher-suite name says: key exchange, authentication, bulk cipher, protocols.

Windows names follow the IANA names, except that Server 2012 R2 appends the ECC
curve (``_P256``, ``_P384``, ``_P521``) to ECDHE suites; Windows 10+ dropped the
suffix (reference/windows-schannel.md 4). ``canonical`` is the name without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

TLS12_ONLY = frozenset({"TLS 1.2"})
TLS10_TO_12 = frozenset({"TLS 1.0", "TLS 1.1", "TLS 1.2"})
SSL3_TO_TLS12 = frozenset({"SSL 3.0"}) | TLS10_TO_12

_TLS13 = re.compile(
    r"^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256|AES_128_CCM(_8)?_SHA256)$"
)
_TLS = re.compile(
    r"^TLS_(?P<ka>[A-Z0-9_]+?)_WITH_(?P<cipher>[A-Z0-9_]+?)_(?P<mac>SHA384|SHA256|SHA|MD5)"
    r"(?:_(?P<curve>P256|P384|P521))?$"
)
# key-exchange part of the name -> (key exchange, certificate type it authenticates with)
_KEY_AGREEMENT = {
    "RSA": ("RSA", "RSA"),
    "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"),
    "DHE_RSA": ("DHE", "RSA"),
    "DHE_DSS": ("DHE", "DSS"),
    "PSK": ("PSK", None),
    "DHE_PSK": ("DHE", None),
    "ECDHE_PSK": ("ECDHE", None),
    "RSA_PSK": ("RSA", None),
}
_BULK = (
    ("AES_128", "AES_128"),
    ("AES_256", "AES_256"),
    ("3DES", "3DES"),
    ("RC4_128", "RC4_128"),
    ("RC4_40", "RC4_40"),
    ("RC4_56", "RC4_56"),
    ("DES", "DES"),
    ("NULL", "NULL"),
    ("RC2", "RC2"),
)


@dataclass(frozen=True)
class Suite:
    name: str
    canonical: str
    key_exchange: str | None  # ECDHE, DHE, RSA, PSK, "any" (TLS 1.3), None if unknown
    authentication: str | None  # RSA, ECDSA, DSS, "any" (TLS 1.3), None if no certificate / unknown
    bulk: str | None  # AES_128, AES_256, 3DES, RC4_128, NULL, ...
    protocols: frozenset[str]
    curve: str | None = None

    @property
    def is_dhe(self) -> bool:
        return self.name.startswith("TLS_DHE_")

    def usable_with_key(self, key_type: str) -> bool:
        """Can a server whose certificate has ``key_type`` (RSA, EC, DSA) negotiate it?"""
        wanted = {"RSA": "RSA", "EC": "ECDSA", "DSA": "DSS"}.get(key_type)
        return self.authentication == "any" or (wanted is not None and self.authentication == wanted)


def _bulk(cipher: str) -> str | None:
    return next((bulk for prefix, bulk in _BULK if cipher.startswith(prefix)), None)


@lru_cache(maxsize=512)
def parse_suite(name: str) -> Suite:
    name = name.strip()
    if _TLS13.match(name):
        bulk = "CHACHA20" if "CHACHA20" in name else _bulk(name[4:])
        return Suite(name, name, "any", "any", bulk, frozenset({"TLS 1.3"}))
    if name.startswith("SSL_CK_"):
        return Suite(name, name, "RSA", "RSA", None, frozenset({"SSL 2.0"}))
    match = _TLS.match(name)
    if not match or match["ka"] not in _KEY_AGREEMENT:
        return Suite(name, name, None, None, None, frozenset())
    key_exchange, authentication = _KEY_AGREEMENT[match["ka"]]
    cipher, mac, curve = match["cipher"], match["mac"], match["curve"]
    canonical = name[: -len(curve) - 1] if curve else name
    if "GCM" in cipher or "CCM" in cipher or mac in ("SHA256", "SHA384"):
        protocols = TLS12_ONLY
    elif key_exchange == "ECDHE":
        protocols = TLS10_TO_12
    else:
        # SSL 3.0 has no ECC suites; RSA/DHE SHA1/MD5 suites run on SSL 3.0-TLS 1.2 (inference)
        protocols = SSL3_TO_TLS12
    return Suite(name, canonical, key_exchange, authentication, _bulk(cipher), protocols, curve)


def canonical_name(name: str) -> str:
    return parse_suite(name).canonical
