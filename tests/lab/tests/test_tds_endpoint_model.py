"""TDS endpoints of real lab hosts (host model + profiles): what a client sees per scenario.

The endpoints start through ``tds_listeners``, the hook the lab supervisor passes to
``serve_fleet``, and read the host through its public ``snapshot()``.
"""

from __future__ import annotations

import random
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_tds_endpoint import (
    TLS12,
    client_context,
    handshake_messages,
    prelogin,
    probe_wrapped,
    raw_client_hello,
    read_message,
    send_prelogin,
    server_hello_choice,
    tds_packets,
    wrapped_handshake,
)
from winlab import registry as regmod
from winlab import sqlserver
from winlab.host import LabHost, load_fleet
from winlab.tds.listener import TdsEndpoints, tds_listeners

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
SSL3 = 0x0300
LOCAL_SUITES = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002"


@dataclass(frozen=True)
class Endpoint:
    """Where a lab host's instance listens (the shim helpers connect to `target`)."""

    target: tuple[str, int]

    def connect(self) -> socket.socket:
        return socket.create_connection(self.target, timeout=10)


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[[str], tuple[LabHost, TdsEndpoints, Endpoint]]]:
    started: list[TdsEndpoints] = []

    def start(profile: str) -> tuple[LabHost, TdsEndpoints, Endpoint]:
        host = load_fleet([PROFILES / f"{profile}.yml"], tmp_path / "state")[profile]
        address = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        (endpoints,) = tds_listeners(host, address, material_dir=tmp_path / "tds")
        endpoints.start()
        started.append(endpoints)
        port = host.state.instance("MSSQLSERVER").port
        return host, endpoints, Endpoint((address, port))

    yield start
    for endpoints in started:
        endpoints.stop()


def test_compliant_sql2022_forces_encryption_and_serves_strict_tls13(serve):
    host, _endpoints, endpoint = serve("compliant")
    with endpoint.connect() as sock:
        reply = send_prelogin(sock, 0x00)
    assert reply[0x01] == b"\x03", "ForceEncryption=1 answers ENCRYPT_REQ to ENCRYPT_OFF"
    assert reply[0x00][:4] == bytes([16, 0]) + struct.pack(">H", 4135)

    loaded = sqlserver.loaded_certificate(host.state, "MSSQLSERVER")
    context = client_context(TLS12, alpn=["tds/8.0"])
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    with endpoint.connect() as raw, context.wrap_socket(raw) as tls:
        assert (tls.version(), tls.selected_alpn_protocol()) == ("TLSv1.3", "tds/8.0")
        assert tls.getpeercert(binary_form=True) == loaded.der
        tls.sendall(tds_packets(0x12, prelogin(0x02)))
        assert read_message(tls)[0] == 0x04


def test_scenario2_rsa_certificate_with_ecdsa_only_policy_resets_every_client(serve):
    _host, endpoints, endpoint = serve("s2")
    before = endpoints.endpoint("MSSQLSERVER").served
    with pytest.raises(ConnectionResetError):
        wrapped_handshake(endpoint, client_context(TLS12))
    outcome = endpoints.endpoint("MSSQLSERVER").wait_for_outcome(before)
    assert (outcome.result, outcome.reason) == ("reset", "no cipher suite in common for TLS 1.2")


def test_scenario1_sql2014_without_tls12_resets_a_modern_client(serve):
    # TLS 1.0/1.1 disabled and the SQL build cannot use TLS 1.2: only SSL 3.0 is left (on by
    # default on 2012 R2), and none of an OpenSSL 3 client's suites exists in SSL 3.0: 10054.
    _host, endpoints, endpoint = serve("mixed-2012r2")
    before = endpoints.endpoint("MSSQLSERVER").served
    with pytest.raises(ConnectionResetError):
        wrapped_handshake(endpoint, client_context(TLS12))
    outcome = endpoints.endpoint("MSSQLSERVER").wait_for_outcome(before)
    assert (outcome.result, outcome.reason) == ("reset", "no cipher suite in common for SSL 3.0")


def test_scenario1_host_still_answers_ssl3_with_its_md5_certificate(serve):
    # TLS 1.0/1.1 are disabled and the SQL build cannot use TLS 1.2, but 2012 R2 leaves SSL 3.0
    # enabled by default (reference/windows-schannel.md §2). OpenSSL 3 has no SSL 3.0, so the
    # lab hand-builds the first flight.
    host, _endpoints, endpoint = serve("mixed-2012r2")
    flight = probe_wrapped(endpoint, raw_client_hello([0x002F, 0x000A], version=SSL3))
    # AES suites are TLS-only in Schannel's tables: 3DES is the first SSL 3.0 suite of the list.
    assert server_hello_choice(flight) == (SSL3, 0x000A)
    certificate = handshake_messages(flight)[1][1][6:]
    assert certificate == sqlserver.loaded_certificate(host.state, "MSSQLSERVER").der


def test_tls12_only_host_resets_a_tls10_client(serve):
    _host, endpoints, endpoint = serve("s3")
    before = endpoints.endpoint("MSSQLSERVER").served
    with pytest.raises(ConnectionResetError):
        wrapped_handshake(endpoint, client_context(0x0301))
    outcome = endpoints.endpoint("MSSQLSERVER").wait_for_outcome(before)
    assert (outcome.result, outcome.reason) == ("reset", "no protocol version in common")


def test_scenario3_dhe_goes_away_when_the_local_list_is_stripped(serve):
    host, _endpoints, endpoint = serve("s3")
    dhe_only = client_context(TLS12, "DHE-RSA-AES256-GCM-SHA384")
    channel = wrapped_handshake(endpoint, dhe_only)
    assert channel.tls.cipher()[0] == "DHE-RSA-AES256-GCM-SHA384"
    channel.sock.close()

    # The remediation's effect on the host: TLS_DHE_* removed from the Local list, which
    # Schannel reads live (reference/windows-schannel.md §4).
    # (Edited in place: LabHost has no public mutator besides agent batches.)
    local = regmod.get_value(host.state.registry, LOCAL_SUITES, "Functions")
    without_dhe = [s for s in local.data if not s.startswith("TLS_DHE_")]
    regmod.set_value(host.state.registry, LOCAL_SUITES, "Functions", "REG_MULTI_SZ", without_dhe)

    with pytest.raises(ConnectionResetError):
        wrapped_handshake(endpoint, dhe_only)
    channel = wrapped_handshake(endpoint, client_context(TLS12))
    assert channel.tls.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
    channel.sock.close()


def test_force_encryption_change_waits_for_the_service_restart(serve):
    host, _endpoints, endpoint = serve("compliant")
    netlib = f"{host.state.instance('MSSQLSERVER').registry_root}\\MSSQLServer\\SuperSocketNetLib"
    regmod.set_value(host.state.registry, netlib, "ForceEncryption", "REG_DWORD", 0)
    with endpoint.connect() as sock:
        assert send_prelogin(sock, 0x00)[0x01] == b"\x03", "still forced until SQL Server restarts"
    host.reboot()
    with endpoint.connect() as sock:
        assert send_prelogin(sock, 0x00)[0x01] == b"\x00"
