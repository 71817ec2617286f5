"""Run one WinRM command: imitate the mssql.tls bootstrap, then the agent's batch.

The bootstrap (bootstrap v2, docs/agent-protocol.md "One batch = one command"): stdin line 1
is base64 of the gzip-compressed agent, unpacked in memory the way .NET's GZipStream does
(``unpack_agent``), hashed, and run only when the SHA-256 of the unpacked bytes is the digest
embedded in the bootstrap; line 2 is the request.

Semantics follow docs/agent-protocol.md: per-op results, the lab's own copy of
the op table (OP_FIELDS, written by hand from the doc), a journal line before
any op, `{"applied": i}` after each successful write, `{"done": ...}` at the
end, a failed or conflicting write stops the batch (later ops `skipped`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from typing import Any

from . import journal, op_certs, op_files, op_registry, op_services, op_system
from .commandline import NotPowerShell, decode_script
from .model import HostState
from .opcore import OpContext, OpError
from .runtime import CommandOutcome, Knobs
from .sqlserver import LabClock

BOOTSTRAP_MARKER = "# mssql.tls agent bootstrap v2"
_DIGEST = re.compile(r"\$hash -ne '([0-9a-f]{64})'")

# Field types per op, from the table in docs/agent-protocol.md.
_S, _I, _B, _LS, _LI, _D, _E = "str", "int", "bool", "list[str]", "list[int]", "dict", "expect"
OP_TYPES: dict[str, dict[str, str]] = {
    "reg.read": {"path": _S, "depth": _I, "values": _LS},
    "reg.write": {"path": _S, "name": _S, "type": _S, "value": _D, "expect": _E},
    "reg.remove": {"path": _S, "name": _S, "recurse": _B, "expect": _E},
    "reg.create": {"path": _S, "expect": _E},
    "cert.list": {"store": _S, "thumbprints": _LS, "key_acl": _B},
    "cert.key.acl.set": {"store": _S, "thumbprint": _S, "sddl": _S, "expect": _E},
    "cert.prop.get": {"store": _S, "thumbprint": _S, "prop_id": _I},
    "cert.prop.set": {"store": _S, "thumbprint": _S, "prop_id": _I, "data": _S, "expect": _E},
    "cert.prop.clear": {"store": _S, "thumbprint": _S, "prop_id": _I, "expect": _E},
    "svc.query": {"names": _LS, "prefixes": _LS},
    "svc.restart": {"name": _S, "with_dependents": _B, "timeout_s": _I},
    "svc.start": {"name": _S, "timeout_s": _I},
    "cluster.query": {},
    "cluster.restart": {"resource": _S, "timeout_s": _I},
    "file.version": {"paths": _LS, "path_from": _D},
    "file.tail": {
        "paths": _LS,
        "path_from": _D,
        "suffixes": _LS,
        "max_lines": _I,
        "pattern": _S,
        "patterns": _LS,
    },
    "tls.suites": {},
    "tls.suite.disable": {"name": _S, "expect": _E},
    "tls.suite.enable": {"name": _S, "position": _I, "expect": _E},
    "os.info": {},
    "os.reboot": {"reason": _S, "delay_s": _I},
    "event.count": {"log": _S, "provider": _S, "ids": _LI, "since_hours": _I},
    "journal.append": {"id": _S, "line": _S},
    "journal.read": {"id": _S, "last": _I},
}
OP_FIELDS: dict[str, set[str]] = {name: set(fields) for name, fields in OP_TYPES.items()}
REQUIRED: dict[str, set[str]] = {
    "reg.read": {"path"},
    "reg.write": {"path", "name", "type", "value"},
    "reg.remove": {"path"},
    "reg.create": {"path"},
    "cert.key.acl.set": {"thumbprint", "sddl"},
    "cert.prop.get": {"thumbprint", "prop_id"},
    "cert.prop.set": {"thumbprint", "prop_id", "data"},
    "cert.prop.clear": {"thumbprint", "prop_id"},
    "svc.query": {"names"},
    "svc.restart": {"name"},
    "svc.start": {"name"},
    "cluster.restart": {"resource"},
    "tls.suite.disable": {"name"},
    "tls.suite.enable": {"name"},
    "os.reboot": {"reason"},
    "event.count": {"log", "ids"},
    "journal.append": {"id", "line"},
}
WRITE_OPS = frozenset(
    {
        "reg.write",
        "reg.remove",
        "reg.create",
        "cert.key.acl.set",
        "cert.prop.set",
        "cert.prop.clear",
        "svc.restart",
        "svc.start",
        "cluster.restart",
        "tls.suite.disable",
        "tls.suite.enable",
        "os.reboot",
        "journal.append",
    }
)
_PATH_FROM_FIELDS = {"key", "value_name", "value_regex", "append"}

Handler = Callable[[OpContext, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {
    "reg.read": op_registry.reg_read,
    "reg.write": op_registry.reg_write,
    "reg.remove": op_registry.reg_remove,
    "reg.create": op_registry.reg_create,
    "cert.list": op_certs.cert_list,
    "cert.key.acl.set": op_certs.cert_key_acl_set,
    "cert.prop.get": op_certs.cert_prop_get,
    "cert.prop.set": op_certs.cert_prop_set,
    "cert.prop.clear": op_certs.cert_prop_clear,
    "svc.query": op_services.svc_query,
    "svc.restart": op_services.svc_restart,
    "svc.start": op_services.svc_start,
    "cluster.query": op_services.cluster_query,
    "cluster.restart": op_services.cluster_restart,
    "file.version": op_files.file_version,
    "file.tail": op_files.file_tail,
    "tls.suites": op_system.tls_suites,
    "tls.suite.disable": op_system.tls_suite_disable,
    "tls.suite.enable": op_system.tls_suite_enable,
    "os.info": op_system.os_info,
    "os.reboot": op_system.os_reboot,
    "event.count": op_system.event_count,
    "journal.append": journal.journal_append,
    "journal.read": journal.journal_read,
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == _E:
        return value is None or isinstance(value, dict)
    if isinstance(value, bool):
        return kind == _B
    if kind in (_LS, _LI):
        item = str if kind == _LS else int
        return isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    return isinstance(value, {"str": str, "int": int, "bool": bool, "dict": dict}[kind])


def validate(op: Any) -> dict[str, Any]:
    """Check one op against the lab's table; raises OpError(invalid_request) naming the field."""
    if not isinstance(op, dict):
        raise OpError("invalid_request", "expected each op to be an object")
    name = op.get("op")
    if name not in OP_TYPES:
        raise OpError(
            "invalid_request", f"field 'op': unknown op {name!r}, expected one of {sorted(OP_TYPES)}"
        )
    fields = OP_TYPES[name]
    for key, value in op.items():
        if key == "op":
            continue
        if key not in fields:
            raise OpError(
                "invalid_request", f"op {name!r}: unknown field {key!r}, expected one of {sorted(fields)}"
            )
        if not _type_ok(fields[key], value):
            raise OpError("invalid_request", f"op {name!r} field {key!r}: expected {fields[key]}")
    missing = REQUIRED.get(name, set()) - set(op)
    if missing:
        raise OpError("invalid_request", f"op {name!r}: missing required field(s) {sorted(missing)}")
    spec = op.get("path_from")
    if spec is not None and (
        not set(spec) <= _PATH_FROM_FIELDS
        or not isinstance(spec.get("key"), str)
        or not all(isinstance(v, str) for v in spec.values())
    ):
        raise OpError(
            "invalid_request", f"op {name!r} field 'path_from': expected strings {sorted(_PATH_FROM_FIELDS)}"
        )
    return op


# ---- the batch ---------------------------------------------------------------


def _error(kind: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"kind": kind, "message": message}
    if detail is not None:
        error["detail"] = detail
    return {"ok": False, "error": error}


def progress_line(index: int, data: Any) -> str:
    """{"applied": i} after a write op that succeeded, with the keys it created if any."""
    created = data.get("created_keys") if isinstance(data, dict) else None
    doc: dict[str, Any] = {"applied": index}
    if created:
        doc["created_keys"] = list(created)
    return json.dumps(doc, separators=(",", ":"))


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _fatal(kind: str, message: str) -> CommandOutcome:
    return CommandOutcome(rc=1, stdout=_dump({"v": 1, "fatal": {"kind": kind, "message": message}}))


# What .NET's FileStream.Write throws when the volume is full (Win32 error 112, ERROR_DISK_FULL).
DISK_FULL = "There is not enough space on the disk."


class _Record:
    """The batch's journal record; with Knobs.journal_fail_after_lines the disk refuses it after
    that many lines: the line that fails is cut off mid-way, and every later write fails."""

    def __init__(self, state: HostState, record_id: Any, clock: LabClock, budget: int | None) -> None:
        self.state, self.record_id, self.clock, self.budget = state, record_id, clock, budget
        self.failed = False

    def write(self, line: str, new: bool = False) -> None:
        if self.budget is not None and self.budget <= 0:
            if not self.failed:
                self.failed = True
                journal.append_line(self.state, self.record_id, line, self.clock.now(), new=new, cut=True)
            raise OpError("error", DISK_FULL)
        journal.append_line(self.state, self.record_id, line, self.clock.now(), new=new)
        if self.budget is not None:
            self.budget -= 1


def run_batch(
    state: HostState,
    request: Any,
    clock: LabClock,
    save: Callable[[], None],
    knobs: Knobs | None = None,
) -> CommandOutcome:
    """Execute a parsed request against the host; persists after every write.

    The fault knobs (runtime.Knobs) fire here when they wait for this batch; the outcome names
    the ones that fired (``fired``), which the transport then clears.
    """
    knobs = knobs or Knobs()
    if not isinstance(request, dict) or request.get("v") != 1 or not isinstance(request.get("ops"), list):
        return _fatal("invalid_request", "expected a request object with v=1 and a list of ops")
    ops: list[Any] = request["ops"]
    names = [o.get("op") if isinstance(o, dict) and isinstance(o.get("op"), str) else "?" for o in ops]
    record = request.get("journal")
    needs_journal = any(n in WRITE_OPS and n != "journal.append" for n in names)
    if record is None and needs_journal:
        return _fatal(
            "invalid_request", "field 'journal': a batch with write ops must carry a journal record"
        )
    if record is not None and (not isinstance(record, dict) or not isinstance(record.get("line"), str)):
        return _fatal("invalid_request", "field 'journal': expected {'id': str, 'line': str}")
    armed = knobs.armed_for(None if record is None else record.get("id"))
    drop_after_ops = knobs.drop_after_ops if armed else None
    budget = knobs.journal_fail_after_lines if armed and record is not None else None
    late = knobs.reply_delay_s if armed else 0.0

    def outcome(**fields: Any) -> CommandOutcome:
        dropped = fields.get("drop_connection", False)
        fired = [
            name
            for name, on in (
                ("drop_after_ops", dropped),
                ("journal_fail_after_lines", budget is not None),
                ("reply_delay_s", late > 0 and not dropped),
            )
            if on
        ]
        return CommandOutcome(fired=tuple(fired), reply_delay_s=0.0 if dropped else late, **fields)

    ctx = OpContext(state, clock)
    response: dict[str, Any] = {
        "v": 1,
        # the request's id echoed, as agent.ps1 does (null when it has none)
        "rid": request["rid"] if isinstance(request.get("rid"), str) else None,
        "journal_id": None if record is None else record.get("id"),
        "results": [],
    }
    journal_record = None if record is None else _Record(state, record.get("id"), clock, budget)
    if journal_record is not None:
        try:
            journal_record.write(record["line"], new=True)
        except OpError as exc:
            save()  # a line cut off by a full disk stays in the file
            response["journal_error"] = exc.message
            response["results"] = [_error("skipped", "journal record could not be written") for _op in ops]
            return outcome(rc=0, stdout=_dump(response), ops=names)
        save()
    stopped_at: int | None = None
    for index, op in enumerate(ops):
        if drop_after_ops is not None and index >= drop_after_ops:
            save()
            return outcome(
                rc=0, stdout=b"", drop_connection=True, ops=names[:index], reboot_after_s=ctx.reboot_after_s
            )
        if stopped_at is not None:
            response["results"].append(_error("skipped", f"not run: op {stopped_at} failed"))
            continue
        is_write = names[index] in WRITE_OPS
        try:
            checked = validate(op)
            data = HANDLERS[checked["op"]](ctx, checked)
        except OpError as exc:
            response["results"].append(_error(exc.kind, exc.message, exc.detail))
            if is_write:
                stopped_at = index
        except Exception as exc:  # an op the lab got wrong still answers like the agent would
            response["results"].append(_error("error", f"{type(exc).__name__}: {exc}"))
            if is_write:
                stopped_at = index
        else:
            response["results"].append({"ok": True, "data": data})
            if is_write and journal_record is not None:
                try:
                    journal_record.write(progress_line(index, data))
                except OpError as exc:  # the write happened but the record cannot say so: stop
                    response["journal_error"] = exc.message
                    stopped_at = index
        if is_write:
            save()
    if drop_after_ops is not None:  # cut off after the last op, before the "done" line
        save()
        return outcome(rc=0, stdout=b"", drop_connection=True, ops=names, reboot_after_s=ctx.reboot_after_s)
    if journal_record is not None:
        try:
            journal_record.write(json.dumps({"done": True, "stopped_at": stopped_at}, separators=(",", ":")))
        except OpError as exc:
            response["journal_error"] = exc.message
        save()
    return outcome(rc=0, stdout=_dump(response), ops=names, reboot_after_s=ctx.reboot_after_s)


# ---- the command -------------------------------------------------------------

_NOT_AGENT = (
    "This lab host only runs the mssql.tls agent batch (a PowerShell -EncodedCommand bootstrap starting "
    "with '{marker}'); other commands, such as Ansible module payloads, are not supported.\r\n"
    "    + CategoryInfo          : NotImplemented: (:) [], NotSupportedException\r\n"
    "    + FullyQualifiedErrorId : WinlabOnlyRunsMssqlTlsAgent\r\n"
)


def _stdin_lines(stdin: bytes) -> list[str]:
    """What `$input | TrimEnd("`r") | Where-Object { $_ -ne '' }` yields."""
    text = stdin.decode("utf-8", errors="replace")
    return [line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r") != ""]


def unpack_agent(packed: bytes) -> bytes | None:
    """What ``GZipStream(Decompress).CopyTo`` leaves in the bootstrap's memory stream, or None when it throws.

    .NET Framework's GZipStream throws InvalidDataException for a bad header, bad deflate
    data, or a trailer whose CRC-32 or length does not match what it unpacked; zlib with
    gzip framing checks the same. A stream cut off before its trailer unpacks what it holds
    without an error (the lab's reading: .NET Framework checks the trailer only once it
    reaches it), so the digest fails instead. Data after the first member is ignored.
    """
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflate.decompress(packed)
    except zlib.error:
        return None


def run_command(
    state: HostState,
    command_line: str,
    stdin: bytes,
    knobs: Knobs,
    clock: LabClock,
    save: Callable[[], None],
) -> CommandOutcome:
    # knobs.latency_ms is spent by the transport (wsman.py), not here
    try:
        script = decode_script(command_line)
    except NotPowerShell:
        script = ""
    if not script.startswith(BOOTSTRAP_MARKER):
        return CommandOutcome(rc=1, stdout=b"", stderr=_NOT_AGENT.format(marker=BOOTSTRAP_MARKER).encode())
    digest = _DIGEST.search(script)
    if digest is None:
        return CommandOutcome(rc=1, stdout=b"", stderr=b"bootstrap without an agent digest\r\n")
    lines = _stdin_lines(stdin)
    if len(lines) < 2:
        return _fatal("invalid_request", "expected the agent and the request on stdin")
    try:
        packed = base64.b64decode(lines[0], validate=True)
    except (binascii.Error, ValueError):
        # The bootstrap catches the FromBase64String failure and says so (client.py).
        return _fatal("invalid_request", "the agent on stdin is not base64")
    agent = unpack_agent(packed)
    if agent is None:
        return _fatal("invalid_request", "the agent on stdin is not gzip data")
    if hashlib.sha256(agent).hexdigest() != digest.group(1):
        return _fatal("invalid_request", "agent script hash mismatch")
    try:
        request = json.loads(lines[1])
    except ValueError:
        return _fatal("invalid_request", "the request on stdin line 2 is not valid JSON")
    return run_batch(state, request, clock, save, knobs)
