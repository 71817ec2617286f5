"""The one-off probe CLI (what `make probe TARGET=host:port OUT=file.json` runs) against lab endpoints.

Expected suite lists are written by hand from reference/windows-schannel.md
section 5 (Server 2019 default order; the RSA certificate leaves the ECDSA
suites out), never computed by the prober.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from winlab.testing import RunningLab

from .ansible_run import REPO

CLI_MODULE = "ansible_collections.mssql.tls.plugins.plugin_utils.tds.cli"

# Server 2019 default list, RSA certificate (windows-schannel.md section 5).
WIN2019_TLS12_RSA = [
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_NULL_SHA256",
    "TLS_RSA_WITH_NULL_SHA",
]


def lab_endpoint(lab: RunningLab, host: str, instance: str = "MSSQLSERVER") -> str:
    """``address:port`` of a lab host's SQL instance, as the lab's inventory gives it."""
    address, port = lab.sql_endpoint(host, instance)
    return f"{address}:{port}"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ...tds.cli`` with only the collection path added, as the Makefile target runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO / ".ansible" / "collections")}
    return subprocess.run(
        [sys.executable, "-m", CLI_MODULE, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def probe_json(target: str, out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli(target, "--out", str(out), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def test_scenario3_instance_lists_its_tls_dhe_suites(lab, tmp_path: Path) -> None:
    target = lab_endpoint(lab, "s3")

    proc, result = probe_json(target, tmp_path / "s3.json", "--mode", "tds")

    assert result["target"] == target and result["mode"] == "tds"
    assert result["protocols"] == {
        "SSL 3.0": False,
        "TLS 1.0": False,
        "TLS 1.1": False,
        "TLS 1.2": True,
        "TLS 1.3": "not applicable to TDS 7.x",
    }
    assert result["cipher_suites"] == {"TLS 1.2": WIN2019_TLS12_RSA}
    assert result["suite_order"] == {"TLS 1.2": "server"}
    assert result["encryption"]["answer_name"] == "ENCRYPT_OFF"
    assert result["certificate"]["subject"] == "CN=s3.lab.example.com"
    assert result["certificate"]["signature_hash"] == "sha256"
    # The readable table shows the DHE suites at the server's positions 3 and 4.
    assert "   3. TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in proc.stdout
    assert "   4. TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" in proc.stdout
    verdicts = {v["profile"]: v for v in result["client_verdicts"]}
    # A 2012 R2 client has no ECDHE_RSA GCM suite, so the server's first pick it offers is DHE (scenario 3).
    assert verdicts["windows-2012r2-client"]["suite"] == "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    assert any("KB4557473" in w for w in verdicts["windows-2012r2-client"]["warnings"])
    assert verdicts["windows-2012r2-client"]["warning_codes"] == ["dhe_without_leading_zero_fix_client"]
    assert verdicts["windows-2012r2-client"]["code"] == "connects"


def test_tls10_only_client_is_reset_by_the_scenario1_instance(lab, tmp_path: Path) -> None:
    target = lab_endpoint(lab, "s1")

    proc, result = probe_json(target, tmp_path / "s1.json")

    # SQL Server 2014 SP1 CU1 has no TLS 1.2 and the OS has nothing else left: every hello is reset.
    assert result["rejections"]["TLS 1.0"] == "connection reset"
    assert [label for label, state in result["protocols"].items() if state is True] == []
    snac = next(v for v in result["client_verdicts"] if v["profile"] == "snac11-unpatched")
    assert snac["connects"] is False
    assert snac["reason"].startswith("no common protocol: client offers TLS 1.0")
    assert "resets the connection" in snac["reason"] and "error 10054" in snac["reason"]
    assert snac["code"] == "no_common_protocol"
    assert snac["params"] == {"client_protocols": ["TLS 1.0"], "server_protocols": []}
    assert "snac11-unpatched        FAIL" in proc.stdout


def test_judges_only_the_requested_profiles(lab, tmp_path: Path) -> None:
    target = lab_endpoint(lab, "s5")

    result = probe_json(target, tmp_path / "s5.json", "--profile", "snac11-unpatched", "--profile", "odbc18")[
        1
    ]

    # s5 (2016 at 14393.3541) still accepts TLS 1.0, so the unpatched SNAC client gets in.
    assert [(v["profile"], v["connects"], v["protocol"]) for v in result["client_verdicts"]] == [
        ("snac11-unpatched", True, "TLS 1.0"),
        ("odbc18", True, "TLS 1.2"),
    ]


def test_unreachable_endpoint_exits_1_and_still_writes_the_json(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "closed.json"

    proc = run_cli(f"127.0.0.1:{port}", "--out", str(out), "--timeout", "2")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["errors"][0]["stage"] == "connect"
    assert "refused" in result["errors"][0]["message"]


def test_bad_arguments_exit_2_naming_the_field(tmp_path: Path) -> None:
    bad_port = run_cli("127.0.0.1:70000")
    assert bad_port.returncode == 2
    assert "target" in bad_port.stderr and "1..65535" in bad_port.stderr

    bad_profile = run_cli("127.0.0.1:1433", "--profile", "odbc99")
    assert bad_profile.returncode == 2
    assert "profile: expected one of" in bad_profile.stderr and "odbc99" in bad_profile.stderr

    bad_mode = run_cli("127.0.0.1:1433", "--mode", "both")
    assert bad_mode.returncode == 2
    assert "--mode" in bad_mode.stderr
