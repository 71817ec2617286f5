"""docs/agent-protocol.md, ops.py and agent.ps1 describe the same protocol.

The lab implements the protocol from the doc; the collection from ops.py. The
op table, error kinds, registry types and documented integer defaults must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import ERROR_KINDS, OPS, REG_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent-protocol.md"
_OP_ROW = re.compile(r"^\| `(?P<op>[a-z.]+)` \| (?P<fields>[^|]*) \|")
_FIELD = re.compile(r"`(?P<name>[a-z_]+)`(?:=(?P<default>[^,\s|]+))?")
_REG_ROW = re.compile(r"^\| (?P<types>`REG_[A-Z_]+`(?:, `REG_[A-Z_]+`)*) \|")


def _doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(title: str) -> str:
    text = _doc_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def doc_ops() -> dict[str, dict[str, str | None]]:
    """op -> {field: documented default or None}, from the "Ops and their `data`" table."""
    table: dict[str, dict[str, str | None]] = {}
    for line in _section("Ops and their `data`").splitlines():
        match = _OP_ROW.match(line)
        if match:
            fields = {m["name"]: m["default"] for m in _FIELD.finditer(match["fields"])}
            table[match["op"]] = fields
    return table


def test_doc_lists_every_op_of_ops_py_and_no_other():
    assert set(doc_ops()) == set(OPS)


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_doc_fields_match_ops_py(op_name):
    assert set(doc_ops().get(op_name, {})) == set(OPS[op_name].fields)


def test_doc_error_kinds_match_ops_py():
    paragraph = _section("Response").split("Error kinds:", 1)[1].split(". ", 1)[0]
    assert re.findall(r"`([a-z_]+)`", paragraph) == list(ERROR_KINDS)


def test_doc_registry_types_match_ops_py():
    documented = []
    for line in _section("Values").splitlines():
        match = _REG_ROW.match(line)
        if match:
            documented += re.findall(r"`(REG_[A-Z_]+)`", match["types"])
    assert documented == list(REG_TYPES)


def test_documented_integer_defaults_are_the_agents():
    tree = ps_ast.parse(client.AGENT_PATH.read_bytes())
    table, _findings = ps_ast.dispatch_table(tree)
    functions = ps_ast.function_definitions(tree)
    checked = 0
    for op_name, fields in doc_ops().items():
        defaults = ps_ast.int_field_defaults(functions[table[op_name]])
        for field_name, default in fields.items():
            if default is not None and re.fullmatch(r"\d+", default):
                assert defaults.get(field_name) == int(default), f"{op_name}.{field_name}"
                checked += 1
    # depth, timeout_s (svc.restart, svc.start), max_lines, since_hours, delay_s: the doc's
    # numeric defaults exist, so this is no no-op.
    assert checked == 6
