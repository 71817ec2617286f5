"""Fixtures for the prober's unit tests: an in-memory OpenSSL server (no sockets)."""

from __future__ import annotations

import contextlib
import datetime
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ServerCredential:
    cert: Path
    key: Path
    der: bytes


@pytest.fixture(scope="session")
def server_credential(tmp_path_factory: pytest.TempPathFactory) -> ServerCredential:
    directory = tmp_path_factory.mktemp("tds-unit-pki")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "memory.lab.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ServerCredential(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture
def openssl_answer(server_credential: ServerCredential) -> Callable[..., bytes]:
    """Feed a ClientHello to an in-memory OpenSSL server and return its first flight."""

    def answer(
        client_hello: bytes,
        *,
        ciphers: str = "ALL",
        minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
        alpn: tuple[str, ...] = (),
    ) -> bytes:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version, context.maximum_version = minimum, maximum
        context.set_ciphers(f"{ciphers}:@SECLEVEL=0")
        context.load_cert_chain(server_credential.cert, server_credential.key)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        server = context.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(client_hello)
        with contextlib.suppress(ssl.SSLError):  # WantRead or a refusal: the flight is in outgoing
            server.do_handshake()
        return outgoing.read()

    return answer
