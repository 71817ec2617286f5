"""client.py: one agent batch = one command, checked request in, parsed response out.

The host side is a fake `execute` callable that reads the command and stdin the
way the bootstrap does (decode -EncodedCommand, take the two stdin lines, unpack
the gzip-compressed script, refuse it when its SHA-256 is not the one embedded)
and answers with JSON.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import (
    BOOTSTRAP_MARKER,
    POWERSHELL_PREFIX,
    AgentProtocolError,
    BatchResult,
    OpResult,
    build_command,
    build_request,
    parse_response,
    run_batch,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import OpValidationError, op

AGENT = b"param([string]$RequestJson)\r\n'fake agent'\r\n"
JOURNAL = {"id": "20261130T031500Z-ab12cd", "line": '{"prior": {}}'}
READ = op("reg.read", path="HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\Instance Names\\SQL")
WRITE = op(
    "reg.write",
    path="HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Ciphers\\AES 128/128",
    name="Enabled",
    type="REG_DWORD",
    value={"data": -1},
    expect=None,
)


def decode_bootstrap(command: str) -> str:
    assert command.startswith(POWERSHELL_PREFIX)
    return base64.b64decode(command[len(POWERSHELL_PREFIX) :], validate=True).decode("utf-16-le")


@dataclass
class FakeHost:
    """Answers like a host running the bootstrap; `answer` maps the request to the agent's response."""

    answer: Callable[[dict[str, Any]], dict[str, Any]]
    calls: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        self.calls.append((command, stdin))
        bootstrap = decode_bootstrap(command)
        agent_line, request_line = stdin.decode("utf-8").splitlines()
        digest = hashlib.sha256(gzip.decompress(base64.b64decode(agent_line))).hexdigest()
        if f"$hash -ne '{digest}'" not in bootstrap:
            fatal = {"v": 1, "fatal": {"kind": "invalid_request", "message": "agent script hash mismatch"}}
            return 1, json.dumps(fatal).encode(), b""
        response = json.dumps(self.answer(json.loads(request_line))).encode()
        # PowerShell writes CRLF, and anything the profile or a module printed comes first.
        return 0, b"Loading personal profile...\r\n" + response + b"\r\n", b""


def ok_for_each(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "v": 1,
        "journal_id": request.get("journal", {}).get("id"),
        "results": [{"ok": True, "data": {"op": o["op"]}} for o in request["ops"]],
    }


# --- build_request ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "journal", "named"),
    [
        ([{"op": "reg.nope"}], None, "field 'op'"),
        ([{"op": "reg.read", "path": "HKLM\\X", "depth": "2"}], None, "'depth'"),
        ([{"op": "reg.read", "path": "HKLM\\X", "recursive": True}], None, "'recursive'"),
        ([{"op": "reg.read"}], None, "'path'"),
        ([{"op": "reg.read", "path": "HKLM\\X", "depth": True}], None, "'depth'"),
        ([{**WRITE, "type": "REG_FOO"}], JOURNAL, "'type'"),
        (
            [{"op": "cert.prop.set", "thumbprint": "A" * 40, "prop_id": 9, "data": "not base64!"}],
            JOURNAL,
            "'data'",
        ),
        ([{"op": "file.tail", "path_from": {"value_name": "SQLArg0"}}], None, "'path_from'"),
        ([{"op": "file.tail", "path_from": {"key": "HKLM\\X", "value_regex": 3}}], None, "'path_from'"),
        ([{"op": "event.count", "log": "System", "ids": [36874, True]}], None, "'ids'"),
        ([{"op": "reg.remove", "path": "HKLM\\X\\Y", "expect": None}], JOURNAL, "'expect'"),
        (["reg.read"], None, "op"),
        ([WRITE], None, "field 'journal'"),
        ([WRITE], {"id": "../etc", "line": "{}"}, "'journal.id'"),
        ([WRITE], {"id": "abc\n", "line": "{}"}, "'journal.id'"),
        ([WRITE], {"id": "a" * 65, "line": "{}"}, "'journal.id'"),
        ([WRITE], {"id": "abc", "line": "{}\n{}"}, "'journal.line'"),
        ([WRITE], {"id": "abc", "line": "{}\r"}, "'journal.line'"),
    ],
)
def test_build_request_errors_name_the_bad_field(ops, journal, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        build_request(ops, journal)


def test_validation_errors_are_value_errors_of_their_own_type():
    with pytest.raises(OpValidationError):
        build_request([{"op": "os.info", "verbose": True}])


def test_build_request_wraps_checked_ops_and_journal():
    request = build_request([READ, WRITE], JOURNAL, rid="r-1")
    assert request == {"v": 1, "rid": "r-1", "ops": [READ, WRITE], "journal": JOURNAL}


def test_journal_append_alone_needs_no_journal_record():
    append = op("journal.append", id="abc", line='{"rolled_back": true}')
    assert build_request([append], rid="r-1") == {"v": 1, "rid": "r-1", "ops": [append]}


def test_whole_key_removal_accepts_key_precondition():
    remove = op("reg.remove", path="HKLM\\X\\Y", recurse=True, expect={"key": True})
    assert build_request([remove], JOURNAL)["ops"] == [remove]


# --- build_command --------------------------------------------------------------


def test_command_is_an_encoded_bootstrap_embedding_the_agent_digest():
    command, _stdin = build_command(build_request([READ]), AGENT)
    bootstrap = decode_bootstrap(command)
    assert bootstrap.splitlines()[0] == BOOTSTRAP_MARKER
    assert f"'{hashlib.sha256(AGENT).hexdigest()}'" in bootstrap
    # The prefix is exactly the shell's common arguments and one space, then base64 only.
    assert " " not in command[len(POWERSHELL_PREFIX) :]


def test_stdin_carries_the_agent_and_the_request_on_two_lines():
    request = build_request([READ, WRITE], JOURNAL)
    _command, stdin = build_command(request, AGENT)
    lines = stdin.split(b"\n")
    assert lines[2:] == [b""]  # two lines, each newline-terminated
    assert gzip.decompress(base64.b64decode(lines[0], validate=True)) == AGENT
    assert json.loads(lines[1]) == request


def test_the_agent_travels_as_one_reproducible_gzip_member():
    packed = client.pack_script(AGENT)
    # RFC 1952 header: magic, deflate, no flags (no file name), mtime 0, no extra flags, OS unknown.
    assert packed[:10] == bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255))
    assert int.from_bytes(packed[-8:-4], "little") == zlib.crc32(AGENT)
    assert int.from_bytes(packed[-4:], "little") == len(AGENT)
    # The same script gives the same bytes (no cache involved: a copy of the bytes object).
    assert client.pack_script.__wrapped__(bytes(AGENT)) == packed
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert inflate.decompress(packed) == AGENT and inflate.eof and inflate.unused_data == b""


def test_a_gather_batch_weighs_at_most_a_third_of_one_with_the_plain_script():
    from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops

    request = build_request(gather_ops())
    command, stdin = build_command(request)
    script = client.agent_script()
    request_line = json.dumps(request, separators=(",", ":")).encode()
    plain = len(command) + len(base64.b64encode(script)) + len(request_line) + 2
    assert len(command) + len(stdin) <= plain / 3, (len(command) + len(stdin), plain)


def test_default_script_is_the_shipped_agent():
    command, stdin = build_command(build_request([READ]))
    shipped = client.AGENT_PATH.read_bytes()
    assert gzip.decompress(base64.b64decode(stdin.split(b"\n")[0])) == shipped
    assert hashlib.sha256(shipped).hexdigest() in decode_bootstrap(command)


def test_request_line_is_ascii_json_even_with_non_ascii_data():
    request = build_request([op("file.version", paths=["C:\\Programme\\Gr\u00fc\u00dfe\\sqlservr.exe"])])
    _command, stdin = build_command(request, AGENT)
    assert json.loads(stdin.split(b"\n")[1].decode("utf-8")) == request


# --- run_batch against a fake host ------------------------------------------------


def test_run_batch_is_one_command_and_maps_results_in_order():
    host = FakeHost(ok_for_each)
    result = run_batch(host, [READ, WRITE], JOURNAL, script=AGENT)
    assert len(host.calls) == 1
    assert result.ok
    assert result.journal_id == JOURNAL["id"]
    assert [(r.op, r.ok, r.data) for r in result.results] == [
        ("reg.read", True, {"op": "reg.read"}),
        ("reg.write", True, {"op": "reg.write"}),
    ]


def test_run_batch_validates_before_contacting_the_host():
    host = FakeHost(ok_for_each)
    with pytest.raises(ValueError, match="field 'journal'"):
        run_batch(host, [WRITE], script=AGENT)
    assert host.calls == []


def test_a_script_swapped_on_stdin_is_refused_by_the_bootstrap_hash():
    request = build_request([READ])
    command, _stdin = build_command(request, AGENT)
    tampered = (
        base64.b64encode(client.pack_script(AGENT + b"Remove-Item C:\\ -Recurse\r\n"))
        + b"\n"
        + json.dumps(request).encode()
        + b"\n"
    )
    rc, stdout, stderr = FakeHost(ok_for_each)(command, tampered)
    with pytest.raises(AgentProtocolError, match="hash mismatch"):
        parse_response(stdout, stderr, rc, request)


# --- parse_response ---------------------------------------------------------------


REQUEST = build_request([READ, WRITE, READ], JOURNAL)


def _stdout(doc: dict[str, Any], before: bytes = b"") -> bytes:
    return before + json.dumps(doc).encode() + b"\r\n"


def test_parses_a_response_with_a_conflict_and_skipped_ops():
    doc = {
        "v": 1,
        "journal_id": JOURNAL["id"],
        "results": [
            {"ok": True, "data": {"exists": False, "values": {}, "subkeys": {}}},
            {"ok": False, "error": {"kind": "conflict", "message": "expected absent, found REG_DWORD 1"}},
            {"ok": False, "error": {"kind": "skipped", "message": "not run: op 1 failed"}},
        ],
    }
    result = parse_response(_stdout(doc), b"", 0, REQUEST)
    assert isinstance(result, BatchResult)
    assert not result.ok
    assert result.conflict
    assert result.journal_error is None
    assert result.results[1] == OpResult(
        op="reg.write", ok=False, error_kind="conflict", error_message="expected absent, found REG_DWORD 1"
    )
    assert result.results[2].error_kind == "skipped"
    assert result.raw == doc


def test_journal_error_is_surfaced():
    skipped = {"ok": False, "error": {"kind": "skipped", "message": "journal record could not be written"}}
    doc = {"v": 1, "journal_id": JOURNAL["id"], "journal_error": "Access is denied", "results": [skipped] * 3}
    result = parse_response(_stdout(doc), b"", 0, REQUEST)
    assert result.journal_error == "Access is denied"
    assert not result.conflict


def test_fatal_response_raises_with_kind_and_message():
    fatal = {"v": 1, "fatal": {"kind": "invalid_request", "message": "agent script hash mismatch"}}
    with pytest.raises(AgentProtocolError, match=r"invalid_request.*agent script hash mismatch"):
        parse_response(_stdout(fatal), b"", 1, REQUEST)


def test_wrong_result_count_raises():
    doc = {"v": 1, "results": [{"ok": True, "data": None}]}
    with pytest.raises(AgentProtocolError, match="1 results for 3 ops"):
        parse_response(_stdout(doc), b"", 0, REQUEST)


def test_noise_lines_before_the_json_are_skipped():
    doc = {"v": 1, "results": [{"ok": True, "data": 1}, {"ok": True, "data": 2}, {"ok": True, "data": 3}]}
    noise = b"#< CLIXML\r\nWARNING: something\r\n{not json either\r\n\r\n"
    result = parse_response(_stdout(doc, before=noise), b"", 0, REQUEST)
    assert [r.data for r in result.results] == [1, 2, 3]


def test_non_json_output_raises_with_rc_and_stderr_tail():
    stderr = b"#< CLIXML\r\n" + b"x" * 1000 + b"The term 'PowerShell' is not recognized"
    with pytest.raises(AgentProtocolError, match=r"rc=1.*The term 'PowerShell' is not recognized"):
        parse_response(b"Access denied\r\n", stderr, 1, REQUEST)


def test_empty_output_raises():
    with pytest.raises(AgentProtocolError, match="empty output"):
        parse_response(b"", b"", 0, REQUEST)


@pytest.mark.parametrize(
    "doc",
    [
        {"v": 2, "results": []},
        {"v": 1, "results": {"0": {"ok": True}}},
        {"v": 1},
    ],
)
def test_unexpected_version_or_shape_raises(doc):
    with pytest.raises(AgentProtocolError, match="version or shape"):
        parse_response(_stdout(doc), b"", 0, REQUEST)


@pytest.mark.parametrize("bad", [{"data": 1}, {"ok": "true"}, ["ok"], None])
def test_malformed_result_names_the_op(bad):
    doc = {"v": 1, "results": [{"ok": True, "data": 1}, bad, {"ok": True, "data": 3}]}
    with pytest.raises(AgentProtocolError, match=re.escape("'reg.write'")):
        parse_response(_stdout(doc), b"", 0, REQUEST)


def test_error_without_details_defaults_to_kind_error():
    doc = {"v": 1, "results": [{"ok": False}, {"ok": True, "data": None}, {"ok": True, "data": None}]}
    result = parse_response(_stdout(doc), b"", 0, REQUEST)
    assert (result.results[0].error_kind, result.results[0].error_message) == ("error", "")


def test_error_detail_is_exposed_and_only_as_an_object():
    detail = {"state": "Stopped", "exit_code": 1066, "service_specific_exit_code": 2148081668}
    failed = {
        "ok": False,
        "error": {"kind": "error", "message": "service 'MSSQLSERVER' failed", "detail": detail},
    }
    odd = {"ok": False, "error": {"kind": "error", "message": "x", "detail": "not an object"}}
    doc = {"v": 1, "results": [{"ok": True, "data": None}, failed, odd]}
    result = parse_response(_stdout(doc), b"", 0, REQUEST)
    assert result.results[1].error_detail == detail
    assert result.results[2].error_detail is None and result.results[0].error_detail is None


# --- the bootstrap (issue 8, defect 1) -----------------------------------------------


def test_bootstrap_hashes_with_the_fips_validated_provider():
    # SHA256.Create() is the managed SHA256Managed on .NET 4.6.1 and earlier, which throws
    # under the FIPS policy; the CryptoServiceProvider class is FIPS-validated everywhere.
    bootstrap = client.bootstrap_script(AGENT)
    assert "New-Object System.Security.Cryptography.SHA256CryptoServiceProvider" in bootstrap
    assert "SHA256]::Create" not in bootstrap


def test_bootstrap_prints_a_fatal_reply_for_any_failure():
    lines = client.bootstrap_script(AGENT).splitlines()
    body = lines[lines.index("try {") :]
    assert body[-3:] == [
        "} catch {",
        "    Write-Fatal 'error' ('the agent bootstrap failed: ' + $_.Exception.Message)",
        "}",
    ]
    assert all(line.startswith("    ") for line in body[1:-3]), "a statement outside the try"


# --- the ops of the remediation work (their one allowed precondition) ----------------------------


@pytest.mark.parametrize(
    ("op_fields", "ok"),
    [
        ({"op": "reg.create", "path": "HKLM\\SOFTWARE\\X", "expect": None}, True),
        ({"op": "reg.create", "path": "HKLM\\SOFTWARE\\X", "expect": {"key": True}}, False),
        ({"op": "tls.suite.disable", "name": "TLS_A", "expect": {"present": True}}, True),
        ({"op": "tls.suite.disable", "name": "TLS_A", "expect": None}, False),
        ({"op": "tls.suite.enable", "name": "TLS_A", "position": 0, "expect": None}, True),
        ({"op": "tls.suite.enable", "name": "TLS_A", "expect": {"present": False}}, False),
        (
            {
                "op": "cert.key.acl.set",
                "thumbprint": "AB" * 20,
                "sddl": "D:(A;;FA;;;SY)",
                "expect": {"data": "D:"},
            },
            True,
        ),
        ({"op": "svc.start", "name": "MSSQLSERVER", "timeout_s": 60}, True),
        ({"op": "os.reboot", "reason": "apply Schannel settings", "delay_s": 10}, True),
        ({"op": "file.tail", "paths": ["C:\\x"], "patterns": ["a", "b"]}, True),
        ({"op": "file.tail", "paths": ["C:\\x"], "patterns": "a"}, False),
    ],
)
def test_new_ops_validate_against_the_spec(op_fields, ok):
    journal = {"id": "r-1", "line": "{}"}
    if ok:
        assert build_request([op_fields], journal)["ops"] == [op_fields]
    else:
        with pytest.raises(OpValidationError):
            build_request([op_fields], journal)
