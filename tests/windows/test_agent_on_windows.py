"""agent.ps1 on a real Windows PowerShell 5.1, without Ansible: the bootstrap, stdin and the op set.

Runs only on Windows (the GitHub Actions workflow .github/workflows/windows-agent.yml,
or by hand on a test server as Administrator): `pytest -m windows tests/windows`.
It writes only below HKLM\\SOFTWARE\\mssql.tls.test and to a throw-away self-signed
certificate, and removes both.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import run_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op

pytestmark = [
    pytest.mark.windows,
    pytest.mark.skipif(sys.platform != "win32", reason="needs Windows PowerShell 5.1"),
]

SCRATCH = r"HKLM\SOFTWARE\mssql.tls.test"
SERVER_AUTH_ONLY = base64.b64encode(bytes.fromhex("300a06082b06010505070301")).decode()


def execute(command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
    # The connection plugins pass the same line; here Windows itself splits it.
    proc = subprocess.run(command, input=stdin, capture_output=True, timeout=300, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def journal(reason: str) -> dict[str, str]:
    return {"id": f"wintest-{uuid.uuid4().hex[:12]}", "line": json.dumps({"reason": reason})}


def test_read_ops_answer_in_one_batch() -> None:
    batch = run_batch(
        execute,
        [
            op("os.info"),
            op("reg.read", path=r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL", depth=3),
            op("reg.read", path=r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"),
            op("cert.list", store="My"),
            op("svc.query", names=["WinRM", "NoSuchService"]),
            op("file.version", paths=[r"%SystemRoot%\System32\sqlsrv32.dll"]),
            op("event.count", log="System", provider="Schannel", ids=[36874, 36888]),
            op("cluster.query"),
        ],
    )
    assert all(r.ok for r in batch.results), [(r.op, r.error_kind, r.error_message) for r in batch.results]
    os_info, schannel, current, certs, services, files, events, cluster = (r.data for r in batch.results)
    assert os_info["ps_version"].startswith("5.1")
    assert schannel["exists"] is True
    assert current["values"]["CurrentBuildNumber"]["type"] == "REG_SZ"
    assert isinstance(certs, list)
    assert [s["exists"] for s in services] == [True, False]
    assert files[0]["exists"] is True and files[0]["product_version"]
    assert set(events["counts"]) == {"36874", "36888"}
    assert cluster["is_node"] in (True, False)


def test_registry_write_expect_and_remove_keep_siblings() -> None:
    key = SCRATCH + r"\AES 128/128"
    first = run_batch(
        execute,
        [
            op("reg.write", path=key, name="Enabled", type="REG_DWORD", value={"data": -1}, expect=None),
            op("reg.write", path=key, name="Other", type="REG_SZ", value={"data": "keep me"}),
        ],
        journal("test write"),
    )
    assert first.ok, first.results
    conflict = run_batch(
        execute,
        [
            op("reg.write", path=key, name="Enabled", type="REG_DWORD", value={"data": 0}, expect=None),
            op("reg.read", path=key),
        ],
        journal("test conflict"),
    )
    assert conflict.results[0].error_kind == "conflict"
    assert conflict.results[1].error_kind == "skipped"
    read = run_batch(execute, [op("reg.read", path=key)]).results[0].data
    assert read["values"]["Enabled"] == {"type": "REG_DWORD", "data": -1}
    assert read["values"]["Other"]["data"] == "keep me"
    removed = run_batch(execute, [op("reg.remove", path=SCRATCH, recurse=True)], journal("cleanup"))
    assert removed.ok


@pytest.fixture
def scratch_certificate():
    thumbprint = subprocess.run(
        [
            "powershell.exe",
            "-NoProfile",
            "-Command",
            "(New-SelfSignedCertificate -DnsName mssql-tls-test"
            " -CertStoreLocation Cert:\\LocalMachine\\My).Thumbprint",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    yield thumbprint
    subprocess.run(
        ["powershell.exe", "-NoProfile", "-Command", f"Remove-Item Cert:\\LocalMachine\\My\\{thumbprint}"],
        check=False,
    )


def test_eku_property_set_and_clear_round_trip(scratch_certificate: str) -> None:
    thumb = scratch_certificate
    set_batch = run_batch(
        execute,
        [op("cert.prop.set", thumbprint=thumb, prop_id=9, data=SERVER_AUTH_ONLY, expect=None)],
        journal("eku set"),
    )
    assert set_batch.ok, set_batch.results
    listed = run_batch(execute, [op("cert.list", thumbprints=[thumb])]).results[0].data
    assert listed[0]["prop9"] == SERVER_AUTH_ONLY
    cleared = run_batch(
        execute,
        [op("cert.prop.clear", thumbprint=thumb, prop_id=9, expect={"data": SERVER_AUTH_ONLY})],
        journal("eku clear"),
    )
    assert cleared.ok and cleared.results[0].data["removed"] is True
    after = run_batch(execute, [op("cert.prop.get", thumbprint=thumb, prop_id=9)]).results[0].data
    assert after["present"] is False


def test_reg_create_reports_the_created_keys_once() -> None:
    key = SCRATCH + r"\created\below"
    first = run_batch(execute, [op("reg.create", path=key, expect=None)], journal("create"))
    assert first.ok, first.results
    assert first.results[0].data["created_keys"][-1] == key
    again = run_batch(execute, [op("reg.create", path=key)], journal("create again"))
    assert again.results[0].data == {"created_keys": []}
    removed = run_batch(execute, [op("reg.remove", path=SCRATCH, recurse=True)], journal("cleanup"))
    assert removed.ok


def test_key_facts_from_property_2_and_the_key_dacl(scratch_certificate: str) -> None:
    # New-SelfSignedCertificate makes a CNG key (Microsoft Software Key Storage Provider).
    thumb = scratch_certificate
    listed, prop2 = run_batch(
        execute,
        [
            op("cert.list", thumbprints=[thumb], key_acl=True),
            op("cert.prop.get", thumbprint=thumb, prop_id=2),
        ],
    ).results
    assert listed.ok and prop2.ok, (listed, prop2)
    (entry,) = listed.data
    assert entry["key_provider_type"] == 0 and entry["key_provider"] == prop2.data["data"]["provider"]
    assert entry["key_container"] == prop2.data["data"]["container"]
    assert entry["key_acl_error"] is None, entry["key_acl_error"]
    assert entry["key_acl"]["kind"] == "cng" and entry["key_acl"]["sddl"].startswith("D:")
    current = entry["key_acl"]["sddl"]
    same = run_batch(
        execute,
        [op("cert.key.acl.set", thumbprint=thumb, sddl=current, expect={"data": current})],
        journal("key acl"),
    )
    assert same.ok, same.results
    assert same.results[0].data == {"kind": "cng", "before": current, "after": current}


def test_os_info_has_the_host_clock_and_svc_start_of_a_running_service() -> None:
    info, started = run_batch(
        execute, [op("os.info"), op("svc.start", name="WinRM")], journal("svc.start of a running service")
    ).results
    assert info.ok and started.ok, (info, started)
    assert info.data["local_time"][19] in "+-" and isinstance(info.data["utc_offset_minutes"], int)
    assert info.data["time_zone"]
    assert started.data == {"started": [], "state": "Running"}
