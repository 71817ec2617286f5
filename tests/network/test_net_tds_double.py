"""The prober against the stdlib TDS double: it must find exactly what the double is configured with.

Expected suite names are written out by hand from the OpenSSL names the
double is given (IANA names per RFC 5246/5289/7905), never computed with the
prober's own table.
"""

from __future__ import annotations

import socket
import ssl

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint, probe_many
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion

TLS10, TLS11, TLS12, TLS13 = (
    ssl.TLSVersion.TLSv1,
    ssl.TLSVersion.TLSv1_1,
    ssl.TLSVersion.TLSv1_2,
    ssl.TLSVersion.TLSv1_3,
)
NOT_APPLICABLE = "not applicable to TDS 7.x"


def test_tds7_endpoint_reports_its_tls12_suites_in_server_order_and_its_certificate(start_double, pki):
    double = start_double(
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:DHE-RSA-AES256-GCM-SHA384:AES128-SHA256",
    )

    result = probe_endpoint(double.target, "tds", timeout=3)

    assert result["errors"] == []
    assert result["encryption"]["answer"] == 0x00
    assert result["encryption"]["answer_name"] == "ENCRYPT_OFF"
    assert result["encryption"]["forced"] is False
    assert result["server_version"] == "15.0.4000"
    assert result["protocols"] == {
        "SSL 3.0": False,
        "TLS 1.0": False,
        "TLS 1.1": False,
        "TLS 1.2": True,
        "TLS 1.3": NOT_APPLICABLE,
    }
    assert result["cipher_suites"] == {
        "TLS 1.2": [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_256_CBC_SHA",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_RSA_WITH_AES_128_CBC_SHA256",
        ]
    }
    assert result["suite_order"] == {"TLS 1.2": "server"}
    certificate = result["certificate"]
    assert certificate["source"] == "first_flight"
    assert certificate["subject"] == "CN=sql01.lab.test"
    assert certificate["dns_names"] == ["sql01.lab.test"]
    assert certificate["signature_hash"] == "sha256"
    assert certificate["eku"] == ["1.3.6.1.5.5.7.3.1"]
    assert result["full_handshake"]["ok"] is True
    assert result["full_handshake"]["suite"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    # 4 suites + the refusal + the order check, one refusal each for SSL 3.0/1.0/1.1, one full handshake
    assert result["handshakes"] == 4 + 1 + 1 + 3 + 1
    # every probe connection started with a cleartext PRELOGIN, plus the encryption check
    assert double.log.tds7_connections == result["handshakes"] + 1
    assert double.log.strict_connections == 0


def test_forced_encryption_old_protocols_and_0x04_flights_split_into_small_packets(start_double):
    double = start_double(
        encryption=0x03,
        minimum_version=TLS10,
        maximum_version=TLS12,
        ciphers="ECDHE-RSA-AES256-SHA:AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384",
        packet_size=512,
        flight_packet_type=0x04,
    )

    result = probe_endpoint(double.target, "tds", timeout=3)

    assert result["errors"] == []
    assert result["encryption"]["answer_name"] == "ENCRYPT_REQ"
    assert result["encryption"]["forced"] is True
    assert result["protocols"] == {
        "SSL 3.0": False,
        "TLS 1.0": True,
        "TLS 1.1": True,
        "TLS 1.2": True,
        "TLS 1.3": NOT_APPLICABLE,
    }
    cbc_only = ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"]
    assert result["cipher_suites"] == {
        "TLS 1.0": cbc_only,
        "TLS 1.1": cbc_only,
        "TLS 1.2": [*cbc_only, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
    }
    assert result["certificate"]["subject"] == "CN=sql01.lab.test"


def test_certificate_flight_larger_than_one_tds_packet_is_reassembled(start_double, pki):
    double = start_double(credential=pki.big, ciphers="AES128-GCM-SHA256")

    result = probe_endpoint(double.target, "tds", timeout=3, profiles=[])

    assert len(pki.big.der) > 4096  # the flight cannot fit in one 4096-byte packet
    assert result["errors"] == []
    assert result["cipher_suites"] == {"TLS 1.2": ["TLS_RSA_WITH_AES_128_GCM_SHA256"]}
    assert result["certificate"]["subject"] == "CN=sqlbig.lab.test"
    assert len(result["certificate"]["dns_names"]) == 300


def test_encrypt_not_sup_means_no_tls_and_fails_clients_that_require_encryption(start_double):
    double = start_double(encryption=0x02)

    result = probe_endpoint(double.target, "tds", timeout=3)

    assert result["encryption"]["answer_name"] == "ENCRYPT_NOT_SUP"
    assert result["encryption"]["tls_available"] is False
    assert result["protocols"]["TLS 1.2"] is False
    assert result["handshakes"] == 0
    verdicts = {v["profile"]: v for v in result["client_verdicts"]}
    assert verdicts["odbc18"]["connects"] is False
    assert "requires encryption" in verdicts["odbc18"]["reason"]
    assert verdicts["odbc17"]["connects"] is True
    assert verdicts["odbc17"]["protocol"] is None


def test_strict_endpoint_serves_tls13_with_alpn_and_answers_prelogin_inside_tls(start_double):
    double = start_double(
        minimum_version=TLS12,
        maximum_version=TLS13,
        ciphers="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
    )

    result = probe_endpoint(double.target, "strict", timeout=3)

    assert result["errors"] == []
    assert result["encryption"] is None
    assert result["protocols"]["TLS 1.3"] is True
    assert result["protocols"]["TLS 1.2"] is True
    assert result["protocols"]["TLS 1.1"] is False
    # Python's ssl cannot set TLS 1.3 suites: the double runs OpenSSL's default TLS 1.3 list
    # (TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256) with server preference.
    assert result["cipher_suites"]["TLS 1.3"] == [
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_GCM_SHA256",
    ]
    assert result["cipher_suites"]["TLS 1.2"] == [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ]
    assert result["strict"]["tls_first"] is True
    assert result["strict"]["alpn_selected"] == "tds/8.0"
    assert result["strict"]["prelogin"] == {"ok": True, "server_version": "15.0.4000", "encryption_answer": 0}
    assert result["server_version"] == "15.0.4000"
    assert result["full_handshake"]["protocol"] == "TLS 1.3"
    assert result["certificate"]["subject"] == "CN=sql01.lab.test"
    # The PRELOGIN inside TLS carries ENCRYPT_NOT_SUP, as SqlClient sends it (reference section 4).
    assert double.log.strict_prelogin_encryption == [0x02]
    assert double.log.tds7_connections == 0
    verdicts = {v["profile"]: v for v in result["client_verdicts"]}
    assert set(verdicts) == {"odbc18-strict", "sqlclient5-strict"}
    assert verdicts["sqlclient5-strict"]["protocol"] == "TLS 1.3"
    assert verdicts["sqlclient5-strict"]["suite"] == "TLS_AES_256_GCM_SHA384"


def test_tls13_only_strict_endpoint_gets_its_certificate_from_the_full_handshake(start_double):
    double = start_double(minimum_version=TLS13, maximum_version=TLS13)

    result = probe_endpoint(double.target, "strict", timeout=3, profiles=[])

    assert [label for label, state in result["protocols"].items() if state is True] == ["TLS 1.3"]
    assert result["certificate"]["source"] == "handshake"
    assert result["certificate"]["subject"] == "CN=sql01.lab.test"


def test_force_strict_instance_closes_cleartext_prelogin_and_the_probe_says_so(start_double):
    double = start_double(accept_tds7=False)

    result = probe_endpoint(double.target, "tds", timeout=3)

    assert result["encryption"] is None
    assert set(result["protocols"].values()) == {None}
    assert len(result["errors"]) == 1
    assert result["errors"][0]["stage"] == "prelogin"
    assert "mode=strict" in result["errors"][0]["message"]


def test_a_pre_2022_instance_refuses_tls_first_connections(start_double):
    double = start_double(accept_strict=False)

    result = probe_endpoint(double.target, "strict", timeout=3)

    assert set(result["protocols"].values()) == {False}
    assert set(result["rejections"].values()) <= {"connection closed", "connection reset"}
    assert result["strict"] == {"tls_first": False, "alpn_selected": None, "prelogin": None}
    assert result["certificate"] is None
    assert all(v["connects"] is False for v in result["client_verdicts"])


def test_server_following_the_client_order_is_reported_as_client_preference(start_double):
    double = start_double(ciphers="AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA", server_preference=False)

    result = probe_endpoint(double.target, "tds", timeout=3, versions=[TlsVersion.TLS12])

    assert result["suite_order"] == {"TLS 1.2": "client"}
    assert sorted(result["cipher_suites"]["TLS 1.2"]) == [
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
    ]


def test_ecdsa_certificate_server_accepts_only_ecdsa_suites(start_double, pki):
    double = start_double(
        credential=pki.ecdsa,
        ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA",
    )

    result = probe_endpoint(double.target, "tds", timeout=3, versions=[TlsVersion.TLS12])

    assert result["cipher_suites"]["TLS 1.2"] == [
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    ]
    assert result["certificate"]["key_type"] == "EC"
    assert result["certificate"]["curve"] == "secp256r1"


def test_tls12_only_server_fails_tls10_clients_with_10054_and_flags_dhe(start_double):
    double = start_double(ciphers="DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-CBC-SHA384")

    result = probe_endpoint(double.target, "tds", timeout=3)

    verdicts = {v["profile"]: v for v in result["client_verdicts"]}
    assert verdicts["snac11-unpatched"]["connects"] is False
    assert "error 10054" in verdicts["snac11-unpatched"]["reason"]
    assert verdicts["windows-2012r2-client"]["connects"] is True
    assert verdicts["windows-2012r2-client"]["suite"] == "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    assert "KB4557473" in verdicts["windows-2012r2-client"]["warnings"][0]


def test_probe_many_probes_endpoints_concurrently_and_keeps_the_order(start_double):
    first = start_double(ciphers="AES128-SHA")
    second = start_double(ciphers="AES256-SHA", encryption=0x03)

    results = probe_many(
        [first.target, second.target], "tds", max_workers=2, timeout=3, versions=[TlsVersion.TLS12]
    )

    assert [r["target"] for r in results] == [first.target, second.target]
    assert results[0]["cipher_suites"] == {"TLS 1.2": ["TLS_RSA_WITH_AES_128_CBC_SHA"]}
    assert results[1]["cipher_suites"] == {"TLS 1.2": ["TLS_RSA_WITH_AES_256_CBC_SHA"]}
    assert [r["encryption"]["forced"] for r in results] == [False, True]


def test_nothing_listening_is_an_error_not_a_crash():
    with socket.create_server(("127.0.0.1", 0)) as probe_socket:
        port = probe_socket.getsockname()[1]
    # the port is closed again: connections are refused

    result = probe_endpoint(f"127.0.0.1:{port}", "tds", timeout=1)

    assert result["errors"][0]["stage"] == "connect"
    assert "refused" in result["errors"][0]["message"]
    assert set(result["protocols"].values()) == {None}
    assert result["client_verdicts"] == []  # nothing measured, nothing to judge

    strict = probe_endpoint(f"127.0.0.1:{port}", "strict", timeout=1)

    assert [e["stage"] for e in strict["errors"]] == ["enumerate SSL 3.0"]
    assert "refused" in strict["errors"][0]["message"]
    assert set(strict["protocols"].values()) == {None}
    assert strict["client_verdicts"] == []
