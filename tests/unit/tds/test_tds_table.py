"""format_table: a probe result rendered for people."""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import format_table

RESULT = {
    "target": "sql01:1433",
    "mode": "tds",
    "server_version": "15.0.4000",
    "encryption": {"answer_name": "ENCRYPT_REQ", "forced": True},
    "protocols": {"TLS 1.0": False, "TLS 1.2": True, "TLS 1.3": "not applicable to TDS 7.x", "SSL 3.0": None},
    "cipher_suites": {"TLS 1.2": ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"]},
    "suite_order": {"TLS 1.2": "server"},
    "rejections": {"TLS 1.0": "alert protocol_version (70)"},
    "certificate": {
        "subject": "CN=sql01",
        "issuer": "CN=CA",
        "signature_hash": "sha1",
        "key_type": "RSA",
        "key_size": 2048,
        "not_before": "2024-01-01T00:00:00Z",
        "not_after": "2026-01-01T00:00:00Z",
        "thumbprint_sha1": "AB" * 20,
    },
    "full_handshake": {"ok": True, "protocol": "TLS 1.2", "suite": "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    "strict": None,
    "client_verdicts": [
        {"profile": "snac11-unpatched", "connects": False, "reason": "no common protocol", "warnings": []},
        {"profile": "odbc17", "connects": True, "reason": "connects", "warnings": ["TLS_DHE suite chosen"]},
    ],
    "handshakes": 6,
    "errors": [{"stage": "enumerate SSL 3.0", "message": "connection timeout"}],
    "duration_s": 0.5,
}


def test_the_table_shows_every_part_of_the_result():
    lines = format_table(RESULT).splitlines()

    assert lines[0] == "Target sql01:1433  mode tds  server 15.0.4000  encryption ENCRYPT_REQ (forced: yes)"
    assert "  TLS 1.0  no   (alert protocol_version (70))" in lines
    assert "  TLS 1.2  yes  (2 suites)" in lines
    assert "  TLS 1.3  not applicable to TDS 7.x" in lines
    assert "  SSL 3.0  unknown (see errors)" in lines
    assert "Cipher suites TLS 1.2 (order: server):" in lines
    assert "   1. TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in lines
    assert any(line.startswith("Certificate: CN=sql01") and "signature sha1" in line for line in lines)
    assert "Full handshake: TLS 1.2 TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in lines
    assert "  snac11-unpatched  FAIL  no common protocol" in lines
    assert "  odbc17            OK    connects" in lines
    assert any("warning: TLS_DHE suite chosen" in line for line in lines)
    assert "  [enumerate SSL 3.0] connection timeout" in lines
    assert lines[-1] == "6 handshakes in 0.5 s"


def test_a_minimal_result_renders():
    text = format_table({"target": "h:1", "mode": "tls", "protocols": {}})
    assert "Certificate: none seen" in text
