"""The lab imitates bootstrap v2: stdin line 1 is the gzip-compressed agent, unpacked, hashed, run.

Each corrupt or foreign agent line answers the `fatal` reply Windows PowerShell would print
(docs/agent-protocol.md, "One batch = one command"); the real agent batches of the other
lab tests cover the good path.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
from labtest import AGENT, Knobs, LabHost, client
from winlab import executor

REQUEST = client.build_request([{"op": "os.info"}])


def _run(host: LabHost, agent_line: bytes, bootstrap_for: bytes = AGENT) -> tuple[int, dict]:
    command, _stdin = client.build_command(REQUEST, script=bootstrap_for)
    stdin = agent_line + b"\n" + json.dumps(REQUEST).encode() + b"\n"
    outcome = host.run_command(command, stdin, Knobs())
    return outcome.rc, json.loads(outcome.stdout)


def _fatal(message: str) -> dict:
    return {"v": 1, "fatal": {"kind": "invalid_request", "message": message}}


def test_the_packed_agent_runs(host: LabHost) -> None:
    rc, doc = _run(host, base64.b64encode(client.pack_script(AGENT)))
    assert rc == 0 and doc["results"][0]["ok"]


def test_any_gzip_member_of_the_same_bytes_runs(host: LabHost) -> None:
    # The digest is of the unpacked bytes: another compressor's output of the same script runs too.
    rc, doc = _run(host, base64.b64encode(gzip.compress(AGENT, compresslevel=1, mtime=1_700_000_000)))
    assert rc == 0 and doc["results"][0]["ok"]


@pytest.mark.parametrize(
    ("agent_line", "message"),
    [
        # the v1 stdin: the plain script, base64
        (base64.b64encode(AGENT), "the agent on stdin is not gzip data"),
        # a bad CRC-32 in the trailer (InvalidDataException on Windows)
        (
            base64.b64encode(client.pack_script(AGENT)[:-8] + b"\0\0\0\0" + client.pack_script(AGENT)[-4:]),
            "the agent on stdin is not gzip data",
        ),
        # a wrong length in the trailer
        (
            base64.b64encode(client.pack_script(AGENT)[:-4] + (len(AGENT) + 1).to_bytes(4, "little")),
            "the agent on stdin is not gzip data",
        ),
        # a gzip member cut off inside its deflate data unpacks short and fails the digest
        (base64.b64encode(client.pack_script(AGENT)[:12]), "agent script hash mismatch"),
        # well-formed gzip of another script
        (
            base64.b64encode(client.pack_script(AGENT + b"Remove-Item C:\\ -Recurse\n")),
            "agent script hash mismatch",
        ),
        # not base64 at all
        (b"H4sI!!!", "the agent on stdin is not base64"),
    ],
    ids=["plain-script", "bad-crc", "bad-length", "truncated", "other-script", "not-base64"],
)
def test_a_bad_agent_line_is_the_bootstraps_fatal_reply(
    host: LabHost, agent_line: bytes, message: str
) -> None:
    rc, doc = _run(host, agent_line)
    assert (rc, doc) == (1, _fatal(message))


def test_a_v1_bootstrap_is_not_the_agent_bootstrap_any_more(host: LabHost) -> None:
    command, stdin = client.build_command(REQUEST, script=AGENT)
    script = client.bootstrap_script(AGENT).replace(client.BOOTSTRAP_MARKER, "# mssql.tls agent bootstrap v1")
    outcome = host.run_command(client.encode_powershell(script), stdin, Knobs())
    assert outcome.rc == 1 and outcome.stdout == b""
    assert b"only runs the mssql.tls agent" in outcome.stderr
    assert host.run_command(command, stdin, Knobs()).rc == 0


def test_unpack_agent_reads_like_gzipstream() -> None:
    packed = client.pack_script(AGENT)
    assert executor.unpack_agent(packed) == AGENT
    # Without its trailer the member still unpacks to the whole script, which then passes the
    # digest: what runs is still exactly what was hashed.
    assert executor.unpack_agent(packed[:-8]) == AGENT
    assert executor.unpack_agent(packed + b"trailing bytes") == AGENT
    assert executor.unpack_agent(packed[: len(packed) // 2]) == zlib.decompressobj(31).decompress(
        packed[: len(packed) // 2]
    )
    assert executor.unpack_agent(b"") == b""
    assert executor.unpack_agent(b"\x1f\x8b\x09" + packed[3:]) is None  # compression method 9
