"""The WS-Management SOAP codec: parse requests, build replies and faults.

Only the subset that pywinrm 0.5.0 and ansible-core's ``winrm`` connection
plugin use (reference/ansible-winrm-wire.md section 4): Create, Command, Send,
Receive, Signal, Delete. Pure functions on bytes and XML elements; the
shell/command state machine is wsman.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

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
SHELL_ACTIONS = frozenset(
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


# ----------------------------------------------------------- requests, replies


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
