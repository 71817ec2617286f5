"""Fixtures for the prober's network tests: certificates, the TDS double, openssl s_server.

Everything listens on 127.0.0.1 with a kernel-chosen port and is stopped by
the fixture's teardown. A missing ``openssl`` binary fails the tests with an
install hint instead of skipping them (CI installs it with apt).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.tests.network.tds_double import DoubleConfig, TdsDouble
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Credential:
    cert: Path
    key: Path
    der: bytes


@dataclass(frozen=True)
class Pki:
    rsa: Credential  # RSA-2048, SHA-256, SAN, EKU serverAuth
    ecdsa: Credential  # P-256
    big: Credential  # many SANs: its server flight spans several 4096-byte TDS packets
    md5: Credential  # MD5-signed (scenario 4), made by openssl: cryptography refuses MD5
    dh_params: Path  # ffdhe2048
    dh1024_params: Path  # RFC 5114 1024-bit group: OpenSSL 3's default security level refuses it


@pytest.fixture(scope="session")
def openssl_bin() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("tests/network needs the openssl binary (Debian: apt-get install openssl)", pytrace=False)
    return path


def _write(directory: Path, name: str, key, cert: x509.Certificate) -> Credential:
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Credential(cert_path, key_path, cert.public_bytes(serialization.Encoding.DER))


def _self_signed(key, common_name: str, dns_names: list[str]) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    san = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory, openssl_bin: str) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    big_names = [f"node{i:03d}.cluster.sql.lab.test" for i in range(300)]
    dh_params, dh1024_params = directory / "dh.pem", directory / "dh1024.pem"
    md5_key, md5_cert = directory / "md5.key", directory / "md5.pem"
    for command in (
        [
            openssl_bin,
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "group:ffdhe2048",
            "-out",
            str(dh_params),
        ],
        [
            openssl_bin,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-md5",
            "-days",
            "30",
            "-subj",
            "/CN=md5.sql.lab.test",
            "-keyout",
            str(md5_key),
            "-out",
            str(md5_cert),
        ],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    md5_der = x509.load_pem_x509_certificate(md5_cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    return Pki(
        rsa=_write(directory, "rsa", rsa_key, _self_signed(rsa_key, "sql01.lab.test", ["sql01.lab.test"])),
        ecdsa=_write(directory, "ecdsa", ec_key, _self_signed(ec_key, "sql02.lab.test", ["sql02.lab.test"])),
        big=_write(directory, "big", rsa_key, _self_signed(rsa_key, "sqlbig.lab.test", big_names)),
        md5=Credential(md5_cert, md5_key, md5_der),
        dh_params=dh_params,
        dh1024_params=dh1024_params,
    )


@pytest.fixture
def start_double(pki: Pki) -> Iterator[Callable[..., TdsDouble]]:
    """Start TDS doubles with DoubleConfig overrides; all are stopped at teardown."""
    doubles: list[TdsDouble] = []

    def start(credential: Credential | None = None, **overrides) -> TdsDouble:
        credential = credential or pki.rsa
        config = DoubleConfig(
            certfile=str(credential.cert), keyfile=str(credential.key), dh_params=str(pki.dh_params)
        )
        for key, value in overrides.items():
            setattr(config, key, value)
        double = TdsDouble(config)
        doubles.append(double)
        return double

    yield start
    for double in doubles:
        double.stop()


_ACCEPT_LINE = re.compile(rb"ACCEPT 127\.0\.0\.1:(\d+)")


@pytest.fixture
def start_s_server(openssl_bin: str, pki: Pki, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start ``openssl s_server`` with extra arguments; returns its host:port. Killed at teardown."""
    processes: list[subprocess.Popen] = []

    def start(*args: str, credential: Credential | None = None) -> str:
        credential = credential or pki.rsa
        log_path = tmp_path / f"s_server{len(processes)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [openssl_bin, "s_server", "-accept", "127.0.0.1:0", "-cert", str(credential.cert),
                 "-key", str(credential.key), *args],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            match = _ACCEPT_LINE.search(log_path.read_bytes())
            if match:
                return f"127.0.0.1:{int(match.group(1))}"
            if process.poll() is not None:
                break
            time.sleep(0.02)
        pytest.fail(
            f"openssl s_server {' '.join(args)} did not start:\n{log_path.read_text()}", pytrace=False
        )

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=10)
        if process.stdin:
            process.stdin.close()
