"""Error types of the prober.

Every byte that comes from a server is untrusted: parsers turn anything they
cannot read into a :class:`MalformedResponse` subclass naming the field that
broke, and transport failures into :class:`ConnectionEnded`. Callers catch
:class:`ProbeError` and never see IndexError, struct.error or a bare ValueError.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base class of every failure the prober reports."""


class MalformedResponse(ProbeError):
    """Server bytes that violate the wire format; ``field`` names the part that broke."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class FramingError(MalformedResponse):
    """A TDS packet header or packet stream is invalid (MS-TDS 2.2.3.1)."""


class PreloginError(MalformedResponse):
    """A PRELOGIN payload is invalid (MS-TDS 2.2.6.5)."""


class TlsRecordError(MalformedResponse):
    """TLS records or handshake messages from the server are invalid."""


class ConnectionEnded(ProbeError):
    """The peer went away or stayed silent.

    ``kind`` is one of ``closed`` (FIN), ``reset`` (RST), ``timeout``,
    ``refused`` or ``unreachable``. The prober treats all of them as "the
    server rejected this offer" (reference/tds-tls-probing.md section 5.2).
    """

    KINDS = ("closed", "reset", "timeout", "refused", "unreachable")

    def __init__(self, kind: str, detail: str = "") -> None:
        if kind not in self.KINDS:
            raise ValueError(f"kind: expected one of {self.KINDS}, got {kind!r}")
        super().__init__(f"connection {kind}" + (f": {detail}" if detail else ""))
        self.kind = kind
        self.detail = detail


class ProbeInputError(ValueError):
    """A caller passed a bad argument; ``field`` names it."""

    def __init__(self, field: str, expected: str, got: object) -> None:
        super().__init__(f"{field}: expected {expected}, got {got!r}")
        self.field = field


class EncryptionNotSupported(ProbeError):
    """The PRELOGIN answer was ENCRYPT_NOT_SUP: this endpoint offers no TLS on the TDS 7.x path."""
