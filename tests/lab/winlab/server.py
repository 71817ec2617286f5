"""HTTP(S) listeners of the lab: one WinRM endpoint per host, plus the /winlab/ control API.

Each host gets its own loopback address (127.x.y.N) and the same port, as a
fleet of real hosts would. ``/wsman`` speaks WS-Management with basic auth;
``/winlab/...`` is the JSON control surface for tests and operators, answered
only to loopback clients.

``serve_fleet`` is where every listener of a host starts; other transports
(TDS endpoints per SQL instance) plug in through ``extra_listeners``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hmac
import ipaddress
import json
import logging
import selectors
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .runtime import HostRuntime, Knobs
from .wsman import WsmanEndpoint
from .wsman_codec import MAX_REQUEST_BYTES

log = logging.getLogger("winlab.server")

WSMAN_PATH = "/wsman"
CONTROL_PREFIX = "/winlab/"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def accepts(self, authorization: str | None) -> bool:
        """True when an ``Authorization: Basic ...`` header carries these credentials."""
        scheme, _sep, token = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _sep, password = decoded.partition(":")
        # Windows user names compare case-insensitively, passwords exactly.
        same_user = hmac.compare_digest(user.lower().encode(), self.username.lower().encode())
        return hmac.compare_digest(password.encode(), self.password.encode()) and same_user


# ------------------------------------------------------------------ control API


def updated_knobs(knobs: Knobs, changes: Any) -> Knobs:
    """Apply a JSON object of knob changes; bad input raises ValueError naming the field."""
    if not isinstance(changes, dict):
        raise ValueError(f"knobs: expected a JSON object, got {type(changes).__name__}")
    known = set(asdict(knobs))
    for name, value in changes.items():
        if name not in known:
            raise ValueError(f"knobs field {name!r}: unknown; expected one of {sorted(known)}")
        if name == "latency_ms" and not _is_count(value):
            raise ValueError(f"knobs field 'latency_ms': expected an integer >= 0, got {value!r}")
        if name == "drop_after_ops" and value is not None and not _is_count(value):
            raise ValueError(f"knobs field 'drop_after_ops': expected null or an integer >= 0, got {value!r}")
        if name in ("reboot_down_s", "reply_delay_s") and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ValueError(f"knobs field {name!r}: expected a number of seconds >= 0, got {value!r}")
        if name == "journal_fail_after_lines" and value is not None and not _is_count(value):
            raise ValueError(f"knobs field {name!r}: expected null or an integer >= 0, got {value!r}")
        if name == "fault_journal_id" and value is not None and not (isinstance(value, str) and value):
            raise ValueError(f"knobs field {name!r}: expected null or a non-empty string, got {value!r}")
        if name == "reboot_on_drop" and not isinstance(value, bool):
            raise ValueError(f"knobs field {name!r}: expected true or false, got {value!r}")
    return replace(knobs, **changes)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class HostAddress:
    name: str
    address: str
    port: int
    scheme: str = "http"


def control_call(
    endpoint: WsmanEndpoint, host: HostAddress, method: str, path: str, body: Any
) -> tuple[int, Any]:
    """Route one /winlab/ request; returns (HTTP status, JSON-ready payload)."""
    route = (method, path[len(CONTROL_PREFIX) :].rstrip("/"))
    if route == ("GET", "host"):
        return 200, asdict(host)
    if route == ("GET", "stats"):
        return 200, endpoint.stats()
    if route == ("POST", "stats/reset"):
        return 200, endpoint.stats(reset=True)
    if route == ("GET", "knobs"):
        return 200, asdict(endpoint.knobs)
    if route == ("POST", "knobs"):
        try:
            knobs = updated_knobs(endpoint.knobs, body)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        endpoint.set_knobs(knobs)
        return 200, asdict(knobs)
    if route == ("POST", "reboot"):
        endpoint.reboot()
        return 200, {"rebooted": host.name}
    if route == ("GET", "state"):
        return 200, endpoint.snapshot()
    return 404, {"error": f"no control endpoint {method} {path}"}


# ----------------------------------------------------------------- HTTP layer


class _HostHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many hosts bind the same port on different 127.x addresses; a restarted
    # lab must be able to rebind while old sockets sit in TIME_WAIT.
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, host: HostAddress, endpoint: WsmanEndpoint, credentials: Credentials, tls: ssl.SSLContext | None
    ) -> None:
        self.host = host
        self.endpoint = endpoint
        self.credentials = credentials
        self.tls = tls
        super().__init__((host.address, host.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also sets server_name from socket.getfqdn(address): a reverse
        # DNS lookup per host address (80 ms each here, 40 s for a 500-host fleet) for a name
        # nothing reads. The host's own name stands in.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.host.name
        self.server_port = self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake runs on first read, in the request's own thread,
            # so one slow client cannot stall the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HostHTTPServer
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path.startswith(CONTROL_PREFIX):
            self._control(None)
        else:
            self._reply(404, b"", "text/plain")

    def do_POST(self) -> None:
        # Operators may `curl -X POST` control routes without a body; WinRM clients always send a length.
        body = self._read_body(length_required=not self.path.startswith(CONTROL_PREFIX))
        if body is None:
            return
        if self.path.startswith(CONTROL_PREFIX):
            self._control(body)
        elif self.path.split("?", 1)[0].rstrip("/").lower() != WSMAN_PATH:
            self._reply(404, b"", "text/plain")
        elif not self.server.credentials.accepts(self.headers.get("Authorization")):
            self._reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
        elif not self.headers.get("Content-Type", "").lower().startswith("application/soap+xml"):
            self._reply(415, b"", "text/plain")
        else:
            self._wsman(body)

    def _wsman(self, body: bytes) -> None:
        endpoint = self.server.endpoint
        result = endpoint.handle(body)
        if result.drop:
            endpoint.count_bytes(len(body), 0)
            self.close_connection = True
            # SO_LINGER 0 makes the close a TCP reset: the client sees "connection
            # reset by peer", the socket error behind 10054 ("forcibly closed by
            # the remote host"). The buffered reader holds the descriptor open,
            # so it is closed first.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
            return
        endpoint.count_bytes(len(body), len(result.body))
        try:
            self._reply(result.status, result.body, "application/soap+xml;charset=UTF-8")
        except (BrokenPipeError, ConnectionResetError):  # a client that gave up on a late reply
            self.close_connection = True

    def _control(self, body: bytes | None) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._json(403, {"error": "the winlab control API answers loopback clients only"})
            return
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            self._json(400, {"error": "request body: expected JSON"})
            return
        status, answer = control_call(
            self.server.endpoint, self.server.host, self.command, self.path.split("?", 1)[0], payload
        )
        self._json(status, answer)

    def _read_body(self, length_required: bool) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None and not length_required:
            return b""
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self._reply(411, b"", "text/plain")
            return None
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._reply(413, b"", "text/plain")
            return None
        return self.rfile.read(length)

    def _json(self, status: int, payload: Any) -> None:
        self._reply(status, json.dumps(payload, sort_keys=True).encode("utf-8"), "application/json")

    def _reply(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s " + format, self.server.host.name, self.client_address[0], *args)


# -------------------------------------------------------------- listeners


class Listener(Protocol):
    """Anything a host serves on its address: the WinRM endpoint, later TDS endpoints."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class SharedAcceptor:
    """One thread that accepts the connections of many listening WinRM servers.

    A thread per host polling its socket every 0.2 s costs little for a dozen hosts; for
    hundreds (``up --copies``) their wake-ups alone keep the GIL busy, and a fleet of 260 took
    20 s to start. Here one thread waits on every listening socket in one selector, without
    polling, and hands each ready socket to its server, which answers the request in a
    thread of its own as before. Adding or removing a server is queued to that thread.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, _HostHTTPServer | None, threading.Event]] = []
        self._thread = threading.Thread(target=self._run, daemon=True, name="winrm-acceptor")
        self._thread.start()

    def add(self, server: _HostHTTPServer) -> None:
        self._call("add", server)

    def remove(self, server: _HostHTTPServer) -> None:
        self._call("remove", server)

    def close(self) -> None:
        if self._thread.is_alive():
            self._call("close", None)
            self._thread.join(timeout=5)

    def _call(self, operation: str, server: _HostHTTPServer | None) -> None:
        done = threading.Event()
        with self._lock:
            self._pending.append((operation, server, done))
        self._wake_writer.send(b"\0")
        if not done.wait(timeout=10):
            raise RuntimeError(f"the WinRM acceptor did not {operation} a listener within 10 s")

    def _run(self) -> None:
        while True:
            for key, _events in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_reader.recv(4096)
                    continue
                try:
                    # What serve_forever() calls for a ready socket: accept, then a request thread.
                    key.data._handle_request_noblock()
                except Exception:  # one host's bad connection must not stop every host's accept
                    log.exception("accepting a connection of %s failed", key.data.host.name)
            with self._lock:
                pending, self._pending = self._pending, []
            for operation, server, done in pending:
                if operation == "add" and server is not None:
                    self._selector.register(server, selectors.EVENT_READ, server)
                elif operation == "remove" and server is not None:
                    self._selector.unregister(server)
                done.set()
                if operation == "close":
                    self._selector.close()
                    self._wake_reader.close()
                    self._wake_writer.close()
                    return


class WinRMListener:
    def __init__(
        self,
        host: HostAddress,
        endpoint: WsmanEndpoint,
        credentials: Credentials,
        tls: ssl.SSLContext | None = None,
        acceptor: SharedAcceptor | None = None,
    ) -> None:
        self.host = host
        self.endpoint = endpoint
        self._credentials = credentials
        self._tls = tls
        self._acceptor = acceptor
        self._server: _HostHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._server = _HostHTTPServer(self.host, self.endpoint, self._credentials, self._tls)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"WinRM endpoint of {self.host.name} cannot bind "
                f"{self.host.address}:{self.host.port}: {exc.strerror}",
            ) from exc
        if self._acceptor is not None:
            self._acceptor.add(self._server)
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"winrm-{self.host.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            if self._acceptor is not None:
                self._acceptor.remove(self._server)
            else:
                self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


# (runtime, its address) -> further listeners for that host. The TDS
# endpoints per SQL instance arrive through this hook.
ExtraListeners = Callable[[HostRuntime, str], list[Listener]]


def no_extra_listeners(runtime: HostRuntime, address: str) -> list[Listener]:
    return []


@dataclass(frozen=True)
class FleetConfig:
    subnet: str  # first three octets, e.g. "127.77.0"
    port: int
    credentials: Credentials
    latency_ms: int = 0
    tls: ssl.SSLContext | None = None
    receive_wait_s: float = 5.0


HOSTS_PER_SUBNET = 254


def host_address(subnet: str, index: int) -> str:
    """Address of the index-th host (0-based): .1 ... .254 of the subnet, then of the next /24s.

    A fleet of more than 254 hosts (``up --copies``) continues in the following /24s of the
    same /16: 127.77.0.1-254, then 127.77.1.1-254, and so on; every host keeps its own address.
    """
    if index < 0:
        raise ValueError(f"host index {index}: expected 0 or more")
    first, second, third = (int(p) for p in subnet.split("."))
    block, offset = divmod(index, HOSTS_PER_SUBNET)
    if third + block > 255:
        raise ValueError(
            f"host index {index}: past {subnet}.0/24 the fleet runs out of /24s in {first}.{second}.0.0/16; "
            "choose a lower third octet in --subnet"
        )
    return f"{first}.{second}.{third + block}.{offset + 1}"


def validate_subnet(subnet: str) -> str:
    parts = subnet.split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) <= 255 for p in parts) or parts[0] != "127":
        raise ValueError(f"subnet {subnet!r}: expected three octets inside 127.0.0.0/8, e.g. '127.77.0'")
    return ".".join(str(int(p)) for p in parts)


@dataclass
class ServedHost:
    runtime: HostRuntime
    address: HostAddress
    endpoint: WsmanEndpoint
    listeners: list[Listener] = field(default_factory=list)


@dataclass
class Fleet:
    hosts: list[ServedHost]
    acceptor: SharedAcceptor | None = None

    def stop(self) -> None:
        # Hosts stop in parallel: a TDS listener's shutdown waits out one poll interval.
        threads = [threading.Thread(target=_stop_listeners, args=(host,)) for host in self.hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.acceptor is not None:
            self.acceptor.close()


def _stop_listeners(host: ServedHost) -> None:
    for listener in reversed(host.listeners):
        try:
            listener.stop()
        except Exception:
            log.exception("stopping a listener of %s failed", host.address.name)


def serve_fleet(
    runtimes: Sequence[HostRuntime], config: FleetConfig, extra_listeners: ExtraListeners = no_extra_listeners
) -> Fleet:
    """Start every listener of every host; on any failure stop what started and re-raise."""
    names = [r.name for r in runtimes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"host names must be unique across profiles; repeated: {duplicates}")
    subnet = validate_subnet(config.subnet)
    fleet = Fleet(hosts=[], acceptor=SharedAcceptor())
    try:
        for index, runtime in enumerate(runtimes):
            address = HostAddress(
                runtime.name, host_address(subnet, index), config.port, "https" if config.tls else "http"
            )
            endpoint = WsmanEndpoint(runtime, Knobs(latency_ms=config.latency_ms), config.receive_wait_s)
            served = ServedHost(runtime, address, endpoint)
            fleet.hosts.append(served)
            for listener in [
                WinRMListener(address, endpoint, config.credentials, config.tls, fleet.acceptor),
                *extra_listeners(runtime, address.address),
            ]:
                listener.start()
                served.listeners.append(listener)
    except BaseException:
        fleet.stop()
        raise
    return fleet


def self_signed_certificate(addresses: Sequence[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for the lab's HTTPS listeners; clients skip validation."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "winlab")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
