"""pytds, a real SQL Server driver with its own TLS stack (pyOpenSSL), against what the prober predicts.

winlab's own tests show pytds completing its wrapped handshake with a lab
endpoint. From the prober's side the useful question is different: given the
suites pytds offers, does the prober's measurement plus its verdict model
(server preference, highest common version) name the suite pytds really
negotiates? The client offer is narrowed in some cases so that the server's
first choice is *not* the client's first: only server preference then gives
the expected suite.

pytds validates certificates; here it is configured not to (the check is
about negotiation, and the prober does not validate either).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import OpenSSL.SSL
import pytds
import pytds.tls
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.profiles import ClientProfile
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.suites import suite_by_openssl_name
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.verdict import evaluate, view_from_probe_result
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from winlab.testing import PROFILES_DIR, RunningLab, running_lab


@pytest.fixture(scope="module")
def pytds_lab() -> Iterator[RunningLab]:
    with running_lab([PROFILES_DIR / "s3.yml", PROFILES_DIR / "s5.yml"]) as lab:
        yield lab


def pytds_handshake(
    monkeypatch: pytest.MonkeyPatch, cafile: str, address: str, port: int, cipher_list: str | None
) -> tuple[str, str, list[str]]:
    """(protocol, IANA suite) pytds negotiated and the OpenSSL suite names it offered."""
    connections: list[OpenSSL.SSL.Connection] = []
    offered: list[str] = []

    class RecordingConnection(OpenSSL.SSL.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            connections.append(self)
            offered.extend(self.get_cipher_list())

    create_context = pytds.tls.create_context

    def client_context(path: str) -> OpenSSL.SSL.Context:
        context = create_context(path)
        context.set_verify(OpenSSL.SSL.VERIFY_NONE, lambda *_args: True)
        if cipher_list:
            context.set_cipher_list(cipher_list.encode("ascii"))
        return context

    monkeypatch.setattr(pytds.tls, "create_context", client_context)
    monkeypatch.setattr(OpenSSL.SSL, "Connection", RecordingConnection)
    with pytest.raises(pytds.OperationalError) as failure:
        pytds.connect(
            dsn=address, port=port, user="app_user", password="wrong", cafile=cafile,
            validate_host=False, login_timeout=10, autocommit=True,
        )  # fmt: skip
    # The lab answers the encrypted LOGIN7 with error 18456: TLS was complete.
    assert failure.value.number == 18456
    assert len(connections) == 1
    tls = connections[0]
    suite = suite_by_openssl_name(tls.get_cipher_name())
    assert suite is not None, tls.get_cipher_name()
    return tls.get_protocol_version_name(), suite.name, offered


def pytds_profile(offered_openssl_names: list[str]) -> ClientProfile:
    """pytds as a client profile: TLS 1.2 only (TLSv1_2_METHOD), its OpenSSL offer in order."""
    names = tuple(s.name for s in map(suite_by_openssl_name, offered_openssl_names) if s is not None)
    return ClientProfile(
        name="pytds",
        description="pytds 1.x with pyOpenSSL",
        path="tds",
        protocols=(TlsVersion.TLS12,),
        suite_list=names,
        requires_encryption=True,
        dhe_leading_zero_fix=None,
        sources=("pytds/tls.py create_context: TLSv1_2_METHOD",),
    )


@pytest.mark.parametrize(
    ("host", "cipher_list", "expected_suite"),
    [
        # OpenSSL's default offer: the 2019 list's first suite is one pytds offers.
        ("s3", None, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        # Client prefers AES128-SHA; the server's list ranks DHE_RSA AES128 GCM (4th) above it (14th).
        ("s3", "AES128-SHA:DHE-RSA-AES128-GCM-SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
        # s5 (2016) ranks ECDHE_RSA AES128 CBC_SHA (8th) above TLS_RSA AES256 CBC_SHA (15th).
        ("s5", "AES256-SHA:ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    ],
)
def test_pytds_negotiates_the_suite_the_prober_predicts(
    pytds_lab, pki, monkeypatch, host: str, cipher_list: str | None, expected_suite: str
) -> None:
    address, port = pytds_lab.sql_endpoint(host)
    result = probe_endpoint(f"{address}:{port}", "tds", timeout=5, profiles=[])

    protocol, negotiated, offered = pytds_handshake(
        monkeypatch, str(pki.rsa.cert), address, port, cipher_list
    )
    predicted = evaluate(pytds_profile(offered), view_from_probe_result(result))

    assert (protocol, negotiated) == ("TLSv1.2", expected_suite)
    assert predicted.connects
    assert (predicted.protocol, predicted.suite) == ("TLS 1.2", negotiated)
