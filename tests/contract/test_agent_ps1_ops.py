"""The op set of agent.ps1 is the op set of ops.py.

Read from the parse tree of agent.ps1: the generated `$OpTable` literal, the
dispatch switch in Invoke-AgentOp and, per handler, the `$op.<field>` members
it reads.
"""

from __future__ import annotations

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client, gen
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import ERROR_KINDS, OPS, PATH_FROM_FIELDS


@pytest.fixture(scope="module")
def tree():
    return ps_ast.parse(client.AGENT_PATH.read_bytes())


@pytest.fixture(scope="module")
def dispatch(tree):
    table, problems = ps_ast.dispatch_table(tree)
    assert not problems, "; ".join(map(str, problems))
    return table


@pytest.fixture(scope="module")
def functions(tree):
    return ps_ast.function_definitions(tree)


def test_generated_region_is_current():
    script = client.AGENT_PATH.read_bytes().decode("utf-8")
    assert gen.is_current(script), (
        "run: python -m ansible_collections.mssql.tls.plugins.plugin_utils.agent.gen"
    )


def test_op_table_literal_equals_ops_py(tree):
    expected = {
        name: {
            "Writes": spec.writes,
            "Fields": {f: {"Type": d.type, "Required": d.required} for f, d in spec.fields.items()},
        }
        for name, spec in OPS.items()
    }
    assert ps_ast.assigned_literal(tree, "OpTable") == expected
    assert ps_ast.assigned_literal(tree, "PathFromFields") == list(PATH_FROM_FIELDS)


def test_dispatch_handles_exactly_the_ops_of_ops_py(dispatch):
    assert set(dispatch) == set(OPS)


def test_each_op_has_its_own_defined_handler_taking_op(dispatch, functions):
    for op_name, handler in dispatch.items():
        assert handler == ps_ast.handler_name(op_name)
        assert handler in functions, f"{op_name}: {handler} is not defined"
        assert ps_ast.function_parameters(functions[handler]) == [ps_ast.HANDLER_PARAM]


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_handler_reads_only_declared_fields(op_name, dispatch, functions):
    fields, problems = ps_ast.handler_field_reads(functions[dispatch[op_name]])
    assert not problems, "; ".join(map(str, problems))
    assert fields <= set(OPS[op_name].fields), f"undeclared: {sorted(fields - set(OPS[op_name].fields))}"


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_handler_reads_every_declared_field(op_name, dispatch, functions):
    # A declared field the handler never reads would be accepted and silently ignored.
    fields, _findings = ps_ast.handler_field_reads(functions[dispatch[op_name]])
    assert set(OPS[op_name].fields) <= fields, f"ignored: {sorted(set(OPS[op_name].fields) - fields)}"


def test_error_kinds_are_protocol_kinds(tree):
    kinds, problems = ps_ast.error_kinds_used(tree)
    assert not problems, "; ".join(map(str, problems))
    assert kinds <= set(ERROR_KINDS), f"unknown kinds: {sorted(kinds - set(ERROR_KINDS))}"
    # The agent produces every kind somewhere (skipped included), so none is dead in the protocol.
    assert kinds == set(ERROR_KINDS)
