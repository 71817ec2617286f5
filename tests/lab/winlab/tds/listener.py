"""TDS listeners of one lab host: a socket per running SQL instance, on the host's address.

API for the lab supervisor
--------------------------
``tds_listeners(runtime, address) -> list[TdsEndpoints]``
    Matches ``server.ExtraListeners``: pass it as ``serve_fleet(..., extra_listeners=tds_listeners)``.
    The returned object is not started; the supervisor calls ``start()`` and ``stop()``.

``start_tds_listeners(source, address, stop_event=None, *, material_dir=None) -> TdsEndpoints``
    Same, already started. ``source`` is a HostRuntime (anything with ``snapshot()`` returning
    the model's JSON, e.g. ``host.LabHost``), a ``model.HostState``, or a zero-argument callable
    returning ``list[EndpointState]`` (tests). Setting ``stop_event`` stops every socket.
    ``material_dir`` receives the PEM files Python's ssl needs (e.g. ``<state_dir>/tds``).

``TdsEndpoints``
    ``start()`` / ``stop()``; ``refresh()`` re-reads the host now (it also re-reads every
    ``poll_interval_s``): an instance that stops loses its socket (clients get "connection
    refused"), one that starts or changes port gets one. ``endpoint(instance)`` gives the
    ``TdsEndpoint`` (``.address``, ``.port``, ``.outcomes``: the last connections' ``Outcome``,
    ``.served``: how many connections ended, ``wait_for_outcome(served)``).

Each connection reads the host's state again when it arrives, so after a remediation plus a
reboot or service restart the next client sees the new protocols, suites, certificate and
ForceEncryption/ForceStrict.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .host_view import StateSource, runtime_source
from .openssl_server import ServerMaterial
from .session import Outcome, serve_connection
from .state import EndpointState

log = logging.getLogger("winlab.tds")

ACCEPT_POLL_S = 0.2
OUTCOMES_KEPT = 200


class TdsEndpoint:
    """One listening socket for one SQL instance."""

    def __init__(
        self,
        address: str,
        port: int,
        instance: str,
        source: StateSource,
        material: ServerMaterial,
        server_name: str,
    ) -> None:
        self.address = address
        self.port = port
        self.instance = instance
        self._source = source
        self._material = material
        self._server_name = server_name
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.outcomes: collections.deque[Outcome] = collections.deque(maxlen=OUTCOMES_KEPT)
        self.served = 0
        self._served_changed = threading.Condition()

    def _current_state(self) -> EndpointState | None:
        for state in self._source():
            if state.instance == self.instance and state.tcp_port == self.port:
                return state
        return None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno,
                f"TDS endpoint {self.instance} cannot bind {self.address}:{self.port}: {exc.strerror}",
            ) from exc
        sock.listen(64)
        sock.settimeout(ACCEPT_POLL_S)
        self._socket = sock
        self._thread = threading.Thread(
            target=self._accept_loop, daemon=True, name=f"tds-{self.address}:{self.port}"
        )
        self._thread.start()

    def _accept_loop(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                conn, _peer = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                # e.g. out of file descriptors: keep listening rather than go deaf.
                log.exception("accept on %s:%s failed", self.address, self.port)
                self._stopping.wait(ACCEPT_POLL_S)
                continue
            thread = threading.Thread(
                target=self._serve, args=(conn,), daemon=True, name=f"tds-conn-{self.port}"
            )
            with self._lock:
                self._connections.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            outcome = serve_connection(conn, self._current_state, self._material, self._server_name)
            log.debug("%s:%s %s", self.address, self.port, outcome)
            with self._served_changed:
                self.outcomes.append(outcome)
                self.served += 1
                self._served_changed.notify_all()
        except Exception:
            log.exception("TDS connection on %s:%s failed", self.address, self.port)
            conn.close()
        finally:
            with self._lock:
                self._connections.discard(threading.current_thread())

    def wait_for_outcome(self, served: int, timeout_s: float = 10.0) -> Outcome:
        """The newest outcome once more than `served` connections have ended (for tests)."""
        with self._served_changed:
            if not self._served_changed.wait_for(lambda: self.served > served, timeout_s):
                raise TimeoutError(f"no connection on {self.address}:{self.port} ended in {timeout_s}s")
            return self.outcomes[-1]

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        with self._lock:
            pending = list(self._connections)
        for thread in pending:
            thread.join(timeout=5)


class TdsEndpoints:
    """All TDS endpoints of one host, kept in step with which instances are running."""

    def __init__(
        self,
        source: StateSource,
        address: str,
        server_name: str,
        material: ServerMaterial,
        stop_event: threading.Event | None = None,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.address = address
        self._source = source
        self._server_name = server_name
        self._material = material
        self._stop_event = stop_event or threading.Event()
        self._poll_interval_s = poll_interval_s
        self._endpoints: dict[tuple[str, int], TdsEndpoint] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def endpoints(self) -> list[TdsEndpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def endpoint(self, instance: str) -> TdsEndpoint | None:
        return next((e for e in self.endpoints if e.instance.lower() == instance.lower()), None)

    def refresh(self) -> None:
        """Open sockets for running instances and close those of stopped ones."""
        wanted = {(s.instance, s.tcp_port) for s in self._source() if s.running}
        with self._lock:
            for key in [k for k in self._endpoints if k not in wanted]:
                self._endpoints.pop(key).stop()
            for instance, port in sorted(wanted - self._endpoints.keys()):
                endpoint = TdsEndpoint(
                    self.address, port, instance, self._source, self._material, self._server_name
                )
                endpoint.start()
                self._endpoints[(instance, port)] = endpoint

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._watch, daemon=True, name=f"tds-watch-{self.address}")
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop_event.wait(self._poll_interval_s):
            try:
                self.refresh()
            except Exception:
                log.exception("refreshing the TDS endpoints of %s failed", self.address)
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
        for endpoint in endpoints:
            endpoint.stop()

    def stop(self) -> None:
        self._stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._close_all()


def _as_source(source: Any) -> tuple[StateSource, str]:
    if callable(source) and not hasattr(source, "snapshot"):
        return source, "winlab"
    return runtime_source(source)


def tds_listeners(runtime: Any, address: str, material_dir: Path | None = None) -> list[TdsEndpoints]:
    """``server.ExtraListeners`` hook: the (unstarted) TDS endpoints of one host."""
    states, server_name = _as_source(runtime)
    return [TdsEndpoints(states, address, server_name, ServerMaterial(material_dir))]


def start_tds_listeners(
    source: Any | Callable[[], list[EndpointState]],
    address: str,
    stop_event: threading.Event | None = None,
    *,
    material_dir: Path | None = None,
    poll_interval_s: float = 1.0,
) -> TdsEndpoints:
    """Start the TDS endpoints of one host; see the module docstring."""
    states, server_name = _as_source(source)
    endpoints = TdsEndpoints(
        states, address, server_name, ServerMaterial(material_dir), stop_event, poll_interval_s
    )
    endpoints.start()
    return endpoints
