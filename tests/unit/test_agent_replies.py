"""Malformed agent replies give a clear AnsibleActionFail, never a traceback.

A host answers a batch through WinRM, PSRP or SSH; what comes back can be cut off, preceded by
noise, carry PowerShell's CLIXML error stream, speak another protocol version, or belong to
another request. Each reply goes through run_agent_batch exactly as an action plugin calls it,
over a fake connection. The outcome is a BatchResult or AnsibleActionFail whose message says
what was wrong (Ansible prints it as the task's msg); any other exception would be a traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import run_agent_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

OPS = [op("os.info"), op("reg.read", path="HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion")]
Answer = Callable[[dict[str, Any]], tuple[int, bytes, bytes]]


class FakeConnection:
    """Answers each batch with ``answer(request)``: (rc, stdout, stderr)."""

    _shell = SimpleNamespace(tmpdir=None)

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def exec_command(self, cmd, in_data=None, sudoable=True):
        return self.answer(json.loads(in_data.splitlines()[1]))

    def reset(self) -> None:
        pass


def good_doc(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "v": 1,
        "rid": request["rid"],
        "journal_id": None,
        "results": [
            {"ok": True, "data": {"computer_name": "SQL1", "dns_domain": "lab.local"}},
            {"ok": True, "data": {"exists": True, "values": {}, "subkeys": {}}},
        ],
    }


def line(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode() + b"\r\n"


def batch(answer: Answer) -> BatchResult:
    return run_agent_batch(FakeConnection(answer), OPS, sleep=lambda _s: None)


def refused(answer: Answer) -> str:
    with pytest.raises(AnsibleActionFail) as raised:
        batch(answer)
    message = str(raised.value.message)
    assert message.startswith("mssql.tls agent: "), message
    return message


CLIXML_ERROR = (
    b"#< CLIXML\r\n"
    b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b"<S S=\"Error\">The term 'Get-Nothing' is not recognized as the name of a cmdlet_x000D__x000A_</S>"
    b'<S S="Error">At line:1 char:1 &amp; more_x000D__x000A_</S></Objs>'
)
CLIXML_PROGRESS = (
    b"#< CLIXML\r\n"
    b'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN>'
    b'<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV></PR></MS>'
    b"</Obj></Objs>"
)


def test_a_good_reply_after_noise_lines_and_a_byte_order_mark_is_read():
    noise = b"WARNING: The SQL Server PowerShell module is old.\r\n{not json\r\n\r\n\xef\xbb\xbf"
    result = batch(lambda r: (0, noise + line(good_doc(r)), CLIXML_PROGRESS))
    assert result.ok and result.results[0].data["computer_name"] == "SQL1"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(lambda r: (0, b"", b""), "no agent response (rc=0): empty output", id="nothing at all"),
        pytest.param(
            lambda r: (1, b"", CLIXML_ERROR),
            "no agent response (rc=1): The term 'Get-Nothing' is not recognized as the name of a cmdlet\r\n"
            "At line:1 char:1 & more",
            id="CLIXML errors on stderr, read as text",
        ),
        pytest.param(
            lambda r: (0, b"Loading personal and system profiles took 812ms." + line(good_doc(r)), b""),
            "no agent response (rc=0): Loading personal and system profiles took 812ms.{",
            id="noise before the JSON on its line",
        ),
        pytest.param(
            lambda r: (0, line(good_doc(r))[:57], b""),
            "the agent's response is not complete JSON (rc=0, 57 bytes: ",
            id="truncated JSON",
        ),
        pytest.param(
            lambda r: (0, b'{"v":1,"results":' + b"[" * 100_000, b""),
            "the agent's response is not complete JSON (rc=0, 100017 bytes: nested too deep)",
            id="nested deeper than the parser goes",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "v": 2}), b""),
            "unexpected agent response version or shape: protocol version '2', this collection speaks 1",
            id="another protocol version",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "rid": "0123456789abcdef"}), b""),
            "the response answers another request (rid '0123456789abcdef', this request ",
            id="a reply for another request",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "results": good_doc(r)["results"][:1]}), b""),
            "agent returned 1 results for 2 ops",
            id="a result missing",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "results": [None, {"ok": "yes"}]}), b""),
            "malformed result for op 'os.info'",
            id="a result that is not an object",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "results": {"0": {}}}), b""),
            "unexpected agent response version or shape: no results list",
            id="results not a list",
        ),
        pytest.param(
            lambda r: (0, line({**good_doc(r), "journal_id": {"id": 1}}), b""),
            "unexpected agent response version or shape: journal_id",
            id="journal_id not text",
        ),
        pytest.param(
            lambda r: (
                1,
                line({"v": 1, "fatal": {"kind": "invalid_request", "message": "hash mismatch"}}),
                b"",
            ),
            "agent refused the batch (invalid_request): hash mismatch",
            id="the bootstrap's fatal reply",
        ),
        pytest.param(
            lambda r: (0, b"\xff\xfe{\x00\x80garbage\r\n\x00\x01", b"\xc3\x28"),
            "no agent response (rc=0): \ufffd(",
            id="bytes that are not UTF-8",
        ),
    ],
)
def test_a_malformed_reply_is_a_clear_action_failure(reply, expected):
    assert refused(reply).startswith(f"mssql.tls agent: {expected}")


def test_every_truncation_of_a_reply_is_refused_or_complete():
    def cut_at(n: int) -> Answer:
        return lambda r: (0, line(good_doc(r))[:n], b"")

    full = len(line(good_doc({"rid": "0123456789abcdef"})))
    for n in range(full + 1):
        try:
            result = batch(cut_at(n))
        except AnsibleActionFail as error:
            assert "not complete JSON" in error.message or "no agent response" in error.message, (n, error)
        else:
            assert n >= full - 2 and result.ok  # only the line ending was cut


FUZZ = settings(
    max_examples=300, deadline=datetime.timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.binary(max_size=400), st.binary(max_size=200), st.integers(-1, 255))
def test_random_output_gives_a_result_or_an_action_failure(stdout, stderr, rc):
    with contextlib.suppress(AnsibleActionFail):
        batch(lambda r: (rc, stdout, stderr))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["v", "rid", "results", "fatal", "journal_id", "journal_error"]), json_value
    )
)
def test_random_response_documents_give_a_result_or_an_action_failure(fields):
    def answer(request):
        doc = {**good_doc(request), **fields}
        return 0, line(doc), b""

    try:
        result = batch(answer)
    except AnsibleActionFail:
        return
    assert len(result.results) == len(OPS)
