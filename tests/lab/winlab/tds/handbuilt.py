"""Hand-built server flights for choices the local OpenSSL cannot serve.

Schannel on a real host happily answers with 3DES, RC4, NULL, export suites or SSL 3.0; OpenSSL 3
has none of them (reference/tds-tls-probing.md §8). Scanners that read only the server's first
flight (nmap ssl-enum-ciphers, raw ClientHello probers, §9) must still see the right answer, so
the lab sends that flight itself and closes once the client goes on:
- TLS <= 1.2: ServerHello + Certificate + ServerHelloDone (RFC 5246 §7.4). RSA key transport
  needs no ServerKeyExchange; for (EC)DHE suites (reachable here only through SSL 3.0 or DSA
  certificates) the ServerKeyExchange is left out, so such a flight is good for reading the
  version, suite and certificate only.
- TLS 1.3 (a suite order OpenSSL would not follow): a ServerHello with a fresh key share, or a
  HelloRetryRequest when the client sent no share for the chosen group (RFC 8446 §4.1.3-4.1.4).
"""

from __future__ import annotations

import hashlib
import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from .protocols import SSL3, TLS12, TLS13
from .schannel import Negotiated
from .suites import GROUP_SECP256R1, GROUP_SECP384R1, GROUP_SECP521R1, GROUP_X25519
from .tls_records import EXT_KEY_SHARE, EXT_RENEGOTIATION_INFO, EXT_SUPPORTED_VERSIONS, ClientHello

HANDSHAKE_SERVER_HELLO = 2
HANDSHAKE_CERTIFICATE = 11
HANDSHAKE_SERVER_HELLO_DONE = 14
EXT_EC_POINT_FORMATS = 11

# RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest.
HELLO_RETRY_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()

MAX_FRAGMENT = 16384


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + _u24(len(body)) + body


def _extension(ext_type: int, data: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(data)) + data


def handshake_records(messages: bytes, record_version: int) -> bytes:
    """Handshake messages as TLS records (type 22), split at the 2^14 fragment limit."""
    out = bytearray()
    for start in range(0, len(messages), MAX_FRAGMENT):
        fragment = messages[start : start + MAX_FRAGMENT]
        out += struct.pack(">BHH", 22, record_version, len(fragment)) + fragment
    return bytes(out)


def first_flight(decision: Negotiated, hello: ClientHello, certificate_der: bytes) -> bytes:
    """ServerHello + Certificate + ServerHelloDone records for TLS <= 1.2 and SSL 3.0."""
    extensions = b""
    if decision.version > SSL3:
        if hello.wants_secure_renegotiation:
            extensions += _extension(EXT_RENEGOTIATION_INFO, b"\x00")
        if decision.suite.key_exchange == "ECDHE":
            extensions += _extension(EXT_EC_POINT_FORMATS, b"\x01\x00")
    body = (
        struct.pack(">H", decision.version)
        + os.urandom(32)
        + bytes([32])
        + os.urandom(32)
        + struct.pack(">HB", decision.suite.iana_id, 0)
        + (struct.pack(">H", len(extensions)) + extensions if extensions else b"")
    )
    certificates = _u24(len(certificate_der)) + certificate_der
    messages = (
        _handshake(HANDSHAKE_SERVER_HELLO, body)
        + _handshake(HANDSHAKE_CERTIFICATE, _u24(len(certificates)) + certificates)
        + _handshake(HANDSHAKE_SERVER_HELLO_DONE, b"")
    )
    return handshake_records(messages, decision.version)


def _public_share(group: int) -> bytes:
    if group == GROUP_X25519:
        return (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
    curve = {
        GROUP_SECP256R1: ec.SECP256R1(),
        GROUP_SECP384R1: ec.SECP384R1(),
        GROUP_SECP521R1: ec.SECP521R1(),
    }[group]
    return (
        ec.generate_private_key(curve)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def tls13_server_hello(decision: Negotiated, hello: ClientHello) -> bytes:
    """A TLS 1.3 ServerHello (or HelloRetryRequest) record for the chosen suite and group."""
    if decision.version != TLS13 or decision.group is None:
        raise ValueError("a TLS 1.3 ServerHello needs a TLS 1.3 decision with a group")
    if decision.group in hello.key_shares:
        random = os.urandom(32)
        share = _public_share(decision.group)
        key_share = struct.pack(">HH", decision.group, len(share)) + share
    else:
        random = HELLO_RETRY_RANDOM
        key_share = struct.pack(">H", decision.group)
    extensions = _extension(EXT_SUPPORTED_VERSIONS, struct.pack(">H", TLS13)) + _extension(
        EXT_KEY_SHARE, key_share
    )
    body = (
        struct.pack(">H", TLS12)
        + random
        + bytes([len(hello.session_id)])
        + hello.session_id
        + struct.pack(">HB", decision.suite.iana_id, 0)
        + struct.pack(">H", len(extensions))
        + extensions
    )
    return handshake_records(_handshake(HANDSHAKE_SERVER_HELLO, body), TLS12)
