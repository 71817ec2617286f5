"""gen.py writes agent.ps1's op table from ops.py and detects a stale one."""

from __future__ import annotations

from pathlib import Path

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client, gen
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import OPS, Field, OpSpec

SCRIPT = (
    "param([string]$RequestJson)\n"
    "$before = 1\n"
    f"{gen.BEGIN_MARKER}\n"
    "$OpTable = @{ 'old.op' = @{ Writes = $false; Fields = @{} } }\n"
    f"{gen.END_MARKER}\n"
    "$after = 2\n"
)


@pytest.fixture
def stale_agent(tmp_path: Path) -> Path:
    path = tmp_path / "agent.ps1"
    path.write_bytes(SCRIPT.encode("utf-8"))
    return path


def test_check_mode_reports_a_stale_table_and_leaves_the_file(stale_agent, capsys):
    assert gen.main(["--check", "--agent", str(stale_agent)]) == 1
    assert stale_agent.read_bytes() == SCRIPT.encode("utf-8")
    assert "stale" in capsys.readouterr().err


def test_write_mode_regenerates_only_the_region(stale_agent):
    assert gen.main(["--agent", str(stale_agent)]) == 0
    written = stale_agent.read_text(encoding="utf-8")
    assert gen.main(["--check", "--agent", str(stale_agent)]) == 0
    assert written.startswith("param([string]$RequestJson)\n$before = 1\n" + gen.BEGIN_MARKER + "\n")
    assert written.endswith(gen.END_MARKER + "\n$after = 2\n")
    assert "'old.op'" not in written
    assert gen.current_region(written) == gen.render_op_table()


def test_write_mode_is_idempotent(stale_agent):
    gen.main(["--agent", str(stale_agent)])
    first = stale_agent.read_bytes()
    gen.main(["--agent", str(stale_agent)])
    assert stale_agent.read_bytes() == first


def test_rendered_table_parses_to_the_ops_of_ops_py():
    tree = ps_ast.parse(gen.render_op_table())
    assert ps_ast.syntax_errors(tree) == []
    table = ps_ast.assigned_literal(tree, "OpTable")
    assert list(table) == list(OPS)
    assert table["reg.write"] == {
        "Writes": True,
        "Fields": {
            "path": {"Type": "str", "Required": True},
            "name": {"Type": "str", "Required": True},
            "type": {"Type": "str", "Required": True},
            "value": {"Type": "dict", "Required": True},
            "expect": {"Type": "expect", "Required": False},
        },
    }
    assert table["os.info"] == {"Writes": False, "Fields": {}}


def test_a_changed_spec_makes_the_real_agent_stale():
    script = client.AGENT_PATH.read_bytes().decode("utf-8")
    changed = dict(OPS)
    changed["os.info"] = OpSpec("os.info", False, "", {"verbose": Field("bool")})
    assert gen.is_current(script)
    assert not gen.is_current(script, changed)


@pytest.mark.parametrize("bad_name", ["x'; Invoke-Expression 'y", "Reg.Read", "reg read", ""])
def test_names_that_could_break_the_quoting_are_refused(bad_name):
    with pytest.raises(ValueError, match="expected lowercase"):
        gen.render_op_table({bad_name: OpSpec(bad_name, False, "")})


@pytest.mark.parametrize(
    "script",
    [
        "no markers at all\n",
        f"{gen.END_MARKER}\n{gen.BEGIN_MARKER}\n",
        f"{gen.BEGIN_MARKER}\n{gen.BEGIN_MARKER}\n{gen.END_MARKER}\n",
    ],
)
def test_malformed_markers_are_an_error(script, tmp_path):
    with pytest.raises(gen.StaleRegionError):
        gen.replace_region(script, "x\n")
    path = tmp_path / "agent.ps1"
    path.write_text(script, encoding="utf-8")
    assert gen.main(["--check", "--agent", str(path)]) == 2


def test_the_shipped_agent_is_current():
    assert gen.main(["--check"]) == 0
