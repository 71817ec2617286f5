"""Plain-TLS mode against real ``openssl s_server`` processes with known settings.

OpenSSL is an implementation independent of the prober; each test starts a
server with explicit ``-tls1_x``/``-cipher``/``-ciphersuites``/``-serverpref``
options and checks the probe reports exactly that. Expected IANA names are
written by hand.
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint


def _accepted(result):
    return [label for label, state in result["protocols"].items() if state is True]


def test_tls12_server_preference_order_matches_the_cipher_string(start_s_server):
    target = start_s_server(
        "-tls1_2",
        "-serverpref",
        "-cipher",
        "AES256-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA:AES128-SHA",
    )

    result = probe_endpoint(target, "tls", timeout=3)

    assert result["errors"] == []
    assert result["encryption"] is None
    assert _accepted(result) == ["TLS 1.2"]
    assert result["cipher_suites"] == {
        "TLS 1.2": [
            "TLS_RSA_WITH_AES_256_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
        ]
    }
    assert result["suite_order"] == {"TLS 1.2": "server"}
    assert result["rejections"]["TLS 1.3"] == "alert protocol_version (70)"
    assert result["full_handshake"]["suite"] == "TLS_RSA_WITH_AES_256_CBC_SHA256"
    assert result["certificate"]["subject"] == "CN=sql01.lab.test"


def test_without_serverpref_the_server_follows_the_client(start_s_server):
    target = start_s_server("-tls1_2", "-cipher", "AES128-SHA:AES256-SHA:ECDHE-RSA-AES256-SHA")

    result = probe_endpoint(target, "tls", timeout=3)

    assert result["suite_order"] == {"TLS 1.2": "client"}
    assert sorted(result["cipher_suites"]["TLS 1.2"]) == [
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
    ]


def test_tls13_ciphersuites_are_enumerated_one_by_one_in_server_order(start_s_server):
    target = start_s_server(
        "-tls1_3",
        "-serverpref",
        "-ciphersuites",
        "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
    )

    result = probe_endpoint(target, "tls", timeout=3)

    assert result["errors"] == []
    assert _accepted(result) == ["TLS 1.3"]
    assert result["cipher_suites"] == {"TLS 1.3": ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]}
    assert result["suite_order"] == {"TLS 1.3": "server"}
    assert result["full_handshake"]["protocol"] == "TLS 1.3"
    assert result["certificate"]["source"] == "handshake"


def test_tls10_only_server_with_legacy_suites(start_s_server):
    target = start_s_server("-tls1", "-serverpref", "-cipher", "ECDHE-RSA-AES256-SHA:AES128-SHA:@SECLEVEL=0")

    result = probe_endpoint(target, "tls", timeout=3)

    assert _accepted(result) == ["TLS 1.0"]
    assert result["cipher_suites"] == {
        "TLS 1.0": ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"]
    }
    # the stdlib handshake still works: TLS 1.0 needs @SECLEVEL=0 under OpenSSL 3 (reference section 8)
    assert result["full_handshake"]["protocol"] == "TLS 1.0"
    verdicts = {v["profile"]: v for v in result["client_verdicts"]}
    assert verdicts["snac11-unpatched"]["connects"] is True
    assert verdicts["odbc18-strict"]["connects"] is False
    assert "no common protocol" in verdicts["odbc18-strict"]["reason"]


def test_md5_signed_certificate_is_reported_with_its_hash(start_s_server, pki):
    target = start_s_server("-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0", credential=pki.md5)

    result = probe_endpoint(target, "tls", timeout=3, profiles=[])

    assert result["certificate"]["signature_hash"] == "md5"
    assert result["certificate"]["subject"] == "CN=md5.sql.lab.test"


def test_ecdsa_server_supports_both_tls12_and_tls13(start_s_server, pki):
    target = start_s_server(
        "-no_tls1",
        "-no_tls1_1",
        "-serverpref",
        "-cipher",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA",
        "-ciphersuites",
        "TLS_AES_256_GCM_SHA384",
        credential=pki.ecdsa,
    )

    result = probe_endpoint(target, "tls", timeout=3, profiles=[])

    assert _accepted(result) == ["TLS 1.2", "TLS 1.3"]
    assert result["cipher_suites"] == {
        "TLS 1.2": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"],
        "TLS 1.3": ["TLS_AES_256_GCM_SHA384"],
    }
    assert result["certificate"]["key_type"] == "EC"


def test_a_1024_bit_dh_group_is_no_false_negative(start_s_server, pki):
    # With OpenSSL 3 defaults this server looks like it has no DHE at all (DH_KEY_TOO_SMALL, section 8).
    target = start_s_server(
        "-tls1_2", "-dhparam", str(pki.dh1024_params), "-cipher", "DHE-RSA-AES128-SHA:@SECLEVEL=0"
    )

    result = probe_endpoint(target, "tls", timeout=3, profiles=[])

    assert result["cipher_suites"] == {"TLS 1.2": ["TLS_DHE_RSA_WITH_AES_128_CBC_SHA"]}
    assert result["full_handshake"]["ok"] is True
    assert result["full_handshake"]["suite"] == "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
