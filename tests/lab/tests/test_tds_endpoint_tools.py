"""Independent clients against the lab's TDS endpoint: pytds (pyOpenSSL) and nmap ssl-enum-ciphers.

nmap wraps TLS in TDS only for a port whose service is `ms-sql-s` (nselib/sslcert.lua keys its
TDS wrapper on the service name, reference/tds-tls-probing.md §7). Without the slow `-sV`, the
service name comes from the `nmap-services` file, so the test points `--datadir` at a directory
holding a one-line `nmap-services` for the endpoint's port; nmap finds everything else in its
usual locations. (`--servicedb` would do the same but implies `-F`, which refuses `-p`.)
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytds
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_tds_endpoint import ALL_TLS, WIN2019_SUITES, Host, base_state, free_port, make_certificate
from winlab.nmap_enum import services_datadir, ssl_enum_ciphers
from winlab.tds.listener import TdsEndpoints, start_tds_listeners
from winlab.tds.state import ServerCertificate


@pytest.fixture(scope="module")
def rsa_cert() -> ServerCertificate:
    return make_certificate("rsa")


@pytest.fixture
def tds_lab(rsa_cert, tmp_path) -> Iterator[tuple[Host, TdsEndpoints]]:
    host = Host(base_state(rsa_cert, free_port("127.0.0.1")))
    endpoints = start_tds_listeners(
        host.states, "127.0.0.1", threading.Event(), material_dir=tmp_path / "tds"
    )
    try:
        yield host, endpoints
    finally:
        endpoints.stop()


# ---------------------------------------------------------------- pytds


def test_pytds_completes_tls_then_fails_login_cleanly(tds_lab, rsa_cert, tmp_path):
    host, endpoints = tds_lab
    before = endpoints.endpoint("MSSQLSERVER").served
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(x509.load_der_x509_certificate(rsa_cert.der).public_bytes(serialization.Encoding.PEM))
    with pytest.raises(pytds.OperationalError) as failure:
        pytds.connect(
            dsn="127.0.0.1",
            port=host.state.tcp_port,
            user="app_user",
            password="wrong",
            cafile=str(cafile),
            validate_host=False,
            login_timeout=10,
            autocommit=True,
        )
    assert failure.value.number == 18456
    assert "Login failed for user 'app_user'" in str(failure.value)
    outcome = endpoints.endpoint("MSSQLSERVER").wait_for_outcome(before)
    # pytds encrypts with TLSv1_2_METHOD; ECDHE_RSA AES256-GCM is first in the 2019 list for RSA.
    assert (outcome.path, outcome.result, outcome.version, outcome.suite) == (
        "tds7",
        "login_failed",
        "TLS 1.2",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )


def test_pytds_sees_the_reset_when_no_tls12_suite_is_usable(tds_lab, rsa_cert, tmp_path):
    host, endpoints = tds_lab
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(x509.load_der_x509_certificate(rsa_cert.der).public_bytes(serialization.Encoding.PEM))
    host.change(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",))  # scenario 2 with an RSA cert
    # pytds treats a reset as a transient network error and retries until login_timeout.
    with pytest.raises((ConnectionResetError, TimeoutError, pytds.OperationalError)) as failure:
        pytds.connect(
            dsn="127.0.0.1",
            port=host.state.tcp_port,
            user="sa",
            password="x",
            cafile=str(cafile),
            validate_host=False,
            login_timeout=2,
        )
    causes = []
    error: BaseException | None = failure.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, ConnectionResetError) for e in causes), causes
    outcomes = list(endpoints.endpoint("MSSQLSERVER").outcomes)
    assert outcomes
    assert {(o.result, o.reason) for o in outcomes} == {("reset", "no cipher suite in common for TLS 1.2")}


# ---------------------------------------------------------------- nmap


def nmap_cipher_lists(port: int, workdir: Path) -> dict[str, list[str]]:
    if shutil.which("nmap") is None:
        if os.environ.get("CI"):
            pytest.fail("nmap is not installed (apt-get install -y nmap)")
        pytest.skip("nmap is not installed (apt-get install -y nmap)")
    seen = ssl_enum_ciphers("nmap", services_datadir(workdir / "nmap", [port]), ["127.0.0.1"], [port], 120)
    protocols = seen[f"127.0.0.1:{port}"].protocols
    assert all(p.preference == "server" for p in protocols.values()), protocols
    return {label: p.ciphers for label, p in protocols.items()}


def test_nmap_lists_the_effective_suites_in_server_order(tds_lab, tmp_path):
    host, _endpoints = tds_lab
    # A 2016-like order: the 2019 list plus DHE_RSA CBC at the end; RSA certificate.
    host.change(cipher_suites=(*WIN2019_SUITES, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"), server_versions=ALL_TLS)
    legacy = [
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    ]
    tls12 = [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    ]
    assert nmap_cipher_lists(host.state.tcp_port, tmp_path) == {
        "TLS 1.0": legacy,
        "TLS 1.1": legacy,
        "TLS 1.2": tls12,
    }


def test_nmap_sees_tls12_only_without_dhe_after_remediation(tds_lab, tmp_path):
    host, _endpoints = tds_lab
    host.change(
        cipher_suites=tuple(s for s in WIN2019_SUITES if not s.startswith("TLS_DHE_")),
        server_versions=frozenset({0x0303}),
    )
    lists = nmap_cipher_lists(host.state.tcp_port, tmp_path)
    assert list(lists) == ["TLS 1.2"]
    assert not [s for s in lists["TLS 1.2"] if "DHE_RSA" in s and "ECDHE" not in s]
    assert lists["TLS 1.2"][:2] == [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ]


def test_nmap_gets_nothing_from_a_force_strict_instance(tds_lab, tmp_path):
    """Reference §7: nmap's TDS wrapper "fails on Force Strict instances"."""
    host, endpoints = tds_lab
    host.change(product_version=(16, 0, 4135), force_strict=True)
    assert nmap_cipher_lists(host.state.tcp_port, tmp_path) == {}
    wrapped = [o for o in endpoints.endpoint("MSSQLSERVER").outcomes if o.path == "tds7"]
    assert wrapped
    assert {o.reason for o in wrapped} == {"error 17819: ForceStrict accepts only TDS 8.0 connections"}
