"""agent.ps1 and the bootstrap are valid Windows PowerShell 5.1, as far as a parser can tell.

The tree-sitter PowerShell grammar parses both scripts; any ERROR or MISSING
node fails the test with the location of the first one. The grammar accepts
some PowerShell 7 syntax (`&&`, `||`), so those and PS7-only commands,
parameters and variables are checked separately.
"""

from __future__ import annotations

import hashlib

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client


def _report(findings: list[ps_ast.Finding]) -> str:
    return f"{len(findings)} problem(s); first at {findings[0]}" if findings else ""


def test_agent_parses_without_error_nodes(agent_tree):
    errors = ps_ast.syntax_errors(agent_tree)
    assert not errors, _report(errors)


def test_bootstrap_parses_without_error_nodes(bootstrap_tree):
    errors = ps_ast.syntax_errors(bootstrap_tree)
    assert not errors, _report(errors)


def test_bootstrap_starts_with_marker_and_embeds_the_agent_digest(agent_source):
    bootstrap = client.bootstrap_script(agent_source)
    assert bootstrap.splitlines()[0] == client.BOOTSTRAP_MARKER
    assert hashlib.sha256(agent_source).hexdigest() in bootstrap


def test_agent_is_ascii_without_bom(agent_source):
    # The bootstrap decodes the script as UTF-8 and hashes its exact bytes; ASCII keeps
    # both unambiguous whatever editor touches the file.
    assert not agent_source.startswith(b"\xef\xbb\xbf")
    bad = [i for i, byte in enumerate(agent_source) if byte > 0x7F]
    assert not bad, f"non-ASCII byte at offset {bad[0]}"


def test_agent_takes_only_the_request_json_parameter(agent_tree):
    first = agent_tree.root_node.children[0]
    assert first.type == "param_block"
    params = [n for n in ps_ast.walk(first) if n.type == "script_parameter"]
    assert [ps_ast.text(p) for p in params] == ["[string]$RequestJson"]


@pytest.mark.parametrize("tree_name", ["agent_tree", "bootstrap_tree"])
def test_no_powershell_7_only_constructs(tree_name, request):
    findings = ps_ast.ps7_only_findings(request.getfixturevalue(tree_name))
    assert not findings, _report(findings)


# Cmdlets the scripts may call: all ship with Windows PowerShell 5.1 (Utility, Management,
# CimCmdlets, Diagnostics modules), except the TLS module's cmdlets, which the agent calls
# only after Get-Command found them (Server 2016 and later), and shutdown.exe (os.reboot, as
# ansible.windows' reboot does). Sort-Object is not among them: it compares strings by the
# culture's rules, the lab ordinally (issue 8, defect 11).
KNOWN_CMDLETS = frozenset(
    {
        "Add-Type",
        "ConvertFrom-Json",
        "ConvertTo-Json",
        "ForEach-Object",
        "Where-Object",
        "Get-CimInstance",
        "Invoke-CimMethod",
        "Get-Command",
        "Get-Service",
        "Get-WinEvent",
        "New-Object",
        "Start-Sleep",
        "Write-Output",
        "Get-TlsCipherSuite",
        "Enable-TlsCipherSuite",
        "Disable-TlsCipherSuite",
        "shutdown.exe",
    }
)


@pytest.mark.parametrize("tree_name", ["agent_tree", "bootstrap_tree"])
def test_every_command_is_a_defined_function_or_a_known_cmdlet(tree_name, request):
    findings = ps_ast.unknown_command_findings(request.getfixturevalue(tree_name), KNOWN_CMDLETS)
    assert not findings, _report(findings)


@pytest.mark.parametrize("tree_name", ["agent_tree", "bootstrap_tree"])
def test_every_variable_read_is_assigned_somewhere(tree_name, request):
    findings = ps_ast.undefined_variable_findings(request.getfixturevalue(tree_name))
    assert not findings, _report(findings)
