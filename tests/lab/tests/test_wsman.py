"""The WS-Management codec and one host's shell/command state machine, without sockets.

Requests are built with pywinrm's own header builder and xmltodict, so they are
byte-for-byte what the client sends (reference/ansible-winrm-wire.md section 4).
"""

from __future__ import annotations

import base64
import threading
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import xmltodict
from winlab.runtime import CommandOutcome, Knobs
from winlab.testing import EchoRuntime
from winlab.wsman import WsmanEndpoint
from winlab.wsman_codec import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    NS_FAULT,
    NS_SOAP,
    BadRequest,
    parse_request,
)
from winrm.protocol import Protocol

SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
_PROTOCOL = Protocol("http://127.0.0.1:1/wsman", transport="basic", username="u", password="p")


def envelope(
    action: str,
    shell_id: str | None = None,
    body: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> tuple[bytes, str]:
    header = _PROTOCOL.build_wsman_header(
        action=action, resource_uri=SHELL_URI, shell_id=shell_id, message_id=message_id
    )
    header["env:Body"] = body or {}
    text = xmltodict.unparse({"env:Envelope": header})
    return text.encode("utf-8"), header["env:Header"]["a:MessageID"]


def create(endpoint: WsmanEndpoint) -> str:
    reply = endpoint.handle(envelope(ACTION_CREATE, body={"rsp:Shell": {"rsp:InputStreams": "stdin"}})[0])
    assert reply.status == 200
    root = ET.fromstring(reply.body)
    return next(n for n in root.iter() if n.get("Name") == "ShellId").text or ""


def command(endpoint: WsmanEndpoint, shell_id: str, line: str, args: str | None = None) -> str:
    cmd: dict[str, Any] = {"rsp:Command": line}
    if args is not None:
        cmd["rsp:Arguments"] = args
    reply = endpoint.handle(envelope(ACTION_COMMAND, shell_id, {"rsp:CommandLine": cmd})[0])
    assert reply.status == 200
    return next(n for n in ET.fromstring(reply.body).iter() if n.tag.endswith("CommandId")).text or ""


def send(endpoint: WsmanEndpoint, shell_id: str, command_id: str, data: bytes, end: bool):
    stream = {"@Name": "stdin", "@CommandId": command_id, "#text": base64.b64encode(data).decode()}
    if end:
        stream["@End"] = "true"
    return endpoint.handle(envelope(ACTION_SEND, shell_id, {"rsp:Send": {"rsp:Stream": stream}})[0])


def receive(endpoint: WsmanEndpoint, shell_id: str, command_id: str):
    body = {"rsp:Receive": {"rsp:DesiredStream": {"@CommandId": command_id, "#text": "stdout stderr"}}}
    return endpoint.handle(envelope(ACTION_RECEIVE, shell_id, body)[0])


def streams(reply_body: bytes) -> tuple[bytes, bytes, int | None]:
    root = ET.fromstring(reply_body)
    out = {"stdout": b"", "stderr": b""}
    for node in root.iter():
        if node.tag.endswith("Stream") and node.text:
            out[node.get("Name", "")] += base64.b64decode(node.text)
    done = [n for n in root.iter() if n.get("State", "").endswith("CommandState/Done")]
    rc = None
    if len(done) == 1:
        rc = int(next(n for n in root.iter() if n.tag.endswith("ExitCode")).text or "")
    return out["stdout"], out["stderr"], rc


def fault_code(reply_body: bytes) -> int:
    node = ET.fromstring(reply_body).find(
        f"{{{NS_SOAP}}}Body/{{{NS_SOAP}}}Fault/{{{NS_SOAP}}}Detail/{{{NS_FAULT}}}WSManFault"
    )
    assert node is not None
    return int(node.get("Code", ""))


class RecordingRuntime(EchoRuntime):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.received: list[tuple[str, bytes]] = []

    def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
        self.received.append((command_line, stdin))
        return CommandOutcome(rc=7, stdout=b"out:" + stdin, stderr=b"err", ops=["os.info"])


# ----------------------------------------------------------------------- codec


def test_parse_request_reads_action_message_id_shell_and_timeout() -> None:
    data, message_id = envelope(ACTION_RECEIVE, shell_id="SHELL-1")
    request = parse_request(data)
    assert (request.action, request.message_id, request.shell_id) == (ACTION_RECEIVE, message_id, "SHELL-1")
    assert request.operation_timeout_s == 20.0


@pytest.mark.parametrize(
    "declaration",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]>',
        b'<!doctype env:Envelope SYSTEM "http://127.0.0.1/x.dtd">',
    ],
)
def test_parse_request_refuses_doctype_and_entities(declaration: bytes) -> None:
    data, _message_id = envelope(ACTION_CREATE)
    head, _sep, rest = data.partition(b"?>")
    with pytest.raises(BadRequest, match="DOCTYPE and ENTITY"):
        parse_request(head + b"?>" + declaration + rest)


def test_parse_request_names_the_missing_field() -> None:
    data, _message_id = envelope(ACTION_CREATE)
    without_action = data.replace(b"a:Action", b"a:NotAction")
    with pytest.raises(BadRequest, match="Header/Action"):
        parse_request(without_action)
    with pytest.raises(BadRequest, match="well-formed XML"):
        parse_request(b"<env:Envelope")


# ------------------------------------------------------------- state machine


def test_command_runs_once_stdin_is_complete_with_arguments_joined() -> None:
    runtime = RecordingRuntime("h")
    endpoint = WsmanEndpoint(runtime, receive_wait_s=5)
    shell = create(endpoint)
    cid = command(endpoint, shell, "PowerShell", "-NoProfile -EncodedCommand QQA=")
    assert send(endpoint, shell, cid, b"first ", end=False).status == 200
    assert runtime.received == []  # stdin not complete: nothing ran
    assert send(endpoint, shell, cid, b"second", end=True).status == 200
    reply = receive(endpoint, shell, cid)
    assert reply.status == 200
    assert streams(reply.body) == (b"out:first second", b"err", 7)
    assert runtime.received == [("PowerShell -NoProfile -EncodedCommand QQA=", b"first second")]


def test_command_without_stdin_runs_at_first_receive() -> None:
    runtime = RecordingRuntime("h")
    endpoint = WsmanEndpoint(runtime)
    shell = create(endpoint)
    cid = command(endpoint, shell, "powershell -encodedcommand QQA=")
    assert runtime.received == []
    assert streams(receive(endpoint, shell, cid).body) == (b"out:", b"err", 7)
    assert runtime.received == [("powershell -encodedcommand QQA=", b"")]


def test_receive_before_stdin_ends_is_the_no_output_yet_fault_with_status_500() -> None:
    endpoint = WsmanEndpoint(RecordingRuntime("h"), receive_wait_s=0.05)
    shell = create(endpoint)
    cid = command(endpoint, shell, "x")
    send(endpoint, shell, cid, b"partial", end=False)
    reply = receive(endpoint, shell, cid)
    assert reply.status == 500
    assert fault_code(reply.body) == 2150858793
    assert endpoint.stats()["receive_polls"] == 1


def test_replies_relate_to_the_request_message_id() -> None:
    endpoint = WsmanEndpoint(RecordingRuntime("h"))
    shell = create(endpoint)
    cid = command(endpoint, shell, "x")
    for action, body in (
        (ACTION_SIGNAL, {"rsp:Signal": {"@CommandId": cid, "rsp:Code": "terminate"}}),
        (ACTION_DELETE, {}),
    ):
        data, message_id = envelope(action, shell, body)
        reply = endpoint.handle(data)
        relates = next(n for n in ET.fromstring(reply.body).iter() if n.tag.endswith("RelatesTo")).text
        assert (reply.status, relates) == (200, message_id)


def test_a_deleted_or_unknown_shell_is_a_fault_with_a_non_2xx_status() -> None:
    endpoint = WsmanEndpoint(RecordingRuntime("h"))
    shell = create(endpoint)
    endpoint.handle(envelope(ACTION_DELETE, shell)[0])
    reply = endpoint.handle(envelope(ACTION_COMMAND, shell, {"rsp:CommandLine": {"rsp:Command": "x"}})[0])
    assert reply.status == 500
    assert fault_code(reply.body) == 2150858843


def test_bad_request_is_a_400_fault_naming_the_field() -> None:
    endpoint = WsmanEndpoint(RecordingRuntime("h"))
    shell = create(endpoint)
    reply = endpoint.handle(envelope(ACTION_COMMAND, shell, {"rsp:CommandLine": {}})[0])
    assert reply.status == 400
    assert b"CommandLine/Command" in reply.body


def test_counters_count_shells_commands_and_agent_batches() -> None:
    endpoint = WsmanEndpoint(RecordingRuntime("h"))
    shell = create(endpoint)
    for _attempt in range(2):
        cid = command(endpoint, shell, "x")
        receive(endpoint, shell, cid)
    stats = endpoint.stats(reset=True)
    assert (stats["shells"], stats["commands"], stats["batches"]) == (1, 2, [["os.info"], ["os.info"]])
    assert endpoint.stats()["commands"] == 0


def test_latency_is_spent_once_per_command_whatever_the_number_of_requests() -> None:
    slept: list[float] = []
    endpoint = WsmanEndpoint(RecordingRuntime("h"), Knobs(latency_ms=250), sleep=slept.append)
    shell = create(endpoint)
    cid = command(endpoint, shell, "x")
    for chunk in range(3):
        send(endpoint, shell, cid, b"c", end=chunk == 2)
    receive(endpoint, shell, cid)
    receive(endpoint, shell, cid)
    assert slept == [0.25]


def test_drop_fires_once_and_clears_the_knob() -> None:
    endpoint = WsmanEndpoint(EchoRuntime("h"), Knobs(drop_after_ops=1))
    shell = create(endpoint)
    cid = command(endpoint, shell, "x")
    send(endpoint, shell, cid, b'{"v": 1, "ops": [{"op": "os.info"}, {"op": "reg.read"}]}\n', end=True)
    assert receive(endpoint, shell, cid).drop
    assert endpoint.knobs == Knobs(drop_after_ops=None)
    assert endpoint.stats()["drops"] == 1
    assert endpoint.stats()["batches"] == [["os.info"]]
    again = command(endpoint, shell, "x")
    assert receive(endpoint, shell, again).status == 200


def test_a_failing_runtime_becomes_a_fault_not_a_hang() -> None:
    class Broken(EchoRuntime):
        def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
            raise KeyError("registry path")

    endpoint = WsmanEndpoint(Broken("h"))
    shell = create(endpoint)
    reply = receive(endpoint, shell, command(endpoint, shell, "x"))
    assert reply.status == 500
    assert b"winlab runtime failed: KeyError" in reply.body


def test_reboot_ends_every_shell_and_reaches_the_runtime() -> None:
    runtime = EchoRuntime("h")
    endpoint = WsmanEndpoint(runtime)
    shell = create(endpoint)
    endpoint.reboot()
    assert runtime.boots == 2
    reply = endpoint.handle(envelope(ACTION_COMMAND, shell, {"rsp:CommandLine": {"rsp:Command": "x"}})[0])
    assert fault_code(reply.body) == 2150858843


def test_runtime_calls_are_serialised_per_host() -> None:
    inside = threading.Semaphore(1)
    overlaps: list[bool] = []

    class Exclusive(EchoRuntime):
        def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
            overlaps.append(not inside.acquire(blocking=False))
            threading.Event().wait(0.02)
            inside.release()
            return super().run_command(command_line, stdin, knobs)

    endpoint = WsmanEndpoint(Exclusive("h"))
    shell = create(endpoint)
    ids = [command(endpoint, shell, "x") for _index in range(4)]
    threads = [threading.Thread(target=receive, args=(endpoint, shell, cid)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [False] * 4
