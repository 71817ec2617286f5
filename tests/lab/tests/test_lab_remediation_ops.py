"""The remediation ops in the lab: reg.create, cert.list key_acl, cert.key.acl.set, svc.start,
tls.suite.disable/enable, os.info's clock, os.reboot (through the WinRM endpoint, with the TDS
endpoints following the host), journal.read's created_utc and the created_keys progress line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random

import pytest
from labtest import NOW, LabHost, base_profile, client, data, error_kind, make_host, run
from test_wsman import command, create, receive, send, streams
from winlab import schannel
from winlab.host import LabHost as Host
from winlab.process import wait_until
from winlab.profiles import parse_profile
from winlab.runtime import Knobs
from winlab.tds.listener import start_tds_listeners
from winlab.wsman import WsmanEndpoint

LAB_KEY = "HKLM\\SOFTWARE\\Lab"
JOURNAL = "C:\\ProgramData\\mssql.tls\\journal"
DEFAULT_DACL = "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"
# NT SERVICE\MSSQLSERVER (a per-service SID, sqlserver-tls.md section 10)
SQL_SERVICE_SID = "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"


def journal_lines(h: LabHost, record: str = "rec-1") -> list[str]:
    entry = h.state.file(f"{JOURNAL}\\{record}.jsonl")
    return [] if entry is None else (entry.text or "").splitlines()


# ---- reg.create and the created_keys progress line --------------------------------------------


def test_reg_create_creates_missing_keys_and_the_journal_names_them(host: LabHost) -> None:
    ops = [
        {"op": "reg.create", "path": f"{LAB_KEY}\\A\\B", "expect": None},
        {"op": "reg.create", "path": f"{LAB_KEY}\\A"},  # exists now: left as it is
        {"op": "reg.write", "path": f"{LAB_KEY}\\A", "name": "v", "type": "REG_SZ", "value": {"data": "x"}},
    ]
    _outcome, out = run(host, ops)
    assert data(out, 0) == {"created_keys": [LAB_KEY, f"{LAB_KEY}\\A", f"{LAB_KEY}\\A\\B"]}
    assert data(out, 1) == {"created_keys": []}
    assert data(out, 2)["created_keys"] == []
    assert [json.loads(line) for line in journal_lines(host)[1:]] == [
        {"applied": 0, "created_keys": [LAB_KEY, f"{LAB_KEY}\\A", f"{LAB_KEY}\\A\\B"]},
        {"applied": 1},
        {"applied": 2},
        {"done": True, "stopped_at": None},
    ]
    _outcome, out = run(host, [{"op": "reg.create", "path": f"{LAB_KEY}\\A", "expect": None}], "rec-2")
    assert error_kind(out, 0) == "conflict"
    _outcome, out = run(host, [{"op": "reg.create", "path": "HKLM\\SOFTWARE"}], "rec-3")
    assert error_kind(out, 0) == "invalid_request"  # a key directly under a hive


def test_reg_create_expect_must_be_null(host: LabHost) -> None:
    with pytest.raises(ValueError, match="expect"):
        client.build_request(
            [{"op": "reg.create", "path": LAB_KEY, "expect": {"key": True}}], {"id": "r", "line": "{}"}
        )
    _outcome, out = run(host, [{"op": "reg.create", "path": LAB_KEY, "expect": {"key": True}}], raw=True)
    assert error_kind(out, 0) == "invalid_request"


# ---- private-key ACLs ------------------------------------------------------------------------


def _acl_profile() -> dict:
    doc = base_profile()
    doc["certificates"] += [
        {
            "name": "cng",
            "subject_cn": "cng.lab.example.com",
            "key": {"type": "ecdsa", "curve": "P-256"},
            "key_acl": f"D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;GR;;;{SQL_SERVICE_SID})",
        },
        {"name": "hsm", "subject_cn": "hsm.lab.example.com", "key_acl_denied": True},
        {"name": "nokey", "subject_cn": "nokey.lab.example.com", "private_key": False},
    ]
    return doc


def test_cert_list_key_acl_per_entry(tmp_path, keys) -> None:
    h = make_host(_acl_profile(), tmp_path, keys)
    _outcome, out = run(h, [{"op": "cert.list", "key_acl": True}, {"op": "cert.list"}], None)
    good, cng, hsm, nokey = data(out, 0)
    assert good["key_acl"] == {"kind": "csp", "sddl": DEFAULT_DACL} and good["key_acl_error"] is None
    assert cng["key_acl"]["kind"] == "cng" and "S-1-5-80-" in cng["key_acl"]["sddl"]
    assert hsm["key_acl"] is None and hsm["key_acl_error"]["kind"] == "access_denied"
    assert nokey["key_acl"] is None and nokey["key_acl_error"] is None
    assert all("key_acl" not in e for e in data(out, 1))  # only when asked for


def test_cert_key_acl_set_compares_and_replaces_the_dacl(tmp_path, keys) -> None:
    h = make_host(_acl_profile(), tmp_path, keys)
    thumb = h.state.cert_stores["My"][0].thumbprint
    grant = f"{DEFAULT_DACL}(A;;GR;;;{SQL_SERVICE_SID})"
    op = {"op": "cert.key.acl.set", "thumbprint": thumb, "sddl": grant, "expect": {"data": DEFAULT_DACL}}
    _outcome, out = run(h, [op, {"op": "cert.list", "key_acl": True, "thumbprints": [thumb]}])
    assert data(out, 0) == {"kind": "csp", "before": DEFAULT_DACL, "after": grant}
    assert data(out, 1)[0]["key_acl"]["sddl"] == grant
    _outcome, out = run(h, [op], "rec-2")  # the DACL is no longer the expected one
    assert error_kind(out, 0) == "conflict"
    by_name = {c.name: c.thumbprint for c in h.state.cert_stores["My"]}
    for thumbprint, sddl, kind in (
        (thumb, "O:BAD:(A;;FA;;;SY)", "invalid_request"),  # an owner: not a DACL alone
        (thumb, "(A;;FA;;;SY)", "invalid_request"),
        (by_name["nokey"], grant, "not_found"),
        (by_name["hsm"], grant, "access_denied"),
    ):
        _outcome, out = run(h, [{"op": "cert.key.acl.set", "thumbprint": thumbprint, "sddl": sddl}], "rec-3")
        assert error_kind(out, 0) == kind, (thumbprint, sddl)


# ---- svc.start ---------------------------------------------------------------------------------


def test_svc_start_starts_dependencies_first(host: LabHost) -> None:
    run(host, [{"op": "svc.restart", "name": "MSSQLSERVER"}])
    for name in ("SQLSERVERAGENT", "MSSQLSERVER"):
        host.state.service(name).state = "Stopped"
    _outcome, out = run(host, [{"op": "svc.start", "name": "SQLSERVERAGENT"}])
    assert data(out) == {"started": ["MSSQLSERVER", "SQLSERVERAGENT"], "state": "Running"}
    _outcome, out = run(host, [{"op": "svc.start", "name": "SQLSERVERAGENT"}], "rec-2")
    assert data(out) == {"started": [], "state": "Running"}
    _outcome, out = run(host, [{"op": "svc.start", "name": "NoSuch"}], "rec-3")
    assert error_kind(out, 0) == "not_found"


# ---- TLS suite writes -----------------------------------------------------------------------------


def _local(h: LabHost) -> list[str]:
    return list(schannel.local_suites(h.state) or [])


def test_tls_suite_disable_and_enable_edit_the_local_list(host: LabHost) -> None:
    before = _local(host)
    dhe = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    position = before.index(dhe)
    _outcome, out = run(host, [{"op": "tls.suite.disable", "name": dhe, "expect": {"present": True}}])
    assert data(out) == {"removed": True, "position_before": position}
    assert dhe not in _local(host)
    assert dhe not in [s["name"] for s in data(run(host, [{"op": "tls.suites"}], None)[1])]  # immediate
    _outcome, out = run(host, [{"op": "tls.suite.disable", "name": dhe}], "rec-2")
    assert data(out) == {"removed": False, "position_before": None}
    _outcome, out = run(
        host, [{"op": "tls.suite.disable", "name": dhe, "expect": {"present": True}}], "rec-3"
    )
    assert error_kind(out, 0) == "conflict"
    _outcome, out = run(
        host, [{"op": "tls.suite.enable", "name": dhe, "position": 1, "expect": None}], "rec-4"
    )
    assert data(out) == {"position": 1} and _local(host)[1] == dhe
    _outcome, out = run(host, [{"op": "tls.suite.enable", "name": dhe, "expect": None}], "rec-5")
    assert error_kind(out, 0) == "conflict"
    # Without a precondition, a listed suite moves (BCryptAddContextFunction); default: the bottom.
    _outcome, out = run(host, [{"op": "tls.suite.enable", "name": dhe}], "rec-6")
    assert data(out) == {"position": len(before) - 1} and _local(host)[-1] == dhe
    _outcome, out = run(host, [{"op": "tls.suite.enable", "name": "TLS_X", "position": 999}], "rec-7")
    assert _local(host)[-1] == "TLS_X" and data(out)["position"] == len(before)
    _outcome, out = run(host, [{"op": "tls.suite.disable", "name": "TLS_A'; x"}], "rec-8")
    assert error_kind(out, 0) == "invalid_request"


def test_tls_suite_ops_start_from_the_os_default_without_a_local_list(tmp_path, keys) -> None:
    h = make_host(base_profile(cipher_suites={"local": "absent"}), tmp_path, keys)
    default = schannel.default_suites(h.state.os.build)
    _outcome, out = run(h, [{"op": "tls.suite.disable", "name": default[0]}])
    assert data(out) == {"removed": True, "position_before": 0}
    assert _local(h) == default[1:]


def test_tls_suite_writes_are_unsupported_before_2016(tmp_path, keys) -> None:
    h = make_host(base_profile(os={"build": 9600, "ubr": 21620}), tmp_path, keys)
    _outcome, out = run(h, [{"op": "tls.suite.enable", "name": "TLS_RSA_WITH_AES_128_CBC_SHA"}])
    assert error_kind(out, 0) == "unsupported"


# ---- os.info and os.reboot -------------------------------------------------------------------------


def test_os_info_reports_the_host_clock(tmp_path, keys) -> None:
    h = make_host(base_profile(utc_offset_minutes=120, time_zone="FLE Standard Time"), tmp_path, keys)
    info = data(run(h, [{"op": "os.info"}], None)[1])
    assert info["local_time"] == "2026-06-01T14:00:00+02:00"
    assert (info["utc_offset_minutes"], info["time_zone"]) == (120, "FLE Standard Time")
    info = data(run(make_host(base_profile(name="t2"), tmp_path, keys), [{"op": "os.info"}], None)[1])
    assert (info["local_time"], info["utc_offset_minutes"], info["time_zone"]) == (
        "2026-06-01T12:00:00+00:00",
        0,
        "UTC",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": 'say "hi"'}, "reason"),
        ({"reason": "it's"}, "reason"),
        ({"reason": "back\\slash"}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": "caf\u00e9"}, "reason"),
        ({"reason": "ok", "delay_s": 601}, "delay_s"),
        ({"reason": "ok", "delay_s": -1}, "delay_s"),
    ],
)
def test_os_reboot_validates_its_fields(host: LabHost, fields: dict, message: str) -> None:
    outcome, out = run(host, [{"op": "os.reboot", **fields}])
    assert error_kind(out, 0) == "invalid_request" and message in out["results"][0]["error"]["message"]
    assert outcome.reboot_after_s is None


_RECORDS = itertools.count(1)


def _run_over_wsman(endpoint: WsmanEndpoint, ops: list[dict]) -> dict:
    # Every batch starts its own journal record.
    request = client.build_request(ops, {"id": f"reboot-{next(_RECORDS)}", "line": "{}"})
    command_line, stdin = client.build_command(request, script=b"# agent\n")
    shell = create(endpoint)
    cid = command(endpoint, shell, command_line)
    send(endpoint, shell, cid, stdin, end=True)
    while True:
        reply = receive(endpoint, shell, cid)
        if reply.status == 200:
            stdout, _stderr, _rc = streams(reply.body)
            return json.loads(stdout)


def _wait(condition) -> None:
    assert wait_until(condition, 10.0), "timed out"


def test_os_reboot_takes_the_host_away_then_boots_it(tmp_path, keys) -> None:
    clock = [NOW]
    profile = parse_profile(base_profile(), "inline", digest="inline")
    h = Host(profile, tmp_path / "hosts" / "t1.json", keys, NOW, clock=lambda: clock[0])
    endpoint = WsmanEndpoint(h, Knobs(reboot_down_s=2.0))
    address = f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    tds = start_tds_listeners(h, address, poll_interval_s=0.1)
    try:
        assert [e.instance for e in tds.endpoints] == ["MSSQLSERVER"]
        tls11 = f"{schannel.SCHANNEL}\\Protocols\\TLS 1.1\\Server"
        ops = [
            {"op": "reg.write", "path": tls11, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 0}},
            {"op": "os.reboot", "reason": "mssql.tls: apply Schannel settings", "delay_s": 0},
        ]
        reply = _run_over_wsman(endpoint, ops)
        assert reply["results"][1] == {
            "ok": True,
            "data": {
                "previous_boot_utc": h.state.boot.boot_utc,
                "scheduled_utc": "2026-06-01T12:00:00Z",
                "delay_s": 0,
            },
        }
        before = h.state.boot.boot_utc
        assert schannel.effective_server_protocols(h.state)["TLS 1.1"] is True  # not before the reboot
        clock[0] = NOW + dt.timedelta(minutes=5)
        _wait(lambda: endpoint.is_down)
        assert endpoint.handle(b"<anything/>").drop  # a restarting host resets every connection
        _wait(lambda: not tds.endpoints)  # SQL Server is down with the host
        assert endpoint.wait_rebooted(10)
        assert not endpoint.is_down and endpoint.stats()["reboots"] == 1
        assert h.state.boot.boot_utc == "2026-06-01T12:05:00Z" != before
        assert schannel.effective_server_protocols(h.state)["TLS 1.1"] is False  # the new boot snapshot
        _wait(lambda: [e.instance for e in tds.endpoints] == ["MSSQLSERVER"])
        info = _run_over_wsman(endpoint, [{"op": "os.info"}])["results"][0]["data"]
        assert info["last_boot_utc"] == "2026-06-01T12:05:00Z"
    finally:
        tds.stop()


def test_journal_read_reports_creation_times(tmp_path, keys) -> None:
    clock = [NOW]
    profile = parse_profile(base_profile(), "inline", digest="inline")
    h = Host(profile, tmp_path / "hosts" / "t1.json", keys, NOW, clock=lambda: clock[0])
    run(h, [{"op": "journal.append", "id": "a", "line": "{}"}], None)
    clock[0] = NOW + dt.timedelta(hours=1)
    run(
        h,
        [
            {"op": "journal.append", "id": "b", "line": "{}"},
            {"op": "journal.append", "id": "a", "line": "{}"},
        ],
        None,
    )
    records = data(run(h, [{"op": "journal.read"}], None)[1])["records"]
    assert [(r["id"], r["created_utc"]) for r in records] == [
        ("a", "2026-06-01T12:00:00Z"),
        ("b", "2026-06-01T13:00:00Z"),
    ]
