"""A real, complete TLS handshake with the stdlib ``ssl`` module over any stream.

Used for what the raw ClientHello path cannot see: the certificate under
TLS 1.3 (encrypted there), proof that a full handshake completes, the ALPN
a TDS 8.0 server selects, and the PRELOGIN exchanged inside TLS on the strict
path. ``ssl.MemoryBIO`` + ``wrap_bio`` keep the socket out of OpenSSL's hands,
so the same code runs over a plain socket and over :class:`~.framing.TdsTlsStream`
(impacket's ``set_tls_context`` does the same, reference/tds-tls-probing.md section 10).
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass

from .errors import ConnectionEnded, ProbeError
from .framing import Stream
from .suites import suite_by_openssl_name
from .versions import from_stdlib_name


@dataclass(frozen=True)
class HandshakeResult:
    ok: bool
    protocol: str | None = None  # "TLS 1.2"
    suite: str | None = None  # IANA name, or OpenSSL's name when outside the table
    alpn: str | None = None
    leaf_der: bytes | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "protocol": self.protocol,
            "suite": self.suite,
            "alpn": self.alpn,
            "error": self.error,
        }


def observer_context(alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """A client context that accepts anything the server presents.

    Certificate validation is OFF on purpose: the probe *observes* which
    certificate, protocol and suite a server offers (an MD5-signed or expired
    certificate is exactly what it must report), and it never sends
    credentials or data over this channel. ``@SECLEVEL=0`` and TLS 1.0 as the
    floor stop OpenSSL 3 from refusing old protocols and 1024-bit DH groups
    (section 8).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is deprecated in 3.10+
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


class TlsSession:
    """Application data over a finished handshake; a Stream itself (for the PRELOGIN inside TLS)."""

    def __init__(
        self, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, stream: Stream
    ) -> None:
        self._tls, self._in, self._out, self._stream = tls, incoming, outgoing, stream

    def sendall(self, data: bytes) -> None:
        self._tls.write(data)
        self.flush()

    def recv(self, bufsize: int) -> bytes:
        while True:
            try:
                return self._tls.read(bufsize)
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as error:
                raise ConnectionEnded("reset", f"TLS error: {error.reason or error}") from None

    def close(self) -> None:
        self._stream.close()

    def flush(self) -> None:
        """Send whatever TLS produced (handshake flight, alert, application record)."""
        pending = self._out.read()
        if pending:
            self._stream.sendall(pending)

    def pump(self) -> None:
        """Move one chunk from the stream into TLS; end of stream becomes a TLS EOF."""
        chunk = self._stream.recv(65536)
        if chunk:
            self._in.write(chunk)
        else:
            self._in.write_eof()


def full_handshake(
    stream: Stream, *, alpn: tuple[str, ...] = (), server_name: str | None = None
) -> tuple[HandshakeResult, TlsSession | None]:
    """Run a complete client handshake over ``stream``; never raises for server behaviour."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = observer_context(alpn).wrap_bio(incoming, outgoing, server_side=False, server_hostname=server_name)
    session = TlsSession(tls, incoming, outgoing, stream)
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                session.flush()
                session.pump()
        session.flush()  # our Finished may still be queued (go-mssqldb flushes it too)
    except ssl.SSLError as error:
        return HandshakeResult(False, error=f"TLS: {error.reason or error}"), None
    except ProbeError as error:
        return HandshakeResult(False, error=str(error)), None
    version = from_stdlib_name(tls.version())
    cipher = tls.cipher()
    openssl_name = cipher[0] if cipher else None
    suite = suite_by_openssl_name(openssl_name) if openssl_name else None
    result = HandshakeResult(
        ok=True,
        protocol=version.label if version else tls.version(),
        suite=suite.name if suite else openssl_name,
        alpn=tls.selected_alpn_protocol(),
        leaf_der=tls.getpeercert(binary_form=True),
    )
    return result, session
