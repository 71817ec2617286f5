"""Raw ClientHello builder, SSL 3.0 to TLS 1.3 (RFC 5246 section 7.4.1.2, RFC 8446 section 4.1.2).

Building the hello by hand lets the prober offer any suite ID (RC4, 3DES,
DHE, export) and any version, which the local OpenSSL cannot
(reference/tds-tls-probing.md sections 8-9). Only the first server answer is
ever read, so no key material is needed: the TLS 1.3 key share is 32 random
bytes, which is enough to obtain a ServerHello.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from dataclasses import dataclass

from . import tlsconst as c
from .errors import ProbeInputError
from .versions import TlsVersion

GROUP_X25519 = 0x001D
# Groups Schannel supports plus the RFC 7919 FFDHE groups (section 9); without a
# shared curve the server cannot pick an ECDHE suite.
DEFAULT_GROUPS: tuple[int, ...] = (GROUP_X25519, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101)

# Broad on purpose (PSS, PKCS#1, ECDSA, EdDSA, DSA, SHA-1/224): the probe must
# not be refused because of the server key's signature scheme.
DEFAULT_SIGNATURE_ALGORITHMS: tuple[int, ...] = (
    0x0403,  # ecdsa_secp256r1_sha256
    0x0503,  # ecdsa_secp384r1_sha384
    0x0603,  # ecdsa_secp521r1_sha512
    0x0804,  # rsa_pss_rsae_sha256
    0x0805,  # rsa_pss_rsae_sha384
    0x0806,  # rsa_pss_rsae_sha512
    0x0809,  # rsa_pss_pss_sha256
    0x080A,  # rsa_pss_pss_sha384
    0x080B,  # rsa_pss_pss_sha512
    0x0401,  # rsa_pkcs1_sha256
    0x0501,  # rsa_pkcs1_sha384
    0x0601,  # rsa_pkcs1_sha512
    0x0807,  # ed25519
    0x0808,  # ed448
    0x0301,  # rsa sha224
    0x0303,  # ecdsa sha224
    0x0302,  # dsa sha224
    0x0402,  # dsa sha256
    0x0502,  # dsa sha384
    0x0602,  # dsa sha512
    0x0201,  # rsa_pkcs1_sha1
    0x0203,  # ecdsa_sha1
    0x0202,  # dsa_sha1
)


@dataclass(frozen=True)
class HelloOptions:
    """What one probe offers. ``version`` is the highest (and for 1.3 the only) version offered."""

    version: TlsVersion
    suites: tuple[int, ...]
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    groups: tuple[int, ...] = DEFAULT_GROUPS
    signature_algorithms: tuple[int, ...] = DEFAULT_SIGNATURE_ALGORITHMS


def build_client_hello(
    options: HelloOptions, *, random: bytes | None = None, key_share: bytes | None = None
) -> bytes:
    """One TLS record carrying a ClientHello for ``options``."""
    _check(options)
    random = os.urandom(32) if random is None else random
    if len(random) != 32:
        raise ProbeInputError("random", "32 bytes", len(random))
    key_share = os.urandom(32) if key_share is None else key_share
    if len(key_share) != 32:
        raise ProbeInputError("key_share", "32 bytes (an x25519 public value)", len(key_share))

    # TLS 1.3 keeps legacy_version at 1.2 and moves the real offer to supported_versions.
    client_version = min(options.version, TlsVersion.TLS12)
    body = bytearray(struct.pack(">H", client_version))
    body += random
    body += b"\x00"  # empty session id: no resumption
    body += _vector16(b"".join(struct.pack(">H", suite) for suite in options.suites))
    body += b"\x01\x00"  # compression: null only
    extensions = _extensions(options, key_share)
    if extensions:
        body += _vector16(extensions)
    handshake = bytes([c.HANDSHAKE_CLIENT_HELLO]) + _u24(len(body)) + bytes(body)
    # Record version 03 01 is the safe choice for TLS; SSL 3.0 servers want 03 00 (section 9).
    record_version = TlsVersion.SSL3 if options.version is TlsVersion.SSL3 else TlsVersion.TLS10
    return struct.pack(">BHH", c.CONTENT_HANDSHAKE, record_version, len(handshake)) + handshake


def _check(options: HelloOptions) -> None:
    if not isinstance(options.version, TlsVersion):
        raise ProbeInputError("version", "a TlsVersion", options.version)
    if not options.suites or any(not 0 <= s <= 0xFFFF for s in options.suites):
        raise ProbeInputError("suites", "a non-empty sequence of 16-bit suite IDs", options.suites)
    if len(options.suites) > 2000:
        raise ProbeInputError("suites", "at most 2000 suite IDs (one TLS record)", len(options.suites))
    for protocol in options.alpn:
        if not 1 <= len(protocol.encode()) <= 255:
            raise ProbeInputError("alpn", "protocol names of 1..255 bytes", protocol)
    if options.server_name is not None:
        check_server_name(options.server_name)


def check_server_name(name: str) -> None:
    """SNI takes a DNS name; a literal IP address is refused (RFC 6066 section 3)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:  # RFC 6066 section 3: literal IP addresses are not permitted in server_name
        raise ProbeInputError("server_name", "a DNS host name, not an IP address", name)
    if not name or len(name) > 253 or not name.isascii():
        raise ProbeInputError("server_name", "an ASCII DNS name of 1..253 characters", name)


def _extensions(options: HelloOptions, key_share: bytes) -> bytes:
    version = options.version
    if version is TlsVersion.SSL3:
        return b""  # SSL 3.0 predates extensions; some SSL 3.0 stacks choke on them
    out = bytearray()
    if options.server_name is not None:
        host = options.server_name.encode("ascii")
        out += _extension(c.EXT_SERVER_NAME, _vector16(b"\x00" + _vector16(host)))
    out += _extension(
        c.EXT_SUPPORTED_GROUPS, _vector16(b"".join(struct.pack(">H", g) for g in options.groups))
    )
    if version < TlsVersion.TLS13:
        out += _extension(c.EXT_EC_POINT_FORMATS, b"\x01\x00")  # uncompressed only
        out += _extension(c.EXT_RENEGOTIATION_INFO, b"\x00")  # initial handshake: empty
    if version >= TlsVersion.TLS12:
        schemes = b"".join(struct.pack(">H", s) for s in options.signature_algorithms)
        out += _extension(c.EXT_SIGNATURE_ALGORITHMS, _vector16(schemes))
    if options.alpn:
        names = b"".join(_vector8(p.encode()) for p in options.alpn)
        out += _extension(c.EXT_ALPN, _vector16(names))
    if version is TlsVersion.TLS13:
        out += _extension(c.EXT_SUPPORTED_VERSIONS, _vector8(struct.pack(">H", TlsVersion.TLS13)))
        out += _extension(c.EXT_PSK_KEY_EXCHANGE_MODES, b"\x01\x01")  # psk_dhe_ke
        share = struct.pack(">H", GROUP_X25519) + _vector16(key_share)
        out += _extension(c.EXT_KEY_SHARE, _vector16(share))
    return bytes(out)


def _extension(ext_type: int, data: bytes) -> bytes:
    return struct.pack(">H", ext_type) + _vector16(data)


def _vector8(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def _vector16(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "big")
