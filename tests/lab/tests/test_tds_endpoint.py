"""The lab's TDS endpoint, seen from a client: PRELOGIN, wrapped and strict TLS, resets, login.

The client side here is a small shim written for these tests with `struct` and Python's ssl; it
shares no code with winlab.tds (nor with the collection's prober), so a framing mistake on one
side does not hide the same mistake on the other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import socket
import ssl
import struct
import threading
import warnings
from collections.abc import Iterator
from typing import Protocol

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from winlab.tds.listener import TdsEndpoints, start_tds_listeners
from winlab.tds.session import Outcome
from winlab.tds.state import EndpointState, ServerCertificate

TLS10, TLS11, TLS12, TLS13 = 0x0301, 0x0302, 0x0303, 0x0304
ALL_TLS = frozenset({TLS10, TLS11, TLS12})

# Windows Server 2019 default list (reference/windows-schannel.md §5), abbreviated to what the
# tests need, in its priority order.
WIN2019_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
)
WIN2022_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", *WIN2019_SUITES)


# ---------------------------------------------------------------- certificates


def make_certificate(key_type: str = "rsa", extra_sans: int = 0) -> ServerCertificate:
    if key_type == "rsa":
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(65537, 2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sql01.lab.example")])
    now = dt.datetime.now(dt.UTC)
    sans = [
        x509.DNSName("sql01.lab.example"),
        *(x509.DNSName(f"alias-{i:04d}.lab.example") for i in range(extra_sans)),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ServerCertificate(cert.public_bytes(serialization.Encoding.DER), key_pem, configured=True)


@pytest.fixture(scope="module")
def rsa_cert() -> ServerCertificate:
    return make_certificate("rsa")


@pytest.fixture(scope="module")
def ec_cert() -> ServerCertificate:
    return make_certificate("ec")


# ---------------------------------------------------------------- a host to talk to


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


class Host:
    """A mutable stand-in for the host model: tests change `state` like a restart would."""

    address = "127.0.0.1"

    def __init__(self, state: EndpointState) -> None:
        self.state = state

    @property
    def target(self) -> tuple[str, int]:
        return self.address, self.state.tcp_port

    def states(self) -> list[EndpointState]:
        return [self.state]

    def change(self, **fields: object) -> None:
        self.state = dataclasses.replace(self.state, **fields)


def base_state(certificate: ServerCertificate, port: int, **fields: object) -> EndpointState:
    state = EndpointState(
        instance="MSSQLSERVER",
        running=True,
        tcp_port=port,
        product_version=(15, 0, 4345),
        force_encryption=False,
        force_strict=False,
        certificate=certificate,
        server_versions=ALL_TLS,
        os_supports_tls13=False,
        cipher_suites=WIN2019_SUITES,
    )
    return dataclasses.replace(state, **fields)


@pytest.fixture
def tds_lab(rsa_cert: ServerCertificate, tmp_path) -> Iterator[tuple[Host, TdsEndpoints]]:
    address = "127.0.0.1"
    host = Host(base_state(rsa_cert, free_port(address)))
    stop = threading.Event()
    endpoints = start_tds_listeners(
        host.states, address, stop, material_dir=tmp_path / "tds", poll_interval_s=0.1
    )
    try:
        yield host, endpoints
    finally:
        endpoints.stop()


def served_so_far(endpoints: TdsEndpoints) -> int:
    return endpoints.endpoint("MSSQLSERVER").served


def outcome_after(endpoints: TdsEndpoints, served: int) -> Outcome:
    """How the next connection ended, once the server has finished with it."""
    return endpoints.endpoint("MSSQLSERVER").wait_for_outcome(served)


class Target(Protocol):
    @property
    def target(self) -> tuple[str, int]: ...


def connect(where: Target) -> socket.socket:
    return socket.create_connection(where.target, timeout=10)


# ---------------------------------------------------------------- the client shim


def tds_packets(packet_type: int, payload: bytes, size: int = 4096) -> bytes:
    room = size - 8
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    out = b""
    for index, chunk in enumerate(chunks):
        status = 1 if index == len(chunks) - 1 else 0
        out += struct.pack(">BBHHBB", packet_type, status, len(chunk) + 8, 0, index + 1, 0) + chunk
    return out


def recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("server closed the connection")
        data += chunk
    return data


def read_packet(sock: socket.socket) -> tuple[int, int, bytes]:
    packet_type, status, length = struct.unpack(">BBH", recv_exact(sock, 8)[:4])
    return packet_type, status, recv_exact(sock, length - 8)


def read_message(sock: socket.socket) -> tuple[int, bytes]:
    packet_type, status, payload = read_packet(sock)
    while not status & 1:
        _packet_type, status, more = read_packet(sock)
        payload += more
    return packet_type, payload


def prelogin(encryption: int, version_first: bool = True) -> bytes:
    options = [
        (0x00, struct.pack(">IH", 0x0F000000, 0)),
        (0x01, bytes([encryption])),
        (0x02, b"\x00"),
        (0x03, struct.pack(">I", os.getpid())),
        (0x04, b"\x00"),
    ]
    if not version_first:
        options = [options[1], options[0], *options[2:]]
    offset = 5 * len(options) + 1
    table, data = b"", b""
    for token, value in options:
        table += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return table + b"\xff" + data


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    options, pos = {}, 0
    while payload[pos] != 0xFF:
        token, offset, length = struct.unpack(">BHH", payload[pos : pos + 5])
        options[token] = payload[offset : offset + length]
        pos += 5
    return options


def send_prelogin(sock: socket.socket, encryption: int) -> dict[int, bytes]:
    sock.sendall(tds_packets(0x12, prelogin(encryption)))
    reply_type, payload = read_message(sock)
    assert reply_type == 0x04
    return parse_prelogin(payload)


def login7(user: str) -> bytes:
    """A minimal LOGIN7 (MS-TDS 2.2.6.4): 94-byte fixed part, user name, empty everything else."""
    name = user.encode("utf-16-le")
    fixed = bytearray(94)
    struct.pack_into("<IIII", fixed, 4, 0x74000004, 4096, 7, os.getpid())
    for field in range(9):  # HostName, UserName, Password, AppName, ServerName, ..., Database
        struct.pack_into(
            "<HH", fixed, 36 + 4 * field, 94 + (len(name) if field > 1 else 0), len(user) if field == 1 else 0
        )
    body = bytes(fixed) + name
    return struct.pack("<I", len(body)) + body[4:]


def error_number(reply: bytes) -> int:
    assert reply[0] == 0xAA, f"expected an ERROR token, got 0x{reply[0]:02x}"
    return struct.unpack("<i", reply[3:7])[0]


def error_text(reply: bytes) -> str:
    chars = struct.unpack("<H", reply[9:11])[0]
    return reply[11 : 11 + 2 * chars].decode("utf-16-le")


def client_context(version: int, ciphers: str = "ALL", alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion(version)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


class WrappedTls:
    """TLS over TDS 7.x: the handshake in 0x12 packets, then bare TLS records (reference §5)."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=None)
        self.packet_sizes: list[int] = []

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                pass
            flight = self.outgoing.read()
            if flight:
                self.sock.sendall(tds_packets(0x12, flight))
            # The server's flight may span packets; feed each one as it arrives (reference §5.2).
            while True:
                packet_type, status, payload = read_packet(self.sock)
                assert packet_type == 0x12
                self.packet_sizes.append(len(payload) + 8)
                self.incoming.write(payload)
                if status & 1:
                    break

    def send(self, packet_type: int, payload: bytes) -> None:
        self.tls.write(tds_packets(packet_type, payload))
        self.sock.sendall(self.outgoing.read())

    def receive(self) -> tuple[int, bytes]:
        plain = b""
        while True:
            try:
                plain += self.tls.read(65536)
            except ssl.SSLWantReadError:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("server closed the connection") from None
                self.incoming.write(data)
                continue
            if len(plain) >= 8 and len(plain) >= struct.unpack(">H", plain[2:4])[0]:
                return plain[0], plain[8 : struct.unpack(">H", plain[2:4])[0]]


def wrapped_handshake(host: Target, context: ssl.SSLContext, encryption: int = 0x01) -> WrappedTls:
    sock = connect(host)
    send_prelogin(sock, encryption)
    channel = WrappedTls(sock, context)
    channel.handshake()
    return channel


# ---- raw ClientHello (for suites and curves Python's ssl cannot offer)


def ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack(">HH", ext_type, len(data)) + data


def raw_client_hello(
    suites: list[int],
    version: int = TLS12,
    groups: list[int] | None = None,
    supported_versions: list[int] | None = None,
    alpn: bytes | None = None,
    key_share_group: int | None = None,
) -> bytes:
    groups = groups if groups is not None else [0x001D, 0x0017, 0x0018]
    extensions = ext(10, struct.pack(">H", 2 * len(groups)) + b"".join(struct.pack(">H", g) for g in groups))
    extensions += ext(11, b"\x01\x00")
    sig_algs = [0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0804, 0x0805, 0x0201, 0x0203]
    extensions += ext(
        13, struct.pack(">H", 2 * len(sig_algs)) + b"".join(struct.pack(">H", a) for a in sig_algs)
    )
    extensions += ext(0xFF01, b"\x00")
    if supported_versions:
        extensions += ext(
            43,
            bytes([2 * len(supported_versions)]) + b"".join(struct.pack(">H", v) for v in supported_versions),
        )
    if key_share_group is not None:
        share = os.urandom(32)
        entry = struct.pack(">HH", key_share_group, len(share)) + share
        extensions += ext(51, struct.pack(">H", len(entry)) + entry)
    if alpn:
        names = bytes([len(alpn)]) + alpn
        extensions += ext(16, struct.pack(">H", len(names)) + names)
    body = (
        struct.pack(">H", version)
        + os.urandom(32)
        + b"\x20"
        + os.urandom(32)
        + struct.pack(">H", 2 * len(suites))
        + b"".join(struct.pack(">H", s) for s in suites)
        + b"\x01\x00"
        + struct.pack(">H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack(">BHH", 22, 0x0301, len(handshake)) + handshake


def split_into_records(record: bytes, pieces: int) -> bytes:
    """The same handshake bytes spread over several TLS records."""
    handshake = record[5:]
    step = -(-len(handshake) // pieces)
    return b"".join(
        struct.pack(">BHH", 22, 0x0301, len(handshake[i : i + step])) + handshake[i : i + step]
        for i in range(0, len(handshake), step)
    )


def read_server_flight(sock: socket.socket, wrapped: bool) -> bytes:
    """Bytes of the server's first flight: one TDS message when wrapped, else what arrives."""
    if wrapped:
        packet_type, payload = read_message(sock)
        assert packet_type == 0x12
        return payload
    data = b""
    sock.settimeout(2)
    try:
        while len(data) < 5 or len(data) < 5 + struct.unpack(">H", data[3:5])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def handshake_messages(flight: bytes) -> list[tuple[int, bytes]]:
    stream, pos = b"", 0
    while pos + 5 <= len(flight):
        assert flight[pos] == 22, f"record type {flight[pos]}"
        length = struct.unpack(">H", flight[pos + 3 : pos + 5])[0]
        stream += flight[pos + 5 : pos + 5 + length]
        pos += 5 + length
    messages, pos = [], 0
    while pos + 4 <= len(stream):
        length = int.from_bytes(stream[pos + 1 : pos + 4], "big")
        messages.append((stream[pos], stream[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return messages


def server_hello_choice(flight: bytes) -> tuple[int, int]:
    """(version, suite id) of the ServerHello that starts a flight."""
    msg_type, body = handshake_messages(flight)[0]
    assert msg_type == 2
    version = struct.unpack(">H", body[:2])[0]
    sid_len = body[34]
    suite = struct.unpack(">H", body[35 + sid_len : 37 + sid_len])[0]
    return version, suite


def probe_wrapped(host: Target, hello: bytes, split_packets: int = 1) -> bytes:
    sock = connect(host)
    try:
        send_prelogin(sock, 0x01)
        room = -(-len(hello) // split_packets)
        chunks = [hello[i : i + room] for i in range(0, len(hello), room)]
        for index, chunk in enumerate(chunks):
            status = 1 if index == len(chunks) - 1 else 0
            sock.sendall(struct.pack(">BBHHBB", 0x12, status, len(chunk) + 8, 0, index + 1, 0) + chunk)
        return read_server_flight(sock, wrapped=True)
    finally:
        sock.close()


# ================================================================ PRELOGIN

ENC_OFF, ENC_ON, ENC_NOT_SUP, ENC_REQ = 0, 1, 2, 3


@pytest.mark.parametrize(
    ("client", "force", "expected", "server_ends"),
    [
        (ENC_OFF, False, ENC_OFF, False),
        (ENC_OFF, True, ENC_REQ, False),
        (ENC_ON, False, ENC_ON, False),
        (ENC_ON, True, ENC_ON, False),
        (ENC_NOT_SUP, False, ENC_NOT_SUP, False),
        (ENC_NOT_SUP, True, ENC_REQ, True),
        (ENC_REQ, False, ENC_ON, False),
        (ENC_REQ, True, ENC_ON, False),
    ],
)
def test_prelogin_encryption_follows_the_ms_tds_table(tds_lab, client, force, expected, server_ends):
    host, _endpoints = tds_lab
    host.change(force_encryption=force)
    with connect(host) as sock:
        reply = send_prelogin(sock, client)
        assert reply[0x01] == bytes([expected])
        if server_ends:
            assert sock.recv(1) == b""


def test_prelogin_reports_the_instance_version_first(tds_lab):
    host, _endpoints = tds_lab
    host.change(product_version=(13, 0, 6300))
    with connect(host) as sock:
        sock.sendall(tds_packets(0x12, prelogin(ENC_OFF)))
        reply_type, payload = read_message(sock)
    assert reply_type == 0x04
    assert payload[0] == 0x00, "VERSION is the first option of the reply"
    options = parse_prelogin(payload)
    assert options[0x00] == bytes([13, 0]) + struct.pack(">H", 6300) + b"\x00\x00"
    assert set(options) == {0x00, 0x01, 0x02, 0x03, 0x04}
    assert options[0x03] == b"", "THREADID comes back empty"


def test_prelogin_without_version_first_is_closed_unanswered(tds_lab):
    host, _endpoints = tds_lab
    with connect(host) as sock:
        sock.sendall(tds_packets(0x12, prelogin(ENC_ON, version_first=False)))
        assert sock.recv(1) == b""


def test_force_strict_closes_a_cleartext_prelogin(tds_lab):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    host.change(product_version=(16, 0, 4135), force_strict=True)
    with connect(host) as sock:
        sock.sendall(tds_packets(0x12, prelogin(ENC_ON)))
        assert sock.recv(1) == b""
    assert "17819" in outcome_after(endpoints, before).reason


def test_force_strict_means_nothing_before_sql2022(tds_lab):
    host, _endpoints = tds_lab
    host.change(product_version=(15, 0, 4345), force_strict=True)
    with connect(host) as sock:
        assert send_prelogin(sock, ENC_ON)[0x01] == bytes([ENC_ON])


def test_instance_without_any_certificate_answers_not_supported_and_fails_the_login(tds_lab):
    host, _endpoints = tds_lab
    host.change(certificate=None)
    with connect(host) as sock:
        assert send_prelogin(sock, ENC_OFF)[0x01] == bytes([ENC_NOT_SUP])
        sock.sendall(tds_packets(0x10, login7("sa")))
        reply_type, reply = read_message(sock)
    assert reply_type == 0x04
    assert error_number(reply) == 18456
    assert error_text(reply) == "Login failed for user 'sa'."


# ================================================================ wrapped TLS (TDS 7.x)

KEY_EXCHANGES = {
    # client cipher string -> the Windows suites that must be chosen, per version group
    "ECDHE": (
        "ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-GCM-SHA256",
        {TLS10: "ECDHE-RSA-AES256-SHA", TLS11: "ECDHE-RSA-AES256-SHA", TLS12: "ECDHE-RSA-AES128-GCM-SHA256"},
    ),
    "RSA": (
        "AES128-SHA:AES256-GCM-SHA384",
        {TLS10: "AES128-SHA", TLS11: "AES128-SHA", TLS12: "AES256-GCM-SHA384"},
    ),
    "DHE": (
        "DHE-RSA-AES256-SHA:DHE-RSA-AES128-GCM-SHA256",
        {TLS10: "DHE-RSA-AES256-SHA", TLS11: "DHE-RSA-AES256-SHA", TLS12: "DHE-RSA-AES128-GCM-SHA256"},
    ),
}
WITH_DHE_CBC = (*WIN2019_SUITES, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA")  # as on a 2016 host


@pytest.mark.parametrize("version", [TLS10, TLS11, TLS12], ids=["TLS1.0", "TLS1.1", "TLS1.2"])
@pytest.mark.parametrize("key_exchange", sorted(KEY_EXCHANGES))
def test_wrapped_handshake_completes_and_login_fails_cleanly(tds_lab, version, key_exchange):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    host.change(cipher_suites=WITH_DHE_CBC)
    ciphers, expected = KEY_EXCHANGES[key_exchange]
    channel = wrapped_handshake(host, client_context(version, ciphers))
    assert channel.tls.version() == ssl.TLSVersion(version).name.replace("_", ".")
    assert channel.tls.cipher()[0] == expected[version]
    channel.send(0x10, login7("app_user"))
    reply_type, reply = channel.receive()
    assert reply_type == 0x04
    assert error_number(reply) == 18456
    assert error_text(reply) == "Login failed for user 'app_user'."
    assert channel.sock.recv(1) == b""
    channel.sock.close()
    assert outcome_after(endpoints, before).result == "login_failed"


def test_login_only_encryption_answers_the_login_in_cleartext(tds_lab):
    host, _endpoints = tds_lab
    channel = wrapped_handshake(host, client_context(TLS12), encryption=ENC_OFF)
    channel.send(0x10, login7("sa"))
    reply_type, reply = read_message(channel.sock)  # plaintext TDS, not a TLS record
    channel.sock.close()
    assert reply_type == 0x04
    assert error_number(reply) == 18456


def test_server_preference_decides_the_suite_not_the_client_order(tds_lab):
    host, _endpoints = tds_lab
    client_prefers_ecdhe = "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"
    host.change(cipher_suites=("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"))
    channel = wrapped_handshake(host, client_context(TLS12, client_prefers_ecdhe))
    assert channel.tls.cipher()[0] == "AES128-SHA"
    channel.sock.close()
    host.change(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"))
    channel = wrapped_handshake(host, client_context(TLS12, "AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384"))
    assert channel.tls.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
    channel.sock.close()


def test_ecdsa_suites_are_skipped_for_an_rsa_certificate(tds_lab):
    host, _endpoints = tds_lab
    host.change(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_GCM_SHA256"))
    client = client_context(TLS12, "ECDHE-ECDSA-AES256-GCM-SHA384:AES128-GCM-SHA256")
    channel = wrapped_handshake(host, client)
    assert channel.tls.cipher()[0] == "AES128-GCM-SHA256"
    channel.sock.close()


def test_ecdsa_certificate_serves_ecdsa_suites(tds_lab, ec_cert):
    host, _endpoints = tds_lab
    host.change(certificate=ec_cert)
    channel = wrapped_handshake(host, client_context(TLS12))
    assert channel.tls.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    der = channel.tls.getpeercert(binary_form=True)
    channel.sock.close()
    assert der == ec_cert.der


def test_no_common_suite_resets_the_connection(tds_lab):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    host.change(
        cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    )
    with pytest.raises(ConnectionResetError):
        wrapped_handshake(host, client_context(TLS12, "AES128-SHA:AES256-SHA"))
    outcome = outcome_after(endpoints, before)
    assert (outcome.result, outcome.reason) == ("reset", "no cipher suite in common for TLS 1.2")


def test_no_common_protocol_resets_the_connection(tds_lab):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    host.change(server_versions=frozenset({TLS12}))
    with pytest.raises(ConnectionResetError):
        wrapped_handshake(host, client_context(TLS10))
    assert outcome_after(endpoints, before).reason == "no protocol version in common"


def test_gcm_suites_are_not_chosen_below_tls12(tds_lab):
    host, _endpoints = tds_lab
    host.change(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_256_CBC_SHA"))
    channel = wrapped_handshake(host, client_context(TLS11, "ECDHE-RSA-AES256-GCM-SHA384:AES256-SHA"))
    assert (channel.tls.version(), channel.tls.cipher()[0]) == ("TLSv1.1", "AES256-SHA")
    channel.sock.close()


def test_tls13_is_never_negotiated_on_the_wrapped_path(tds_lab):
    host, _endpoints = tds_lab
    host.change(
        product_version=(16, 0, 4135),
        server_versions=frozenset({TLS12, TLS13}),
        os_supports_tls13=True,
        cipher_suites=WIN2022_SUITES,
    )
    context = client_context(TLS12)
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    channel = wrapped_handshake(host, context)
    assert channel.tls.version() == "TLSv1.2"
    channel.sock.close()


def test_client_hello_split_over_packets_and_records_is_reassembled(tds_lab):
    host, _endpoints = tds_lab
    hello = split_into_records(raw_client_hello([0xC030, 0x002F]), pieces=3)
    flight = probe_wrapped(host, hello, split_packets=4)
    assert server_hello_choice(flight) == (TLS12, 0xC030)


def test_server_flight_longer_than_a_packet_is_split_at_4096_bytes(tds_lab):
    host, _endpoints = tds_lab
    big = make_certificate("rsa", extra_sans=250)
    assert len(big.der) > 4096
    host.change(certificate=big)
    channel = wrapped_handshake(host, client_context(TLS12))
    assert max(channel.packet_sizes) == 4096
    assert len(channel.packet_sizes) >= 3
    assert channel.tls.getpeercert(binary_form=True) == big.der
    channel.sock.close()


def test_suites_openssl_cannot_serve_get_a_hand_built_first_flight(tds_lab, rsa_cert):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    host.change(cipher_suites=("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"))
    flight = probe_wrapped(host, raw_client_hello([0x000A, 0x002F], version=TLS11))
    assert server_hello_choice(flight) == (TLS11, 0x000A)
    messages = handshake_messages(flight)
    assert [m[0] for m in messages] == [2, 11, 14]
    certificate_list = messages[1][1]
    assert certificate_list[6:] == rsa_cert.der
    assert outcome_after(endpoints, before).result == "first_flight"


def test_2012r2_curve_suffix_pins_the_ecdhe_curve(tds_lab):
    host, _endpoints = tds_lab
    host.change(
        cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA_P256")
    )
    for groups, curve in (([0x0017], 0x0017), ([0x0018, 0x0017], 0x0018)):
        flight = probe_wrapped(host, raw_client_hello([0xC014], groups=groups))
        key_exchange = next(body for msg_type, body in handshake_messages(flight) if msg_type == 12)
        assert key_exchange[0] == 3 and struct.unpack(">H", key_exchange[1:3])[0] == curve
    with pytest.raises(ConnectionResetError):
        probe_wrapped(host, raw_client_hello([0xC014], groups=[0x001D]))


# ================================================================ TDS 8.0 strict


def strict_state(host: Host, **fields: object) -> None:
    defaults = {
        "product_version": (16, 0, 4135),
        "server_versions": frozenset({TLS12, TLS13}),
        "os_supports_tls13": True,
        "cipher_suites": WIN2022_SUITES,
    }
    host.change(**{**defaults, **fields})


def test_strict_path_negotiates_tls13_with_alpn_and_fails_login_inside_tls(tds_lab, rsa_cert):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    strict_state(host, force_strict=True)
    context = client_context(TLS12, alpn=["tds/8.0"])
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    with connect(host) as raw, context.wrap_socket(raw) as tls:
        assert (tls.version(), tls.cipher()[0]) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
        assert tls.selected_alpn_protocol() == "tds/8.0"
        assert tls.getpeercert(binary_form=True) == rsa_cert.der
        tls.sendall(tds_packets(0x12, prelogin(ENC_NOT_SUP)))
        reply_type, payload = read_message(tls)
        assert reply_type == 0x04
        assert parse_prelogin(payload)[0x00][:2] == bytes([16, 0])
        tls.sendall(tds_packets(0x10, login7("sa")))
        reply_type, reply = read_message(tls)
        assert error_number(reply) == 18456
    assert outcome_after(endpoints, before).alpn == "tds/8.0"


def test_strict_path_uses_tls12_where_the_os_has_no_tls13(tds_lab):
    host, _endpoints = tds_lab
    strict_state(host, os_supports_tls13=False, cipher_suites=WIN2019_SUITES)
    context = client_context(TLS12, alpn=["tds/8.0"])
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    with connect(host) as raw, context.wrap_socket(raw) as tls:
        assert (tls.version(), tls.cipher()[0]) == ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")


def test_strict_tls13_suite_order_follows_windows_even_where_openssl_would_not(tds_lab):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    strict_state(host, cipher_suites=("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"))
    sock = connect(host)
    sock.sendall(
        raw_client_hello(
            [0x1302, 0x1301], supported_versions=[TLS13, TLS12], key_share_group=0x001D, alpn=b"tds/8.0"
        )
    )
    flight = read_server_flight(sock, wrapped=False)
    sock.close()
    msg_type, body = handshake_messages(flight)[0]
    assert msg_type == 2
    sid_len = body[34]
    assert struct.unpack(">H", body[35 + sid_len : 37 + sid_len])[0] == 0x1301
    assert outcome_after(endpoints, before).suite == "TLS_AES_128_GCM_SHA256"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"product_version": (15, 0, 4345)}, "no TDS 8.0"),
        ({"product_version": (16, 0, 4135), "certificate": "auto-picked"}, "17821"),
    ],
)
def test_strict_connection_closed_without_sql2022_or_configured_certificate(
    tds_lab, rsa_cert, fields, reason
):
    host, endpoints = tds_lab
    before = served_so_far(endpoints)
    if fields.get("certificate") == "auto-picked":
        fields = {**fields, "certificate": dataclasses.replace(rsa_cert, configured=False)}
    host.change(**fields)
    context = client_context(TLS12, alpn=["tds/8.0"])
    with connect(host) as raw, pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        context.wrap_socket(raw)
    outcome = outcome_after(endpoints, before)
    assert outcome.path == "strict" and outcome.result == "closed" and reason in outcome.reason


# ================================================================ state changes reach clients


def test_remediation_is_visible_to_the_next_connection(tds_lab):
    host, _endpoints = tds_lab
    host.change(
        cipher_suites=("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    )
    channel = wrapped_handshake(host, client_context(TLS12))
    assert channel.tls.cipher()[0] == "DHE-RSA-AES256-GCM-SHA384"
    channel.sock.close()
    # DHE stripped and the host rebooted: the state source now reports the new list.
    host.change(cipher_suites=("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",))
    channel = wrapped_handshake(host, client_context(TLS12))
    assert channel.tls.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
    channel.sock.close()


def test_stopped_instance_refuses_connections_and_comes_back(tds_lab):
    host, endpoints = tds_lab
    host.change(running=False)
    endpoints.refresh()
    with pytest.raises(ConnectionRefusedError):
        connect(host)
    host.change(running=True)
    endpoints.refresh()
    with connect(host) as sock:
        assert send_prelogin(sock, ENC_OFF)[0x01] == bytes([ENC_OFF])


def test_listener_stops_with_its_stop_event(rsa_cert, tmp_path):
    host = Host(base_state(rsa_cert, free_port("127.0.0.1")))
    stop = threading.Event()
    endpoints = start_tds_listeners(
        host.states, "127.0.0.1", stop, material_dir=tmp_path, poll_interval_s=0.05
    )
    connect(host).close()
    stop.set()
    endpoints.stop()
    with pytest.raises(ConnectionRefusedError):
        connect(host)


def test_certificate_files_are_written_once_per_certificate(tds_lab, tmp_path):
    host, _endpoints = tds_lab
    for _attempt in range(2):
        wrapped_handshake(host, client_context(TLS12)).sock.close()
    digest = hashlib.sha256(host.state.certificate.der).hexdigest()[:24]
    assert sorted(p.name for p in (tmp_path / "tds").iterdir()) == [f"tds-{digest}.crt", f"tds-{digest}.key"]
