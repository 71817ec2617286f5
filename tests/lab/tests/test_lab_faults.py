"""The fault knobs of issue 12: a fault aimed at one write batch, a journal the disk refuses, a host
that restarts in the middle of a batch, a reply that comes after the client's timeout.

Each fault fires once and is cleared; the host behaves as Windows would (the agent's answer to a
FileStream write that throws, docs/agent-protocol.md "Request"); the collection is not consulted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import winrm
from labtest import NOW, LabHost, base_profile, client, data, error_kind, make_host, run
from test_wsman import command, create, receive, send, streams
from winlab import executor, schannel
from winlab.process import wait_until
from winlab.profiles import parse_profile
from winlab.runtime import Knobs
from winlab.server import Credentials, HostAddress, WinRMListener, updated_knobs
from winlab.testing import free_port, random_subnet
from winlab.wsman import WsmanEndpoint

LAB_KEY = "HKLM\\SOFTWARE\\Lab"
JOURNAL_DIR = "C:\\ProgramData\\mssql.tls\\journal"
TLS11 = f"{schannel.SCHANNEL}\\Protocols\\TLS 1.1\\Server"
_RECORDS = itertools.count(1)


def writes(count: int) -> list[dict]:
    return [
        {"op": "reg.write", "path": LAB_KEY, "name": str(i), "type": "REG_DWORD", "value": {"data": i}}
        for i in range(count)
    ]


def lab_values(h: LabHost) -> set[str]:
    key = h.state.registry["HKLM"].subkey("SOFTWARE").subkey("Lab")
    return set() if key is None else set(key.values)


def record_text(h: LabHost, record: str) -> str | None:
    entry = h.state.file(f"{JOURNAL_DIR}\\{record}.jsonl")
    return None if entry is None else entry.text


def over_wsman(endpoint: WsmanEndpoint, ops: list[dict], record: str | None) -> tuple[dict | None, bool]:
    """One batch through the endpoint: (response or None, dropped)."""
    journal = None if record is None else {"id": record, "line": '{"t":"fault"}'}
    request = client.build_request(ops, journal)
    command_line, stdin = client.build_command(request, script=b"# agent\n")
    shell = create(endpoint)
    cid = command(endpoint, shell, command_line)
    send(endpoint, shell, cid, stdin, end=True)
    while True:
        reply = receive(endpoint, shell, cid)
        if reply.drop:
            return None, True
        if reply.status == 200:
            return json.loads(streams(reply.body)[0]), False


# ---- the knobs through the control API ----------------------------------------------------------


def test_the_new_knobs_are_validated_by_field() -> None:
    assert updated_knobs(Knobs(), {"fault_journal_id": ".rollback.", "reboot_on_drop": True}) == Knobs(
        fault_journal_id=".rollback.", reboot_on_drop=True
    )
    assert updated_knobs(Knobs(), {"journal_fail_after_lines": 0, "reply_delay_s": 2.5}) == Knobs(
        journal_fail_after_lines=0, reply_delay_s=2.5
    )
    for name, bad in (
        ("fault_journal_id", ""),
        ("fault_journal_id", 3),
        ("reboot_on_drop", 1),
        ("journal_fail_after_lines", -1),
        ("journal_fail_after_lines", True),
        ("reply_delay_s", -0.5),
        ("reply_delay_s", "2"),
    ):
        with pytest.raises(ValueError, match=f"'{name}'"):
            updated_knobs(Knobs(), {name: bad})


# ---- the journal the disk refuses ---------------------------------------------------------------


def test_a_header_the_disk_refuses_runs_nothing_and_is_cut_off_in_the_file(host: LabHost) -> None:
    outcome, doc = run(host, writes(3), knobs=Knobs(journal_fail_after_lines=0))
    assert doc["journal_error"] == executor.DISK_FULL == "There is not enough space on the disk."
    assert [error_kind(doc, i) for i in range(3)] == ["skipped"] * 3
    assert lab_values(host) == set()
    assert record_text(host, "rec-1") == '{"t":"'  # half the header, no line end
    assert outcome.fired == ("journal_fail_after_lines",)


def test_a_progress_line_the_disk_refuses_stops_the_batch_after_that_write(host: LabHost) -> None:
    outcome, doc = run(host, writes(4), knobs=Knobs(journal_fail_after_lines=2))
    # header and op 0's line fit; op 1 ran but its line was cut off: nothing more runs
    assert doc["journal_error"] == executor.DISK_FULL
    assert [r["ok"] for r in doc["results"]] == [True, True, False, False]
    assert [error_kind(doc, i) for i in (2, 3)] == ["skipped", "skipped"]
    assert lab_values(host) == {"0", "1"}
    lines = record_text(host, "rec-1").split("\r\n")
    assert lines[:2] == ['{"t":"test"}', '{"applied":0,"created_keys":["HKLM\\\\SOFTWARE\\\\Lab"]}']
    assert lines[2] == '{"appl'  # op 1's line cut off; no "done" line: the disk is still full
    assert outcome.fired == ("journal_fail_after_lines",)


def test_a_done_line_the_disk_refuses_keeps_every_write(host: LabHost) -> None:
    _outcome, doc = run(host, writes(2), knobs=Knobs(journal_fail_after_lines=3))
    assert doc["journal_error"] == executor.DISK_FULL and all(r["ok"] for r in doc["results"])
    assert lab_values(host) == {"0", "1"}
    assert record_text(host, "rec-1").split("\r\n")[-1] == '{"done":true,"s'


def test_a_read_batch_does_not_use_up_the_journal_fault(host: LabHost) -> None:
    outcome, doc = run(host, [{"op": "os.info"}], journal_id=None, knobs=Knobs(journal_fail_after_lines=0))
    assert data(doc)["computer_name"] == "T1" and outcome.fired == ()


# ---- one write batch chosen by its journal record id --------------------------------------------


def test_a_fault_waits_for_the_batch_whose_record_id_matches_then_clears(tmp_path, keys) -> None:
    h = make_host(base_profile(), tmp_path, keys)
    endpoint = WsmanEndpoint(h, Knobs(fault_journal_id=".cipher_suites.", drop_after_ops=1))
    reply, dropped = over_wsman(endpoint, [{"op": "os.info"}], None)
    assert not dropped and reply["results"][0]["ok"]  # a read batch: not this one
    reply, dropped = over_wsman(endpoint, writes(2), "20260601T120000Z-aaaaaa.schannel_protocols.1-0001")
    assert not dropped and all(r["ok"] for r in reply["results"])  # another module's batch
    assert endpoint.knobs.drop_after_ops == 1
    reply, dropped = over_wsman(endpoint, writes(3), "20260601T120000Z-aaaaaa.cipher_suites.1-0002")
    assert dropped and reply is None
    assert endpoint.knobs == Knobs()  # the fault fired once and its target is cleared with it
    assert endpoint.stats()["batches"][-1] == ["reg.write"]


def test_a_late_reply_is_held_once_and_the_batch_ran(tmp_path, keys) -> None:
    slept: list[float] = []
    h = make_host(base_profile(), tmp_path, keys)
    endpoint = WsmanEndpoint(h, Knobs(reply_delay_s=7.5), sleep=slept.append)
    reply, dropped = over_wsman(endpoint, writes(2), f"late-{next(_RECORDS)}")
    assert not dropped and all(r["ok"] for r in reply["results"])
    assert slept == [7.5] and endpoint.knobs == Knobs()
    assert lab_values(h) == {"0", "1"}


# ---- a host that restarts in the middle of a batch ----------------------------------------------


def _wait(condition) -> None:
    assert wait_until(condition, 10.0), "timed out"


def later_host(tmp_path, keys) -> LabHost:
    """A host whose clock has moved on since it was built, so that a boot has a new boot time."""
    profile = parse_profile(base_profile(), "inline", digest="inline")
    later = NOW + dt.timedelta(minutes=5)
    return LabHost(profile, tmp_path / "hosts" / "t1.json", keys, NOW, clock=lambda: later)


def test_a_host_that_restarts_mid_batch_keeps_the_ops_that_ran_and_boots_with_them(tmp_path, keys) -> None:
    h = later_host(tmp_path, keys)
    endpoint = WsmanEndpoint(h, Knobs(drop_after_ops=1, reboot_on_drop=True, reboot_down_s=0.2))
    before = h.state.boot.boot_utc
    ops = [
        {"op": "reg.write", "path": TLS11, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 0}},
        *writes(1),
    ]
    reply, dropped = over_wsman(endpoint, ops, f"mid-{next(_RECORDS)}")
    assert dropped and reply is None
    assert endpoint.knobs == replace(Knobs(), reboot_down_s=0.2)  # both fired
    _wait(lambda: endpoint.is_down or endpoint.stats()["reboots"] == 1)
    assert endpoint.wait_rebooted(10) and endpoint.stats()["reboots"] == 1
    assert h.state.boot.boot_utc != before and lab_values(h) == set()  # booted again; op 1 never ran
    assert schannel.effective_server_protocols(h.state)["TLS 1.1"] is False  # op 0 is in the new boot


def test_an_os_reboot_whose_reply_is_lost_still_restarts_the_host(tmp_path, keys) -> None:
    h = later_host(tmp_path, keys)
    before = h.state.boot.boot_utc
    endpoint = WsmanEndpoint(h, Knobs(drop_after_ops=1, reboot_down_s=0.2))
    reboot = {"op": "os.reboot", "reason": "mssql.tls: apply Schannel settings", "delay_s": 0}
    reply, dropped = over_wsman(endpoint, [reboot], f"reboot-{next(_RECORDS)}")
    assert dropped and reply is None
    assert endpoint.wait_rebooted(10)
    _wait(lambda: endpoint.stats()["reboots"] == 1)
    assert endpoint.wait_rebooted(10) and h.state.boot.boot_utc != before


# ---- the late reply over a real socket: pywinrm's read timeout ----------------------------------

CREDENTIALS = Credentials("Administrator", "lab-secret")


@pytest.fixture
def served(tmp_path: Path, keys) -> Iterator[tuple[LabHost, WsmanEndpoint, str]]:
    subnet = random_subnet()
    ip = f"{subnet}.{random.randint(1, 250)}"
    address = HostAddress("t1", ip, free_port(ip))
    h = make_host(base_profile(), tmp_path, keys)
    endpoint = WsmanEndpoint(h, receive_wait_s=0.5)
    listener = WinRMListener(address, endpoint, CREDENTIALS, None)
    listener.start()
    try:
        yield h, endpoint, f"http://{address.address}:{address.port}/wsman"
    finally:
        listener.stop()


def test_a_reply_later_than_the_read_timeout_is_a_read_timeout_and_the_batch_still_ran(served) -> None:
    h, endpoint, url = served
    protocol = winrm.Protocol(
        url,
        transport="basic",
        username=CREDENTIALS.username,
        password=CREDENTIALS.password,
        read_timeout_sec=2,
        operation_timeout_sec=1,
    )
    endpoint.set_knobs(Knobs(reply_delay_s=3.0))
    request = client.build_request(writes(2), {"id": "late-socket", "line": "{}"})
    command_line, stdin = client.build_command(request, script=b"# agent\n")
    shell = protocol.open_shell()
    command_id = protocol.run_command(shell, command_line, console_mode_stdin=False)
    protocol.send_command_input(shell, command_id, stdin, end=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        protocol.get_command_output(shell, command_id)
    assert lab_values(h) == {"0", "1"}
    assert record_text(h, "late-socket").endswith('{"done":true,"stopped_at":null}\r\n')
    assert endpoint.knobs == Knobs()
    # the host answers the next batch at once
    request = client.build_request([{"op": "os.info"}])
    command_line, stdin = client.build_command(request, script=b"# agent\n")
    command_id = protocol.run_command(shell, command_line, console_mode_stdin=False)
    protocol.send_command_input(shell, command_id, stdin, end=True)
    stdout, _stderr, rc = protocol.get_command_output(shell, command_id)
    assert rc == 0 and json.loads(stdout)["results"][0]["ok"]
