"""Let OpenSSL (Python's ssl) finish a handshake that Schannel's decision has already fixed.

The decision (schannel.py) names one version and one suite; the SSLContext built here allows
exactly those, so OpenSSL cannot drift from what Windows would have picked. ``@SECLEVEL=0``
keeps TLS 1.0/1.1, SHA1/MD5-signed certificates and small keys usable, as Schannel allows them
(reference/tds-tls-probing.md §8).
"""

from __future__ import annotations

import hashlib
import ssl
import tempfile
import threading
import warnings
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .protocols import SSL3, TLS13
from .schannel import Negotiated
from .state import ServerCertificate
from .suites import GROUP_SECP256R1, GROUP_SECP384R1, GROUP_SECP521R1, GROUP_X25519, Suite
from .tls_records import ClientHello

# RFC 7919 ffdhe2048 group (as `openssl genpkey -genparam -algorithm DH -pkeyopt
# group:ffdhe2048` prints it). A stdlib server offers DHE only with loaded DH parameters.
FFDHE2048_PEM = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

OPENSSL_GROUP_NAMES: dict[int, str] = {
    GROUP_X25519: "X25519",
    GROUP_SECP256R1: "prime256v1",
    GROUP_SECP384R1: "secp384r1",
    GROUP_SECP521R1: "secp521r1",
}

# OpenSSL 3's default TLS 1.3 suite order. Python before 3.15 cannot restrict TLS 1.3 suites
# (reference §8: no set_ciphersuites), so with server preference OpenSSL takes the first of
# these that the client offers; when that is not the suite Schannel chose, the listener sends a
# hand-built ServerHello instead (handbuilt.py).
OPENSSL_TLS13_ORDER: tuple[int, ...] = (0x1302, 0x1303, 0x1301)


@cache
def _openssl_knows(openssl_name: str) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(f"{openssl_name}:@SECLEVEL=0")
    except ssl.SSLError:
        return False
    return any(c["name"] == openssl_name for c in context.get_ciphers())


def openssl_can_serve(decision: Negotiated, hello: ClientHello) -> bool:
    """Whether the local OpenSSL can complete exactly this version + suite for this client."""
    if decision.version == SSL3:
        return False  # not built into OpenSSL 3 (HAS_SSLv3 is False, reference §8)
    if decision.version == TLS13:
        offered = [s for s in OPENSSL_TLS13_ORDER if s in hello.cipher_suites]
        return bool(offered) and offered[0] == decision.suite.iana_id
    if decision.suite.key_exchange in ("ECDHE", "DHE") and decision.suite.certificate_key == "DSA":
        return False  # the lab never holds DSA keys to sign with
    return _openssl_knows(decision.suite.openssl_name)


def _pin_group(context: ssl.SSLContext, group: int) -> None:
    """Make OpenSSL use the curve the Schannel emulation chose.

    Some CPython builds (Debian 12's 3.11.2) look curve names up with OBJ_sn2nid, which does not know
    X25519 (UNKNOWN_GROUP). OpenSSL 3's own default group list starts with X25519 and
    the client offered it (the emulation chose it from the client's list), so leaving the
    default in place yields the same curve there.
    """
    try:
        context.set_ecdh_curve(OPENSSL_GROUP_NAMES[group])
    except (ssl.SSLError, ValueError):
        if group != GROUP_X25519:
            raise


def _cipher_string(suite: Suite) -> str:
    if suite.key_exchange == "TLS13":
        # set_ciphers only governs TLS <= 1.2, but needs one valid entry.
        return "ALL:@SECLEVEL=0"
    return f"{suite.openssl_name}:@SECLEVEL=0"


class ServerMaterial:
    """Certificate, key and DH parameter files for SSLContext (which only loads from paths).

    Files are written once per certificate (named by the SHA-256 of its DER) into `directory`,
    e.g. the lab's state directory; without one, a private temporary directory is used.
    """

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="winlab-tds-")
            directory = Path(self._tmp.name)
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _write_once(self, name: str, content: bytes) -> Path:
        path = self.directory / name
        with self._lock:
            if not path.exists():
                partial = path.with_suffix(path.suffix + ".part")
                partial.write_bytes(content)
                partial.replace(path)
        return path

    def certificate_files(self, certificate: ServerCertificate) -> tuple[Path, Path]:
        digest = hashlib.sha256(certificate.der).hexdigest()[:24]
        pem = x509.load_der_x509_certificate(certificate.der).public_bytes(serialization.Encoding.PEM)
        return (
            self._write_once(f"tds-{digest}.crt", pem),
            self._write_once(f"tds-{digest}.key", certificate.private_key_pem),
        )

    def dh_params_file(self) -> Path:
        return self._write_once("tds-ffdhe2048.pem", FFDHE2048_PEM)

    def context_for(self, decision: Negotiated, certificate: ServerCertificate) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            # TLSVersion.TLSv1 / TLSv1_1 are deprecated in Python, still what the client asked for.
            warnings.simplefilter("ignore", DeprecationWarning)
            version = ssl.TLSVersion(decision.version)
            context.minimum_version = version
            context.maximum_version = version
        context.set_ciphers(_cipher_string(decision.suite))
        # No session tickets: they would add messages to flights the lab does not need.
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
        cert_file, key_file = self.certificate_files(certificate)
        context.load_cert_chain(cert_file, key_file)
        if decision.suite.key_exchange == "DHE":
            context.load_dh_params(str(self.dh_params_file()))
        if decision.group in OPENSSL_GROUP_NAMES:
            _pin_group(context, decision.group)
        if decision.alpn is not None:
            context.set_alpn_protocols([decision.alpn.decode("ascii")])
        return context
