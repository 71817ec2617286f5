"""One host's WinRM endpoint over real HTTP, driven by pywinrm 0.5.0 and by ansible-core's winrm plugin.

The host behind the endpoint is an EchoRuntime: these tests are about the
transport (reference/ansible-winrm-wire.md section 4), not the host model.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import requests
import winrm
from winlab.inventory import LabHost, Manifest, write_inventory
from winlab.runtime import Knobs
from winlab.server import (
    Credentials,
    HostAddress,
    WinRMListener,
    self_signed_certificate,
    tls_context,
    updated_knobs,
)
from winlab.testing import EchoRuntime, free_port, random_subnet
from winlab.wsman import WsmanEndpoint
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

CREDENTIALS = Credentials("Administrator", "lab-secret")
ANSIBLE = Path(sys.executable).with_name("ansible")


@dataclass
class Served:
    runtime: EchoRuntime
    endpoint: WsmanEndpoint
    address: HostAddress

    @property
    def url(self) -> str:
        return f"{self.address.scheme}://{self.address.address}:{self.address.port}/wsman"

    def session(self, password: str = CREDENTIALS.password, **kwargs: object) -> winrm.Session:
        return winrm.Session(self.url, auth=(CREDENTIALS.username, password), transport="basic", **kwargs)

    def protocol(self) -> winrm.Protocol:
        return winrm.Protocol(
            self.url, transport="basic", username=CREDENTIALS.username, password=CREDENTIALS.password
        )

    def http(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.address.address, self.address.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def _serve(tmp_path: Path, https: bool = False, receive_wait_s: float = 5.0) -> Iterator[Served]:
    subnet = random_subnet()
    address = HostAddress("sql01", f"{subnet}.1", free_port(f"{subnet}.1"), "https" if https else "http")
    tls = None
    if https:
        cert, key = self_signed_certificate([address.address])
        (tmp_path / "cert.pem").write_bytes(cert)
        (tmp_path / "key.pem").write_bytes(key)
        tls = tls_context(tmp_path / "cert.pem", tmp_path / "key.pem")
    runtime = EchoRuntime("sql01")
    endpoint = WsmanEndpoint(runtime, receive_wait_s=receive_wait_s)
    listener = WinRMListener(address, endpoint, CREDENTIALS, tls)
    listener.start()
    try:
        yield Served(runtime, endpoint, address)
    finally:
        listener.stop()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(tmp_path, receive_wait_s=0.1)


# -------------------------------------------------------------------- pywinrm


def test_run_ps_returns_stdout_stderr_and_exit_code(host: Served) -> None:
    result = host.session().run_ps("Write-Output 'héllo'\nWrite-Error 'bad thing'\nexit 4")
    assert json.loads(result.std_out)["script"] == "Write-Output 'héllo'\nWrite-Error 'bad thing'\nexit 4"
    assert result.std_err == b"bad thing"
    assert result.status_code == 4


def test_one_run_is_exactly_one_command_and_one_shell(host: Served) -> None:
    host.session().run_ps("Get-Date")
    stats = host.endpoint.stats()
    assert (stats["commands"], stats["shells"], stats["faults"]) == (1, 1, 0)
    assert stats["bytes_in"] > 0 and stats["bytes_out"] > 0


def test_stdin_in_ansible_sized_chunks_reaches_the_runtime_whole(host: Served) -> None:
    protocol = host.protocol()
    request = b'{"v":1,"ops":[{"op":"os.info"},{"op":"reg.read","path":"HKLM\\\\SOFTWARE"}]}'
    stdin = base64.b64encode(os.urandom(300_000)) + b"\n" + request + b"\n"
    shell = protocol.open_shell(codepage=65001)
    command = protocol.run_command(
        shell, "PowerShell", ["-NoProfile", "-EncodedCommand", "QQA="], console_mode_stdin=False
    )
    chunks = [stdin[i : i + 200_000] for i in range(0, len(stdin), 200_000)]
    for index, chunk in enumerate(chunks):
        protocol.send_command_input(shell, command, chunk, end=index == len(chunks) - 1)
    stdout, _stderr, rc = protocol.get_command_output(shell, command)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert rc == 0
    assert json.loads(stdout)["stdin"].encode() == stdin
    assert host.endpoint.stats()["batches"] == [["os.info", "reg.read"]]


def test_bad_credentials_are_rejected_with_401(host: Served) -> None:
    with pytest.raises(InvalidCredentialsError):
        host.session(password="wrong").run_ps("Get-Date")
    status, _body = host.http("POST", "/wsman", b"<x/>", {"Content-Type": "application/soap+xml"})
    assert status == 401
    assert host.endpoint.stats()["commands"] == 0


def test_latency_knob_makes_the_client_poll_and_wait(host: Served) -> None:
    host.endpoint.set_knobs(Knobs(latency_ms=600))
    started = time.monotonic()
    host.session().run_ps("Get-Date")
    elapsed = time.monotonic() - started
    assert elapsed >= 0.6
    assert host.endpoint.stats()["receive_polls"] >= 3  # 100 ms Receive waits while the command "starts"


def test_receive_while_running_raises_the_operation_timeout_pywinrm_polls_on(host: Served) -> None:
    host.endpoint.set_knobs(Knobs(latency_ms=2000))
    protocol = host.protocol()
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell -encodedcommand QQA=")
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command)


def test_drop_knob_is_a_connection_error_and_fires_once(host: Served) -> None:
    host.endpoint.set_knobs(Knobs(drop_after_ops=0))
    with pytest.raises(requests.exceptions.ConnectionError, match="Connection reset by peer"):
        host.session().run_ps("Get-Date")
    assert host.endpoint.stats()["drops"] == 1
    assert host.endpoint.knobs.drop_after_ops is None
    assert host.session().run_ps("Get-Date").status_code == 0


def test_faults_carry_a_non_2xx_status_so_pywinrm_sees_them(host: Served) -> None:
    protocol = host.protocol()
    with pytest.raises(WSManFaultError) as caught:
        protocol.run_command("NO-SUCH-SHELL", "cmd")
    assert caught.value.code == 500
    assert caught.value.wsman_fault_code == 2150858843


def test_https_endpoint_serves_pywinrm(tmp_path: Path) -> None:
    for served in _serve(tmp_path, https=True):
        result = served.session(server_cert_validation="ignore").run_ps("Get-Date")
        assert result.status_code == 0
        assert json.loads(result.std_out)["host"] == "sql01"


# --------------------------------------------------------------- HTTP details


def test_request_with_doctype_is_refused_before_parsing(host: Served) -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "x">]><e>&a;</e>'
    status, reply = host.http("POST", "/wsman", body, _auth_headers())
    assert status == 400
    assert b"DOCTYPE and ENTITY" in reply


def test_wrong_content_type_and_path_are_refused(host: Served) -> None:
    assert host.http("POST", "/wsman", b"<x/>", {**_auth_headers(), "Content-Type": "text/plain"})[0] == 415
    assert host.http("POST", "/other", b"", _auth_headers())[0] == 404


def test_wsman_needs_a_content_length_but_control_routes_do_not(host: Served) -> None:
    def raw_status(request_head: str) -> int:
        with socket.create_connection((host.address.address, host.address.port), timeout=10) as sock:
            sock.sendall(request_head.encode() + b"\r\n")
            return int(sock.recv(4096).split(b" ", 2)[1])

    assert raw_status("POST /wsman HTTP/1.1\r\nHost: x\r\n") == 411
    assert raw_status("POST /winlab/reboot HTTP/1.1\r\nHost: x\r\n") == 200
    assert host.runtime.boots == 2


def _auth_headers() -> dict[str, str]:
    token = base64.b64encode(f"{CREDENTIALS.username}:{CREDENTIALS.password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/soap+xml;charset=UTF-8"}


# ----------------------------------------------------------------- control API


def test_control_api_reports_and_resets_counters(host: Served) -> None:
    host.session().run_ps("Get-Date")
    status, body = host.http("POST", "/winlab/stats/reset")
    assert (status, json.loads(body)["commands"]) == (200, 1)
    assert json.loads(host.http("GET", "/winlab/stats")[1])["commands"] == 0


def test_control_api_changes_knobs_and_names_a_bad_field(host: Served) -> None:
    status, body = host.http("POST", "/winlab/knobs", json.dumps({"latency_ms": 50}).encode())
    assert (status, json.loads(body)) == (200, asdict(Knobs(latency_ms=50)))
    assert host.endpoint.knobs.latency_ms == 50
    status, body = host.http("POST", "/winlab/knobs", json.dumps({"latency_ms": -1}).encode())
    assert status == 400 and "latency_ms" in json.loads(body)["error"]
    status, body = host.http("POST", "/winlab/knobs", json.dumps({"latncy_ms": 1}).encode())
    assert status == 400 and "'latncy_ms': unknown" in json.loads(body)["error"]


def test_control_api_reboots_and_shows_state(host: Served) -> None:
    assert json.loads(host.http("POST", "/winlab/reboot")[1]) == {"rebooted": "sql01"}
    assert json.loads(host.http("GET", "/winlab/state")[1])["boots"] == 2
    assert host.http("GET", "/winlab/nothing")[0] == 404


def test_updated_knobs_validates_types() -> None:
    assert updated_knobs(Knobs(), {"drop_after_ops": 2}) == Knobs(drop_after_ops=2)
    with pytest.raises(ValueError, match="'drop_after_ops': expected null or an integer"):
        updated_knobs(Knobs(), {"drop_after_ops": True})
    with pytest.raises(ValueError, match="expected a JSON object"):
        updated_knobs(Knobs(), [1])
    assert updated_knobs(Knobs(), {"reboot_down_s": 0.5}) == Knobs(reboot_down_s=0.5)
    for bad in (-1, True, "3"):
        with pytest.raises(ValueError, match="'reboot_down_s': expected a number of seconds"):
            updated_knobs(Knobs(), {"reboot_down_s": bad})


# ------------------------------------------------------ ansible-core's winrm plugin


def _ansible_raw(inventory: Path, tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")  # none of the repository's settings: the winrm plugin as shipped
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path),
        "ANSIBLE_CONFIG": str(config),
        "NO_PROXY": "127.0.0.0/8",
        "ANSIBLE_NOCOLOR": "1",
    }
    command = [str(ANSIBLE), "-i", str(inventory), "all", "-m", "ansible.builtin.raw", "-a", script]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def _inventory(host: Served, tmp_path: Path, password: str = CREDENTIALS.password) -> Path:
    path = tmp_path / "inventory.yml"
    manifest = Manifest(
        pid=os.getpid(), username=CREDENTIALS.username, hosts=(LabHost(host.address, (), ()),)
    )
    write_inventory(path, manifest, password)
    return path


def test_ansible_raw_over_winrm_runs_one_command(host: Served, tmp_path: Path) -> None:
    proc = _ansible_raw(_inventory(host, tmp_path), tmp_path, "Write-Output 'from-ansible'")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sql01 | CHANGED | rc=0" in proc.stdout
    assert host.runtime.commands == ["Write-Output 'from-ansible'"]
    stats = host.endpoint.stats()
    assert (stats["commands"], stats["shells"]) == (1, 1)


def test_ansible_reports_the_exit_code(host: Served, tmp_path: Path) -> None:
    proc = _ansible_raw(_inventory(host, tmp_path), tmp_path, "exit 3")
    assert proc.returncode != 0
    assert "rc=3" in proc.stdout


def test_ansible_with_a_wrong_password_is_unreachable(host: Served, tmp_path: Path) -> None:
    proc = _ansible_raw(_inventory(host, tmp_path, password="nope"), tmp_path, "Get-Date")
    assert proc.returncode == 4, proc.stdout + proc.stderr  # 4 = host unreachable
    assert "credentials were rejected" in proc.stdout + proc.stderr


def test_ansible_sees_a_dropped_connection_as_a_failure(host: Served, tmp_path: Path) -> None:
    host.endpoint.set_knobs(Knobs(drop_after_ops=0))
    proc = _ansible_raw(_inventory(host, tmp_path), tmp_path, "Get-Date")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Connection reset by peer" in proc.stdout
    assert host.endpoint.stats()["drops"] == 1
