"""WS-Management for one simulated host: the SOAP codec and the shell/command state machine.

Only the subset that pywinrm 0.5.0 and ansible-core's ``winrm`` connection
plugin use (reference/ansible-winrm-wire.md section 4): Create, Command, Send,
Receive, Signal, Delete. No sockets here; server.py moves the bytes.

A command runs when its stdin is complete (``End="true"``) or, when no stdin
was sent, at the first Receive. Receive waits a bounded time for the result and
otherwise answers the "no output yet" fault, so clients poll as they would
against a busy Windows host.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .runtime import CommandOutcome, HostRuntime, Knobs

log = logging.getLogger("winlab.wsman")

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

ACTION_CREATE = NS_TRANSFER + "/Create"
ACTION_DELETE = NS_TRANSFER + "/Delete"
ACTION_COMMAND = NS_SHELL + "/Command"
ACTION_SEND = NS_SHELL + "/Send"
ACTION_RECEIVE = NS_SHELL + "/Receive"
ACTION_SIGNAL = NS_SHELL + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
STATE_DONE = NS_SHELL + "/CommandState/Done"
_SHELL_ACTIONS = frozenset(
    {ACTION_CREATE, ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL}
)

# WinRM answers requests larger than its MaxEnvelopeSize with a fault; ansible
# sends stdin in 200000-byte chunks (about 270 KB once base64-encoded), so the
# bound only has to stop absurd bodies.
MAX_REQUEST_BYTES = 4 * 1024 * 1024

_DOCTYPE_OR_ENTITY = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DURATION_SECONDS = re.compile(r"^PT(\d+(?:\.\d+)?)S$")


class BadRequest(ValueError):
    """The request is not a WS-Management message this endpoint understands."""


@dataclass(frozen=True)
class Fault:
    """A WS-Management fault; always sent with a non-2xx status (reference section 4.1)."""

    status: int
    wsman_code: int
    subcode: str
    reason: str


# 2150858793 (0x80338029) is the code pywinrm maps to WinRMOperationTimeoutError
# and ansible's Receive loop treats as "poll again" (reference section 4.3).
def operation_timeout_fault() -> Fault:
    return Fault(
        500,
        2150858793,
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in "
        "OperationTimeout.",
    )


# 2150858843 (0x8033805B) is Windows' "shell was not found" code (inference:
# not in reference/, taken from Windows' error text for a stale ShellId).
def shell_not_found_fault(shell_id: str | None) -> Fault:
    return Fault(
        500,
        2150858843,
        "w:InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
        "was not found on the server.",
    )


def invalid_request_fault(message: str) -> Fault:
    return Fault(400, 2150858817, "w:SchemaValidationError", f"winlab rejected the request: {message}")


def unsupported_action_fault(action: str) -> Fault:
    return Fault(500, 2150858817, "a:ActionNotSupported", f"winlab does not implement the action {action}")


def lab_error_fault(message: str) -> Fault:
    return Fault(500, 2147500037, "w:InternalError", f"winlab runtime failed: {message}")


# --------------------------------------------------------------------- codec


@dataclass(frozen=True)
class Request:
    action: str
    message_id: str
    shell_id: str | None
    operation_timeout_s: float | None
    body: ET.Element


def parse_request(data: bytes) -> Request:
    """Parse a SOAP envelope; DOCTYPE and entity declarations are refused outright."""
    if len(data) > MAX_REQUEST_BYTES:
        raise BadRequest(f"request body: expected at most {MAX_REQUEST_BYTES} bytes, got {len(data)}")
    if _DOCTYPE_OR_ENTITY.search(data):
        raise BadRequest("request body: DOCTYPE and ENTITY declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise BadRequest(f"request body: expected well-formed XML ({exc})") from None
    if root.tag != f"{{{NS_SOAP}}}Envelope":
        raise BadRequest(f"request body: expected a SOAP 1.2 Envelope, got {root.tag}")
    header = _required(root, f"{{{NS_SOAP}}}Header", "Envelope/Header")
    body = _required(root, f"{{{NS_SOAP}}}Body", "Envelope/Body")
    action = _required_text(header, f"{{{NS_ADDRESSING}}}Action", "Header/Action")
    message_id = _required_text(header, f"{{{NS_ADDRESSING}}}MessageID", "Header/MessageID")
    shell_id = None
    for selector in header.iter(f"{{{NS_WSMAN}}}Selector"):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    timeout_text = header.findtext(f"{{{NS_WSMAN}}}OperationTimeout")
    return Request(
        action=action,
        message_id=message_id,
        shell_id=shell_id,
        operation_timeout_s=_parse_duration(timeout_text),
        body=body,
    )


def command_line_of(body: ET.Element) -> str:
    """rsp:Command plus rsp:Arguments joined by single spaces (how pywinrm sends them)."""
    line = _required(body, f"{{{NS_SHELL}}}CommandLine", "Body/CommandLine")
    command = _required_text(line, f"{{{NS_SHELL}}}Command", "CommandLine/Command")
    arguments = [(a.text or "") for a in line.findall(f"{{{NS_SHELL}}}Arguments")]
    return " ".join([command, *arguments])


def send_stream_of(body: ET.Element) -> tuple[str, bytes, bool]:
    """(command id, decoded stdin chunk, End flag) of a Send."""
    send = _required(body, f"{{{NS_SHELL}}}Send", "Body/Send")
    stream = _required(send, f"{{{NS_SHELL}}}Stream", "Send/Stream")
    if stream.get("Name") != "stdin":
        raise BadRequest(f"Send/Stream@Name: expected 'stdin', got {stream.get('Name')!r}")
    command_id = _required_attr(stream, "CommandId", "Send/Stream@CommandId")
    try:
        chunk = base64.b64decode((stream.text or "").strip(), validate=True)
    except binascii.Error:
        raise BadRequest("Send/Stream: expected base64 text") from None
    return command_id, chunk, stream.get("End", "false").lower() == "true"


def receive_command_id_of(body: ET.Element) -> str:
    receive = _required(body, f"{{{NS_SHELL}}}Receive", "Body/Receive")
    desired = _required(receive, f"{{{NS_SHELL}}}DesiredStream", "Receive/DesiredStream")
    return _required_attr(desired, "CommandId", "Receive/DesiredStream@CommandId")


def signal_command_id_of(body: ET.Element) -> str:
    signal = _required(body, f"{{{NS_SHELL}}}Signal", "Body/Signal")
    return _required_attr(signal, "CommandId", "Signal@CommandId")


def _required(parent: ET.Element, tag: str, where: str) -> ET.Element:
    found = parent.find(tag)
    if found is None:
        raise BadRequest(f"{where}: expected the element, found none")
    return found


def _required_text(parent: ET.Element, tag: str, where: str) -> str:
    text = (_required(parent, tag, where).text or "").strip()
    if not text:
        raise BadRequest(f"{where}: expected text, found an empty element")
    return text


def _required_attr(element: ET.Element, name: str, where: str) -> str:
    value = element.get(name)
    if not value:
        raise BadRequest(f"{where}: expected the attribute, found none")
    return value


def _parse_duration(text: str | None) -> float | None:
    match = _DURATION_SECONDS.match((text or "").strip())
    return float(match.group(1)) if match else None


_ENVELOPE = (
    '<s:Envelope xmlns:s="' + NS_SOAP + '" xmlns:a="' + NS_ADDRESSING + '" xmlns:w="' + NS_WSMAN + '"'
    ' xmlns:rsp="' + NS_SHELL + '" xmlns:x="' + NS_TRANSFER + '" xmlns:f="' + NS_FAULT + '">'
    "<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{message_id}</a:MessageID>"
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
    "<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
)


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return _ENVELOPE.format(
        action=escape(action), message_id=uuid.uuid4(), relates_to=escape(relates_to), body=body
    ).encode("utf-8")


def create_reply(request: Request, shell_id: str) -> bytes:
    # pywinrm finds the shell id as "any element with Name=ShellId" (reference section 4.3).
    body = (
        "<x:ResourceCreated><a:Address>http://windows-host:5985/wsman</a:Address><a:ReferenceParameters>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId>"
        "</rsp:Shell>"
    )
    return _envelope(request.action + "Response", request.message_id, body)


def command_reply(request: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(request.action + "Response", request.message_id, body)


def receive_reply(request: Request, command_id: str, stdout: bytes, stderr: bytes, rc: int) -> bytes:
    cid = quoteattr(command_id)
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}>{encoded}</rsp:Stream>')
        parts.append(f'<rsp:Stream Name="{name}" CommandId={cid} End="true"></rsp:Stream>')
    parts.append(
        f'<rsp:CommandState CommandId={cid} State="{STATE_DONE}">'
        f"<rsp:ExitCode>{int(rc)}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>"
    )
    return _envelope(request.action + "Response", request.message_id, "".join(parts))


def empty_reply(request: Request) -> bytes:
    """Send, Signal and Delete: clients need only a 2xx and RelatesTo = their MessageID."""
    body = "<rsp:SendResponse/>" if request.action == ACTION_SEND else ""
    return _envelope(request.action + "Response", request.message_id, body)


def fault_reply(fault: Fault, relates_to: str | None, machine: str) -> bytes:
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault Code="{fault.wsman_code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(ACTION_FAULT, relates_to or "uuid:00000000-0000-0000-0000-000000000000", body)


# ------------------------------------------------------------- state machine


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    # True when the host must close the TCP connection without answering
    # (CommandOutcome.drop_connection).
    drop: bool = False


DROP = Reply(0, b"", drop=True)


@dataclass
class HostStats:
    commands: int = 0  # Command actions received: one per agent batch or raw command
    shells: int = 0  # Create actions
    bytes_in: int = 0  # WS-Management request bodies
    bytes_out: int = 0  # WS-Management reply bodies
    receive_polls: int = 0  # "no output yet" faults answered
    drops: int = 0  # connections closed without a reply
    faults: int = 0  # every other fault
    batches: list[list[str]] = field(default_factory=list)  # CommandOutcome.ops of agent batches

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Command:
    command_id: str
    command_line: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_seen: bool = False
    stdin_closed: bool = False
    started: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    outcome: CommandOutcome | None = None
    error: str | None = None


class WsmanEndpoint:
    """One host's WinRM service: shells, commands, knobs and counters.

    Runtime calls (commands, reboot, snapshot) are serialised per host because
    HostRuntime makes no thread-safety promise; the configured latency is spent
    outside that lock, so it models time on the wire and in PowerShell start-up.
    """

    def __init__(
        self,
        runtime: HostRuntime,
        knobs: Knobs | None = None,
        receive_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runtime = runtime
        self.receive_wait_s = receive_wait_s
        self._sleep = sleep
        self._knobs = replace(knobs) if knobs is not None else Knobs()
        self._stats = HostStats()
        self._shells: dict[str, dict[str, _Command]] = {}
        self._lock = threading.Lock()
        self._runtime_lock = threading.Lock()

    # -- control surface

    @property
    def knobs(self) -> Knobs:
        with self._lock:
            return replace(self._knobs)

    def set_knobs(self, knobs: Knobs) -> None:
        with self._lock:
            self._knobs = replace(knobs)

    def stats(self, reset: bool = False) -> dict[str, Any]:
        with self._lock:
            current = self._stats.as_json()
            if reset:
                self._stats = HostStats()
            return current

    def count_bytes(self, received: int, sent: int) -> None:
        with self._lock:
            self._stats.bytes_in += received
            self._stats.bytes_out += sent

    def reboot(self) -> None:
        # A reboot ends every WinRM shell on the host.
        with self._lock:
            self._shells.clear()
        with self._runtime_lock:
            self.runtime.reboot()

    def snapshot(self) -> dict[str, Any]:
        with self._runtime_lock:
            return self.runtime.snapshot()

    # -- WS-Management

    def handle(self, data: bytes) -> Reply:
        """One request body in, one Reply (or DROP) out."""
        try:
            request = parse_request(data)
        except BadRequest as exc:
            return self._fault(invalid_request_fault(str(exc)), None)
        try:
            return self._dispatch(request)
        except BadRequest as exc:
            return self._fault(invalid_request_fault(str(exc)), request.message_id)

    def _dispatch(self, request: Request) -> Reply:
        if request.action not in _SHELL_ACTIONS:
            return self._fault(unsupported_action_fault(request.action), request.message_id)
        if request.action == ACTION_CREATE:
            return self._create(request)
        with self._lock:
            commands = self._shells.get(request.shell_id or "")
        if commands is None:
            return self._fault(shell_not_found_fault(request.shell_id), request.message_id)
        if request.action == ACTION_DELETE:
            with self._lock:
                self._shells.pop(request.shell_id or "", None)
            return Reply(200, empty_reply(request))
        if request.action == ACTION_COMMAND:
            return self._command(request, commands)
        if request.action == ACTION_SEND:
            return self._send(request, commands)
        if request.action == ACTION_RECEIVE:
            return self._receive(request, commands)
        # ACTION_SIGNAL: terminate is the only signal clients send; it ends the command.
        with self._lock:
            commands.pop(signal_command_id_of(request.body), None)
        return Reply(200, empty_reply(request))

    def _create(self, request: Request) -> Reply:
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = {}
            self._stats.shells += 1
        return Reply(200, create_reply(request, shell_id))

    def _command(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command = _Command(command_id=str(uuid.uuid4()).upper(), command_line=command_line_of(request.body))
        with self._lock:
            commands[command.command_id] = command
            self._stats.commands += 1
        return Reply(200, command_reply(request, command.command_id))

    def _send(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command_id, chunk, end = send_stream_of(request.body)
        with self._lock:
            command = commands.get(command_id)
            if command is None:
                raise BadRequest(f"Send/Stream@CommandId: no command {command_id} in this shell")
            if command.stdin_closed:
                raise BadRequest(f"Send: stdin of command {command_id} is already closed")
            command.stdin.extend(chunk)
            command.stdin_seen = True
            command.stdin_closed = end
        if end:
            self._start(command)
        return Reply(200, empty_reply(request))

    def _receive(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command_id = receive_command_id_of(request.body)
        with self._lock:
            command = commands.get(command_id)
            if command is None:
                raise BadRequest(f"Receive/DesiredStream@CommandId: no command {command_id} in this shell")
            start_without_stdin = not command.stdin_seen
            if start_without_stdin:
                command.stdin_closed = True
        if start_without_stdin:
            self._start(command)
        wait = self.receive_wait_s
        if request.operation_timeout_s is not None:
            wait = min(wait, request.operation_timeout_s)
        if not command.finished.wait(wait):
            with self._lock:
                self._stats.receive_polls += 1
            return self._fault(operation_timeout_fault(), request.message_id, count=False)
        outcome = command.outcome
        if outcome is None:
            return self._fault(lab_error_fault(command.error or "no outcome"), request.message_id)
        if outcome.drop_connection:
            with self._lock:
                self._stats.drops += 1
            return DROP
        return Reply(200, receive_reply(request, command_id, outcome.stdout, outcome.stderr, outcome.rc))

    def _start(self, command: _Command) -> None:
        with self._lock:
            if command.started:
                return
            command.started = True
        threading.Thread(
            target=self._execute,
            args=(command,),
            daemon=True,
            name=f"winlab-{self.runtime.name}-{command.command_id[:8]}",
        ).start()

    def _execute(self, command: _Command) -> None:
        knobs = self.knobs
        if knobs.latency_ms > 0:
            self._sleep(knobs.latency_ms / 1000)
        try:
            with self._runtime_lock:
                outcome = self.runtime.run_command(command.command_line, bytes(command.stdin), knobs)
        except Exception as exc:  # a lab bug: surfaced to the client as a fault, logged in full here
            log.exception("runtime of %s failed on a command", self.runtime.name)
            command.error = f"{type(exc).__name__}: {exc}"
        else:
            command.outcome = outcome
            with self._lock:
                if outcome.ops:
                    self._stats.batches.append(list(outcome.ops))
                # The drop knob is one-shot: it fired for this batch only.
                if outcome.drop_connection:
                    self._knobs = replace(self._knobs, drop_after_ops=None)
        finally:
            command.finished.set()

    def _fault(self, fault: Fault, relates_to: str | None, count: bool = True) -> Reply:
        if count:
            with self._lock:
                self._stats.faults += 1
        return Reply(fault.status, fault_reply(fault, relates_to, self.runtime.name))
