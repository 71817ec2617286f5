"""Python side of the agent protocol: build one batch, run it, parse the answer.

One batch is one command on the host: a fixed PowerShell bootstrap passed as
``-EncodedCommand`` (UTF-16LE base64) and, on stdin, two lines: the agent
script (base64 of its gzip-compressed UTF-8 bytes) and the request JSON. The
bootstrap unpacks the script in memory and refuses it unless the SHA-256 of
the unpacked bytes is the one embedded in the bootstrap, so nothing on stdin
can become code; the request is parsed as JSON data only.
See docs/agent-protocol.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .ops import WRITE_OPS, validate_op

PROTOCOL_VERSION = 1
AGENT_PATH = Path(__file__).with_name("agent.ps1")

# Exactly the shell's common arguments: ansible-core 2.19+ then passes the line
# through without re-encoding (reference/ansible-winrm-wire.md section 1).
POWERSHELL_PREFIX = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "

_BOOTSTRAP_TEMPLATE = r"""$ErrorActionPreference = 'Stop'
function Write-Fatal([string]$Kind, [string]$Message) {
    $msg = ConvertTo-Json -Compress -InputObject $Message
    Write-Output ('{"v":1,"fatal":{"kind":"' + $Kind + '","message":' + $msg + '}}')
    exit 1
}
try {
    $lines = @($input | ForEach-Object { ([string]$_).TrimEnd("`r") } | Where-Object { $_ -ne '' })
    if ($lines.Count -lt 2) { Write-Fatal 'invalid_request' 'expected the agent and the request on stdin' }
    try {
        $packed = [Convert]::FromBase64String($lines[0])
    } catch {
        Write-Fatal 'invalid_request' 'the agent on stdin is not base64'
    }
    $source = [IO.MemoryStream]::new($packed)
    $gzip = [IO.Compression.GZipStream]::new($source, [IO.Compression.CompressionMode]::Decompress)
    $unpacked = [IO.MemoryStream]::new()
    try {
        $gzip.CopyTo($unpacked)
    } catch {
        Write-Fatal 'invalid_request' 'the agent on stdin is not gzip data'
    }
    $bytes = $unpacked.ToArray()
    $sha = New-Object System.Security.Cryptography.SHA256CryptoServiceProvider
    $hash = [BitConverter]::ToString($sha.ComputeHash($bytes)).Replace('-', '').ToLowerInvariant()
    if ($hash -ne '__AGENT_SHA256__') { Write-Fatal 'invalid_request' 'agent script hash mismatch' }
    $agent = [ScriptBlock]::Create([Text.Encoding]::UTF8.GetString($bytes))
    & $agent -RequestJson $lines[1]
} catch {
    Write-Fatal 'error' ('the agent bootstrap failed: ' + $_.Exception.Message)
}
"""

# The bootstrap hashes with SHA256CryptoServiceProvider, the FIPS-validated class that
# exists on every .NET Framework in scope: SHA256.Create() returns the managed SHA256Managed
# on .NET Framework 4.6.1 and earlier, which throws when the FIPS policy is on (learn.microsoft.com
# SHA256.Create, "Exceptions"). Every statement after Write-Fatal runs in one try/catch, so any
# failure still prints a `fatal` reply (exit inside try is not caught; it ends the script).
#
# The script travels gzip-compressed (a third of the bytes of the plain script on stdin). It is
# unpacked in memory with System.IO.Compression.GZipStream (System.dll; Stream.CopyTo needs
# .NET Framework 4.0, WMF 5.1 requires 4.5) and the digest is taken of the unpacked bytes, the
# exact bytes that are then compiled: what runs is what was hashed. A corrupt stream (bad
# header, CRC or length in the trailer) throws InvalidDataException and is the `fatal` reply
# "not gzip data"; a truncated one unpacks short and fails the digest.

# Marker the bootstrap carries so a reader of a command line (the lab, a log
# reviewer) can tell an mssql.tls agent batch from anything else.
BOOTSTRAP_MARKER = "# mssql.tls agent bootstrap v2"


class AgentProtocolError(Exception):
    """The host answered with something that is not an agent response."""


@dataclass(frozen=True)
class OpResult:
    op: str
    ok: bool
    data: Any = None
    error_kind: str | None = None
    error_message: str | None = None
    # Structured facts of a failure (e.g. a service's exit codes), when the agent gives them.
    error_detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BatchResult:
    results: list[OpResult]
    journal_id: str | None = None
    conflict: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    # Set when the host could not write the journal record (then every op is
    # ``skipped``) or a progress line after a write (then later ops are ``skipped``).
    journal_error: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


@cache
def agent_script() -> bytes:
    return AGENT_PATH.read_bytes()


def script_digest(script: bytes) -> str:
    """The SHA-256 the bootstrap requires of the agent script before it runs it."""
    return hashlib.sha256(script).hexdigest()


def bootstrap_script(script: bytes) -> str:
    return BOOTSTRAP_MARKER + "\n" + _BOOTSTRAP_TEMPLATE.replace("__AGENT_SHA256__", script_digest(script))


# Deflate level 6 (zlib's default): level 9 saves 0.6 % more for 2.5 times the CPU, paid once
# per host by every fork.
_DEFLATE_LEVEL = 6
# RFC 1952 member header: magic, CM=8 (deflate), FLG=0, MTIME=0, XFL=0, OS=255 (unknown).
_GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255))


@lru_cache(maxsize=4)
def pack_script(script: bytes) -> bytes:
    """The agent as it travels: one gzip member (RFC 1952) of the script's exact bytes.

    The header is fixed (no name, mtime 0, OS unknown), so the bytes depend only on the
    script and the deflate implementation: the same agent gives the same stdin on every
    controller with the same zlib.
    """
    deflate = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(script) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(script), len(script) & 0xFFFFFFFF)
    return _GZIP_HEADER + body + trailer


def encode_powershell(script: str) -> str:
    return POWERSHELL_PREFIX + base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def new_request_id() -> str:
    """A fresh ``rid``: 16 random hex digits (docs/agent-protocol.md, "Request id")."""
    return secrets.token_hex(8)


def build_request(
    ops: Sequence[Mapping[str, Any]], journal: Mapping[str, Any] | None = None, rid: str | None = None
) -> dict[str, Any]:
    """Validate ops against the spec and wrap them in a versioned request with its own ``rid``."""
    checked = [validate_op(o) for o in ops]
    rid = new_request_id() if rid is None else rid
    if not isinstance(rid, str) or not _JOURNAL_ID.fullmatch(rid):
        raise ValueError("field 'rid': expected 1-64 characters of [A-Za-z0-9_.-]")
    request: dict[str, Any] = {"v": PROTOCOL_VERSION, "rid": rid, "ops": checked}
    if journal is not None:
        if not isinstance(journal.get("id"), str) or not _JOURNAL_ID.fullmatch(journal["id"]):
            raise ValueError("field 'journal.id': expected 1-64 characters of [A-Za-z0-9_.-]")
        line = journal.get("line")
        if not isinstance(line, str) or "\n" in line or "\r" in line:
            raise ValueError("field 'journal.line': expected one JSON document on one line")
        request["journal"] = {"id": journal["id"], "line": journal["line"]}
    elif any(o["op"] in WRITE_OPS and o["op"] != "journal.append" for o in checked):
        raise ValueError("field 'journal': a batch with write ops must carry a journal record")
    return request


def build_command(request: Mapping[str, Any], script: bytes | None = None) -> tuple[str, bytes]:
    """Return (command line, stdin bytes) for one batch."""
    script = agent_script() if script is None else script
    request_line = json.dumps(request, separators=(",", ":")).encode("utf-8")
    stdin = base64.b64encode(pack_script(script)) + b"\n" + request_line + b"\n"
    return encode_powershell(bootstrap_script(script)), stdin


# fullmatch, not match with "$": "$" also matches before a trailing newline.
_JOURNAL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A line that starts a JSON object, after an optional UTF-8 byte order mark (PowerShell writes
# one when the console's output encoding is UTF-8 with a signature).
_JSON_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*\{")
# PowerShell's error stream serialised as CLIXML (reference/ansible-winrm-wire.md): the text of
# each <S S="Error"> element, with XML escapes and _xHHHH_ for control characters.
_CLIXML_ERROR = re.compile(r'<S S="Error">(.*?)</S>', re.S)
_CLIXML_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TAIL_CHARS = 400


def _output_tail(stdout: bytes, stderr: bytes) -> str:
    """The end of what the host printed, for a message: stderr (CLIXML read as text), else stdout."""
    text = (stderr or stdout).decode("utf-8", "replace")
    if "#< CLIXML" in text:
        errors = _CLIXML_ERROR.findall(text)
        if errors:
            text = html.unescape(_CLIXML_CHAR.sub(lambda m: chr(int(m[1], 16)), "".join(errors)))
    text = text.strip()
    return text[-_TAIL_CHARS:] if text else "empty output"


def _response_document(stdout: bytes, stderr: bytes, rc: int) -> dict[str, Any]:
    """The last line of stdout that is a JSON object; noise lines before it are skipped."""
    broken: tuple[int, str] | None = None
    for line in reversed(stdout.splitlines()):
        if not _JSON_LINE.match(line):
            continue
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
            broken = broken or (len(line), str(exc) if isinstance(exc, ValueError) else "nested too deep")
            continue
        if isinstance(doc, dict):
            return doc
    if broken is not None:
        stderr_text = f"; stderr: {_output_tail(b'', stderr)}" if stderr.strip() else ""
        raise AgentProtocolError(
            f"the agent's response is not complete JSON (rc={rc}, {broken[0]} bytes: {broken[1]}): "
            f"the output was cut off or garbled{stderr_text}"
        )
    raise AgentProtocolError(f"no agent response (rc={rc}): {_output_tail(stdout, stderr)}")


def parse_response(stdout: bytes, stderr: bytes, rc: int, request: Mapping[str, Any]) -> BatchResult:
    """Turn the agent's stdout into a BatchResult; anything malformed raises AgentProtocolError."""
    doc = _response_document(stdout, stderr, rc)
    if "rid" in doc and doc["rid"] != request.get("rid"):
        raise AgentProtocolError(
            f"the response answers another request (rid {str(doc['rid'])[:64]!r}, "
            f"this request {request.get('rid')!r}); it is not used"
        )
    if "fatal" in doc:
        fatal = doc["fatal"] if isinstance(doc["fatal"], dict) else {}
        raise AgentProtocolError(f"agent refused the batch ({fatal.get('kind')}): {fatal.get('message')}")
    if doc.get("v") != PROTOCOL_VERSION:
        raise AgentProtocolError(
            f"unexpected agent response version or shape: protocol version {str(doc.get('v'))[:20]!r}, "
            f"this collection speaks {PROTOCOL_VERSION}"
        )
    if not isinstance(doc.get("results"), list):
        raise AgentProtocolError(
            f"unexpected agent response version or shape: no results list: {str(doc)[:200]}"
        )
    if doc.get("journal_id") is not None and not isinstance(doc["journal_id"], str):
        raise AgentProtocolError(
            f"unexpected agent response version or shape: journal_id {doc['journal_id']!r:.60}"
        )
    ops = request["ops"]
    if len(doc["results"]) != len(ops):
        raise AgentProtocolError(f"agent returned {len(doc['results'])} results for {len(ops)} ops")
    results = []
    for spec, res in zip(ops, doc["results"], strict=True):
        if not isinstance(res, dict) or not isinstance(res.get("ok"), bool):
            raise AgentProtocolError(f"malformed result for op {spec['op']!r}")
        err = res.get("error") if isinstance(res.get("error"), dict) else {}
        results.append(
            OpResult(
                op=spec["op"],
                ok=res["ok"],
                data=res.get("data"),
                error_kind=None if res["ok"] else str(err.get("kind", "error")),
                error_message=None if res["ok"] else str(err.get("message", "")),
                error_detail=err.get("detail") if isinstance(err.get("detail"), dict) else None,
            )
        )
    return BatchResult(
        results=results,
        journal_id=doc.get("journal_id"),
        conflict=any(r.error_kind == "conflict" for r in results),
        raw=doc,
        journal_error=None if doc.get("journal_error") is None else str(doc["journal_error"]),
    )


# (command line, stdin) -> (rc, stdout, stderr); the only thing a batch needs
# from a connection, so the core is tested with a fake.
Execute = Callable[[str, bytes], tuple[int, bytes, bytes]]


def run_batch(
    execute: Execute,
    ops: Sequence[Mapping[str, Any]],
    journal: Mapping[str, Any] | None = None,
    script: bytes | None = None,
) -> BatchResult:
    """Run one batch: exactly one command on the host."""
    request = build_request(ops, journal)
    command, stdin = build_command(request, script)
    rc, stdout, stderr = execute(command, stdin)
    return parse_response(stdout, stderr, rc, request)
