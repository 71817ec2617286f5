"""The lab's own op table (written by hand from docs/agent-protocol.md) matches ops.py.

The lab never imports the collection, so a drift between the two readings of the
protocol would otherwise go unnoticed until an integration test fails obscurely.
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import OPS
from winlab.executor import OP_FIELDS


def test_lab_knows_exactly_the_collection_ops() -> None:
    assert set(OP_FIELDS) == set(OPS)


def test_lab_op_fields_match_the_spec() -> None:
    mismatched = {
        name: (sorted(OP_FIELDS[name]), sorted(spec.fields))
        for name, spec in OPS.items()
        if set(OP_FIELDS.get(name, ())) != set(spec.fields)
    }
    assert not mismatched
