"""The request id (`rid`): the client draws one per request, the agent and the lab echo it, and a
response that carries another request's id is never read as this batch's result.

docs/agent-protocol.md, "Request id". agent.ps1 is read from its parse tree (no PowerShell
here); the lab's executor is run.
"""

from __future__ import annotations

import datetime as dt
import re

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client
from test_agent_protocol_doc import _section
from winlab import build, certs
from winlab.executor import run_batch
from winlab.profiles import parse_profile
from winlab.sqlserver import LabClock

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def invoke_batch(agent_tree) -> str:
    return ps_ast.text(ps_ast.function_definitions(agent_tree)["Invoke-Batch"])


def test_the_agent_copies_the_requests_rid_into_its_response(invoke_batch):
    assert "if ($request.rid -is [string]) { $rid = $request.rid }" in invoke_batch
    assignments = re.findall(r"\$rid = ([^;}\n]+)", invoke_batch)
    assert [a.strip() for a in assignments] == ["$null", "$request.rid"]  # nothing else reaches it
    response = re.search(r"\$response = \[ordered\]@\{([^}]*)\}", invoke_batch)
    assert response is not None and re.search(r"(^|;)\s*rid = \$rid\s*(;|$)", response[1])


@pytest.fixture(scope="module")
def lab_state(tmp_path_factory):
    keys = certs.KeyCache(tmp_path_factory.mktemp("keys"))
    profile = parse_profile(
        {"name": "t1", "os": {"build": 17763, "ubr": 1}, "expect_scenarios": []}, "inline"
    )
    return build.build_host(profile, NOW, keys), LabClock(now=lambda: NOW, keys=keys)


def lab_answer(lab_state, request):
    state, clock = lab_state
    return run_batch(state, request, clock, save=lambda: None)


def test_every_request_gets_its_own_rid_of_the_documented_form():
    rids = {client.build_request([{"op": "os.info"}])["rid"] for _attempt in range(50)}
    assert len(rids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{16}", rid) for rid in rids)
    with pytest.raises(ValueError, match="field 'rid'"):
        client.build_request([{"op": "os.info"}], rid="../x")


def test_the_lab_echoes_the_rid_and_the_client_reads_its_answer(lab_state):
    request = client.build_request([{"op": "os.info"}])
    outcome = lab_answer(lab_state, request)
    batch = client.parse_response(outcome.stdout, outcome.stderr, outcome.rc, request)
    assert batch.raw["rid"] == request["rid"] and batch.results[0].ok


def test_a_request_without_rid_gets_rid_null_from_the_lab_like_from_the_agent(lab_state):
    outcome = lab_answer(lab_state, {"v": 1, "ops": [{"op": "os.info"}]})
    assert b'"rid":null' in outcome.stdout


def test_the_answer_to_one_request_is_refused_as_the_answer_to_another(lab_state):
    first = client.build_request([{"op": "os.info"}])
    second = client.build_request([{"op": "os.info"}])
    outcome = lab_answer(lab_state, first)
    with pytest.raises(client.AgentProtocolError, match="answers another request"):
        client.parse_response(outcome.stdout, outcome.stderr, outcome.rc, second)


def test_the_protocol_doc_describes_the_field():
    section = _section("Request id")
    assert "`rid`" in section and "answers another request" in section
    assert '"rid": "9f2c41d07ab3e855"' in _section("Request") and '"rid"' in _section("Response")
