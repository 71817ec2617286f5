"""A write batch cut off mid-way over the real WinRM endpoint: nothing is lost, the journal knows.

DESIGN.md: every write batch first appends a journal record on the host, then
applies; a run cut off at any point leaves either the old value or the new one,
and the journal says which.
"""

from __future__ import annotations

import json

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import run_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from winlab.testing import winrm_command_runner

KEY = r"HKLM\SOFTWARE\mssql.tls.faults"


def write(name: str, data: int) -> dict:
    return op("reg.write", path=KEY, name=name, type="REG_DWORD", value={"data": data}, expect=None)


def test_a_dropped_write_batch_leaves_a_journal_that_says_which_writes_happened(make_lab) -> None:
    lab = make_lab("s3")
    execute = winrm_command_runner(lab.inventory, "s3")
    lab.set_knobs("s3", drop_after_ops=2)

    record = {"id": "fault-test-1", "line": json.dumps({"reason": "fault test", "values": ["a", "b", "c"]})}
    with pytest.raises(Exception, match=r"(?i)connection|reset|aborted"):
        run_batch(execute, [write("a", 1), write("b", 2), write("c", 3)], record)

    values = run_batch(execute, [op("reg.read", path=KEY)]).results[0].data["values"]
    assert {name: v["data"] for name, v in values.items()} == {"a": 1, "b": 2}

    (journal,) = run_batch(execute, [op("journal.read", id="fault-test-1")]).results[0].data["records"]
    lines = [json.loads(line) for line in journal["lines"]]
    assert lines[0] == {"reason": "fault test", "values": ["a", "b", "c"]}
    # The first write created the key: its progress line says so (rollback removes exactly that).
    assert lines[1:] == [{"applied": 0, "created_keys": [KEY]}, {"applied": 1}]  # no "done": cut off

    # The knob fires once: the next batch runs whole and its record ends with "done".
    done = run_batch(execute, [write("c", 3)], {"id": "fault-test-2", "line": json.dumps({"retry": "c"})})
    assert done.ok
    (retry,) = run_batch(execute, [op("journal.read", id="fault-test-2")]).results[0].data["records"]
    assert json.loads(retry["lines"][-1]) == {"done": True, "stopped_at": None}
