"""What a TDS endpoint needs to know about its instance, read fresh for every connection.

``host_view.py`` fills this from the host model; tests may build it directly. Every field is
the *effective* value of the running system (boot snapshot of Schannel, certificate loaded at
the last service start), never the pending registry value.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa


@dataclass(frozen=True)
class ServerCertificate:
    der: bytes
    private_key_pem: bytes
    # True when SuperSocketNetLib\Certificate names it; False for the auto-picked and the
    # self-generated certificate. TDS 8.0 strict needs a configured one (reference/
    # tds-tls-probing.md §6, error 17821).
    configured: bool
    # "RSA", "EC" or "DSA": which suites the certificate can serve (suites.Suite). Read from
    # the DER when not given.
    key_type: str = ""

    def __post_init__(self) -> None:
        if not self.key_type:
            object.__setattr__(self, "key_type", certificate_key_type(self.der))


def certificate_key_type(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA"
    return "OTHER"


@dataclass(frozen=True)
class EndpointState:
    instance: str
    running: bool
    tcp_port: int
    # SQL Server product version (major, minor, build), e.g. (15, 0, 4000).
    product_version: tuple[int, int, int]
    force_encryption: bool
    force_strict: bool
    # None when SQL Server could load no certificate at all (ERRORLOG 26017): no TLS offered.
    certificate: ServerCertificate | None
    # Wire versions (protocols.py) whose Schannel *Server* side is effectively enabled.
    server_versions: frozenset[int]
    # Whether this Windows build knows TLS 1.3 at all (Server 2022+); an older Schannel ignores
    # the supported_versions extension (reference/windows-schannel.md §2).
    os_supports_tls13: bool
    # Effective cipher-suite list, Windows names, in server priority order.
    cipher_suites: tuple[str, ...]

    @property
    def supports_strict(self) -> bool:
        """TDS 8.0 exists from SQL Server 2022 (major 16) on (reference/sqlserver-tls.md §9)."""
        return self.product_version[0] >= 16
