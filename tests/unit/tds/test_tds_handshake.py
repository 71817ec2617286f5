"""The stdlib full handshake over any stream (a socketpair here; TDS wrapping in tests/network)."""

from __future__ import annotations

import socket
import ssl
import threading
import time

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.handshake import full_handshake, observer_context
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.transport import SocketStream


class Garbage:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, bufsize: int) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


def _serve_once(sock: socket.socket, credential, *, alpn=()) -> threading.Thread:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(credential.cert, credential.key)
    context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(list(alpn))

    def run() -> None:
        try:
            with context.wrap_socket(sock, server_side=True) as tls:
                tls.sendall(tls.recv(100).upper())
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_full_handshake_reports_protocol_suite_alpn_and_leaf_then_carries_data(server_credential):
    client_sock, server_sock = socket.socketpair()
    server = _serve_once(server_sock, server_credential, alpn=("tds/8.0",))
    stream = SocketStream(client_sock, timeout=5, deadline=time.monotonic() + 10)

    result, session = full_handshake(stream, alpn=("tds/8.0",), server_name="memory.lab.test")

    assert result.ok
    assert result.protocol == "TLS 1.2"
    assert result.suite == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert result.alpn == "tds/8.0"
    assert result.leaf_der == server_credential.der
    session.sendall(b"prelogin")
    assert session.recv(100) == b"PRELOGIN"
    session.close()
    server.join(timeout=5)


def test_a_non_tls_peer_is_a_failed_result_not_an_exception():
    result, session = full_handshake(Garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    assert (result.ok, session) == (False, None)
    assert result.error.startswith("TLS:")


def test_a_silent_closing_peer_is_a_failed_result():
    result, session = full_handshake(Garbage(b""))
    assert (result.ok, session) == (False, None)
    assert result.to_dict()["error"]


def test_the_observer_context_accepts_old_protocols_and_any_certificate():
    context = observer_context()
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False
    assert context.minimum_version == ssl.TLSVersion.TLSv1
    assert context.security_level == 0
