"""The prober against nmap's ssl-enum-ciphers on the same endpoints, in the same run.

nmap's NSE (tls.lua, sslcert.lua) is an implementation nobody here wrote: it
builds its own ClientHellos, wraps them in TDS for a service named
``ms-sql-s``, and orders the accepted suites itself. Both tools must report
the same accepted protocols and the same suites in the same order.

nmap keys its TDS wrapper on the service name (reference/tds-tls-probing.md
section 7); without the slow ``-sV`` the name comes from ``nmap-services``,
so every run points ``--datadir`` at a directory holding a one-line
``nmap-services`` for the probed port. Mapping the port to ``https`` instead
makes nmap speak plain TLS first, which is the TDS 8.0 strict entry path.

nmap missing: the tests fail when CI=true (CI installs it) and skip elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint
from winlab.nmap_enum import ProtocolSeen, services_datadir, ssl_enum_ciphers
from winlab.testing import PROFILES_DIR, RunningLab, running_lab

INSTALL_HINT = "nmap is not installed (Debian: apt-get install -y nmap)"


@pytest.fixture(scope="session")
def nmap_bin() -> str:
    path = shutil.which("nmap")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {INSTALL_HINT}: the nmap cross-checks cannot run", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return path


def nmap_ssl_enum(nmap: str, address: str, port: int, service: str, workdir: Path) -> dict[str, ProtocolSeen]:
    """``{protocol: ProtocolSeen}`` as nmap's ssl-enum-ciphers reports them for one port."""
    datadir = services_datadir(workdir / f"nmap-{address}-{port}-{service}", [port], service)
    seen = ssl_enum_ciphers(nmap, datadir, [address], [port], timeout=180)[f"{address}:{port}"]
    assert seen.state == "open", seen
    return seen.protocols


def enumeration_errors(result: dict[str, Any]) -> list[dict[str, str]]:
    """Errors that would make the comparison meaningless (the full handshake is not compared)."""
    return [
        e for e in result["errors"] if e["stage"] in ("connect", "prelogin") or e["stage"].startswith("enum")
    ]


def prober_view(result: dict[str, Any]) -> dict[str, list[str]]:
    return {
        label: result["cipher_suites"][label] for label, state in result["protocols"].items() if state is True
    }


def assert_same_view(result: dict[str, Any], nmap_seen: dict[str, ProtocolSeen]) -> None:
    assert prober_view(result) == {label: seen.ciphers for label, seen in nmap_seen.items()}
    for label, seen in nmap_seen.items():
        if result["suite_order"][label] == "server":
            assert seen.preference == "server", label


@pytest.fixture(scope="module")
def crosscheck_lab() -> Iterator[RunningLab]:
    profiles = ["s1", "s3", "s4", "s5", "mixed-2012r2", "compliant"]
    with running_lab([PROFILES_DIR / f"{name}.yml" for name in profiles]) as lab:
        yield lab


@pytest.mark.parametrize(
    ("host", "instance", "what"),
    [
        ("s3", "MSSQLSERVER", "2019 default list with TLS_DHE_RSA GCM (scenario 3)"),
        ("s5", "MSSQLSERVER", "2016: TLS 1.0-1.2, DHE CBC, RC4 and 3DES"),
        ("mixed-2012r2", "MSSQLSERVER", "SSL 3.0 only: RC4, 3DES and NULL, beyond the local OpenSSL"),
        ("s4", "REPORTS", "named instance on a non-default port"),
        ("compliant", "MSSQLSERVER", "hardened 2022 with ForceEncryption"),
        ("s1", "MSSQLSERVER", "no protocol in common: neither tool gets a ServerHello (scenario 1)"),
    ],
)
def test_tds_path_matches_nmap(
    crosscheck_lab, nmap_bin, tmp_path, host: str, instance: str, what: str
) -> None:
    address, port = crosscheck_lab.sql_endpoint(host, instance)

    result = probe_endpoint(f"{address}:{port}", "tds", timeout=5, profiles=[])
    seen = nmap_ssl_enum(nmap_bin, address, port, "ms-sql-s", tmp_path)

    assert enumeration_errors(result) == [], what
    assert_same_view(result, seen)


def test_expected_lists_are_not_empty_where_the_host_speaks_tls(crosscheck_lab, nmap_bin, tmp_path) -> None:
    """Guards the comparison above against two empty answers agreeing for the wrong reason."""
    address, port = crosscheck_lab.sql_endpoint("s5")
    seen = nmap_ssl_enum(nmap_bin, address, port, "ms-sql-s", tmp_path)
    assert sorted(seen) == ["TLS 1.0", "TLS 1.1", "TLS 1.2"]
    assert "TLS_DHE_RSA_WITH_AES_256_CBC_SHA" in seen["TLS 1.0"].ciphers
    assert len(seen["TLS 1.2"].ciphers) > 10


def test_strict_path_matches_nmap_speaking_tls_first(crosscheck_lab, nmap_bin, tmp_path) -> None:
    address, port = crosscheck_lab.sql_endpoint("compliant")

    result = probe_endpoint(f"{address}:{port}", "strict", timeout=5, profiles=[])
    seen = nmap_ssl_enum(nmap_bin, address, port, "https", tmp_path)

    assert enumeration_errors(result) == []
    assert result["strict"]["tls_first"] is True
    assert sorted(seen) == ["TLS 1.2", "TLS 1.3"]  # TDS 8.0 on Server 2022 serves TLS 1.3
    assert_same_view(result, seen)


def test_plain_tls_across_versions_matches_nmap(start_s_server, nmap_bin, tmp_path) -> None:
    """openssl s_server with TLS 1.0-1.3 and different suites per version: three independent readings."""
    target = start_s_server(
        "-min_protocol", "TLSv1",
        "-serverpref",
        "-cipher", "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-GCM-SHA256:"
                   "@SECLEVEL=0",
        "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
    )  # fmt: skip
    address, port = target.rsplit(":", 1)

    result = probe_endpoint(target, "tls", timeout=5, profiles=[])
    seen = nmap_ssl_enum(nmap_bin, address, int(port), "https", tmp_path)

    # Written from the s_server arguments: CBC suites in every version, GCM and DHE-GCM from TLS 1.2.
    legacy = ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"]
    assert prober_view(result) == {
        "TLS 1.0": legacy,
        "TLS 1.1": legacy,
        "TLS 1.2": [
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            *legacy,
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        ],
        "TLS 1.3": ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
    }
    assert_same_view(result, seen)
