"""Each AST check used on agent.ps1 catches a small bad script (and passes a good one).

Without these, a check that silently stopped matching (a grammar change, a
typo in a node type) would keep the contract tests green while checking nothing.
"""

from __future__ import annotations

import hashlib

import ps_ast
import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client


def _handler(body: str, name: str = "Invoke-OpRegRead") -> tuple[set[str], list[ps_ast.Finding]]:
    tree = ps_ast.parse(f"function {name}($op) {{\n{body}\n}}\n")
    assert not ps_ast.syntax_errors(tree)
    return ps_ast.handler_field_reads(ps_ast.function_definitions(tree)[name])


# --- syntax --------------------------------------------------------------------


def test_syntax_errors_reports_the_first_error_location():
    findings = ps_ast.syntax_errors(ps_ast.parse("$a = 1\n$b = @{ x = 1\nif ($c {\n"))
    assert findings
    assert findings[0].line >= 2
    assert "line" in str(findings[0]) and "column" in str(findings[0])


def test_syntax_errors_reports_powershell_7_operators_the_grammar_rejects():
    assert ps_ast.syntax_errors(ps_ast.parse("$x = $y ?? 1\n"))
    assert ps_ast.syntax_errors(ps_ast.parse("$z = $a ? 1 : 2\n"))


def test_syntax_errors_passes_valid_script():
    assert ps_ast.syntax_errors(ps_ast.parse("function F($a) { if ($a) { 1 } else { 2 } }\n")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "Get-A && Get-B\n",
        "Get-A || Get-B\n",
        "$x = ConvertTo-Json -InputObject $y -AsArray\n",
        "$h = ConvertFrom-Json $s -AsHashtable\n",
        "if ($IsWindows) { 1 }\n",
        "1..3 | ForEach-Object -Parallel { $_ }\n",
        "$s = Join-String -InputObject $a\n",
    ],
)
def test_ps7_only_findings_catches(snippet):
    assert ps_ast.ps7_only_findings(ps_ast.parse(snippet))


def test_ps7_only_findings_passes_ps51_script():
    tree = ps_ast.parse(
        "$j = ConvertTo-Json -InputObject $x -Depth 100 -Compress\n$a = @(1) | ForEach-Object { $_ }\n"
    )
    assert ps_ast.ps7_only_findings(tree) == []


# --- dispatch and field reads ------------------------------------------------------


def test_dispatch_table_reads_the_switch():
    tree = ps_ast.parse(
        "function Invoke-AgentOp($op) {\n switch -CaseSensitive ($op.op) {\n"
        "  'reg.read' { Invoke-OpRegRead $op }\n  'os.info' { Invoke-OpOsInfo $op }\n"
        "  default { throw 'x' }\n }\n}\n"
    )
    assert ps_ast.dispatch_table(tree) == ({"reg.read": "Invoke-OpRegRead", "os.info": "Invoke-OpOsInfo"}, [])


@pytest.mark.parametrize(
    "clause",
    [
        "'reg.read' { Invoke-OpRegRead $op; Remove-Item x }",  # more than the handler call
        '"reg.$kind" { Invoke-OpRegRead $op }',  # computed op name
        "'reg.read' { Invoke-OpRegRead $op.path }",  # handler not given $op
        "'reg.read' { & $handler $op }",  # computed handler
    ],
)
def test_dispatch_table_rejects_clauses_that_are_not_literal_handler_calls(clause):
    tree = ps_ast.parse(f"function Invoke-AgentOp($op) {{\n switch ($op.op) {{\n  {clause}\n }}\n}}\n")
    table, problems = ps_ast.dispatch_table(tree)
    assert problems and not table


def test_dispatch_table_without_dispatcher_is_a_problem():
    assert ps_ast.dispatch_table(ps_ast.parse("function Other($op) { }\n"))[1]


def test_handler_field_reads_collects_members_and_presence_checks():
    fields, problems = _handler(
        "$a = $op.path\n$b = $op.value.data\nif (Test-OpField $op 'expect') { $c = $op.expect }"
    )
    assert (fields, problems) == ({"path", "value", "expect"}, [])


def test_handler_field_reads_sees_reads_in_strings_and_nested_blocks():
    fields, problems = _handler('$m = "at $($op.path)"\n$x = @(1) | ForEach-Object { $op.depth }')
    assert (fields, problems) == ({"path", "depth"}, [])


def test_handler_field_reads_reports_an_undeclared_member_as_a_field():
    fields, _findings = _handler("$a = $op.Path2")
    assert fields == {"Path2"}


@pytest.mark.parametrize(
    "body",
    [
        "$copy = $op",  # the op escapes into a variable
        "Some-Helper $op",  # handed to another function
        "$v = $op['path']",  # indexed instead of a member read
        "$op.PSObject.Properties | Out-Null",  # reflection reads arbitrary members... as field 'PSObject'
        "$v = $op.ToString()",  # method call
        "Test-OpField $op $name",  # presence check with a computed name
        '$s = "$op"',  # stringified
        "$v = ${op}.$name",  # dynamic member
        "Some-Helper @op",  # splatted
    ],
)
def test_handler_field_reads_reports_other_uses_of_op(body):
    fields, problems = _handler(body)
    assert problems or fields == {"PSObject"}


# --- code execution -------------------------------------------------------------------


@pytest.mark.parametrize(
    "snippet",
    [
        "iex $request.x\n",
        "Invoke-Expression -Command $s\n",
        "Start-Process -FilePath cmd.exe\n",
        "cmd.exe /c $x\n",
        "Set-Alias -Name go -Value Invoke-Expression\n",
        "Invoke-Command -ScriptBlock { 1 }\n",
    ],
)
def test_forbidden_command_findings_catches(snippet):
    assert ps_ast.forbidden_command_findings(ps_ast.parse(snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        "& $handler $op\n",
        ". $script\n",
        '& "Invoke-Op$name" $op\n',
        "& ('Get-' + $noun)\n",
        "& (Get-Command $name)\n",
    ],
)
def test_dynamic_invocation_findings_catches(snippet):
    assert ps_ast.dynamic_invocation_findings(ps_ast.parse(snippet))


def test_dynamic_invocation_findings_allows_literals_and_scriptblocks():
    tree = ps_ast.parse("& { 1 }\n. { 2 }\n& 'Get-Item' x\n& Get-Date\n")
    assert ps_ast.dynamic_invocation_findings(tree) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "$sb = $ExecutionContext.InvokeCommand.NewScriptBlock($text)\n",
        "$x = $ExecutionContext.InvokeCommand.ExpandString($data)\n",
        "$r = $block.Invoke()\n",
        "$ps.AddScript($text)\n",
    ],
)
def test_forbidden_member_findings_catches(snippet):
    assert ps_ast.forbidden_member_findings(ps_ast.parse(snippet))


@pytest.mark.parametrize(
    "snippet",
    [
        "$sb = [scriptblock]::Create($text)\n",
        "$sb = [System.Management.Automation.ScriptBlock]::Create($text)\n",
        "$ps = [powershell]::Create()\n",
        "$t = [scriptblock]\n$sb = $t::Create($text)\n",
    ],
)
def test_script_compilation_findings_catches(snippet):
    assert ps_ast.script_compilation_findings(ps_ast.parse(snippet))


def test_script_compilation_findings_allows_other_factories():
    tree = ps_ast.parse("$h = [System.Security.Cryptography.SHA256]::Create()\n")
    assert ps_ast.script_compilation_findings(tree) == []


# --- Add-Type ----------------------------------------------------------------------


GOOD_ADD_TYPE = "Add-Type -TypeDefinition @'\npublic static class A { }\n'@\n"


def test_add_type_findings_passes_one_constant_here_string():
    assert ps_ast.add_type_findings(ps_ast.parse(GOOD_ADD_TYPE)) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "Add-Type -TypeDefinition $source\n",
        'Add-Type -TypeDefinition "public class $name { }"\n',
        'Add-Type -TypeDefinition @"\npublic class $name { }\n"@\n',
        "Add-Type -TypeDefinition 'public class A { }'\n",
        "Add-Type -Path C:\\x.cs\n",
        "Add-Type @parameters\n",
        GOOD_ADD_TYPE + GOOD_ADD_TYPE,
        "$x = 1\n",
    ],
)
def test_add_type_findings_catches(snippet):
    assert ps_ast.add_type_findings(ps_ast.parse(snippet))


# --- error kinds ---------------------------------------------------------------------


def test_error_kinds_used_collects_literal_kinds_and_tables():
    tree = ps_ast.parse(
        "throw (New-AgentError 'not_found' 'x')\n$r = New-ErrorResult 'skipped' 'y'\n"
        "$ExceptionKinds = @{ 'System.X' = 'bogus_kind' }\n"
    )
    assert ps_ast.error_kinds_used(tree) == ({"not_found", "skipped", "bogus_kind"}, [])


# --- the bootstrap -------------------------------------------------------------------

AGENT = b"param([string]$RequestJson)\n'agent'\n"
DIGEST = hashlib.sha256(AGENT).hexdigest()
BOOTSTRAP = client.bootstrap_script(AGENT)
CREATE = "$agent = [ScriptBlock]::Create([Text.Encoding]::UTF8.GetString($bytes))\n"
CHECK = f"if ($hash -ne '{DIGEST}') {{ Write-Fatal 'invalid_request' 'agent script hash mismatch' }}\n"


def test_bootstrap_fixture_has_the_shape_the_mutations_edit():
    assert CREATE in BOOTSTRAP and CHECK in BOOTSTRAP
    assert ps_ast.bootstrap_findings(ps_ast.parse(BOOTSTRAP), DIGEST) == []


@pytest.mark.parametrize(
    ("mutation", "why"),
    [
        (
            lambda s: s.replace("GetString($bytes)", "GetString([Convert]::FromBase64String($lines[1]))"),
            "compiles unverified stdin",
        ),
        (lambda s: s.replace(CHECK, "").replace(CREATE, CREATE + CHECK), "checks the hash after compiling"),
        (
            lambda s: s.replace(CHECK, CHECK + "$bytes = [Convert]::FromBase64String($lines[1])\n"),
            "replaces the verified bytes",
        ),
        (lambda s: s.replace(DIGEST, "0" * 64), "checks against another digest"),
        (
            lambda s: s.replace(
                "{ Write-Fatal 'invalid_request' 'agent script hash mismatch' }", "{ $warned = 1 }"
            ),
            "goes on after a mismatch",
        ),
        (lambda s: s + "& $other\n", "invokes something else"),
        (lambda s: s + "$second = [ScriptBlock]::Create($lines[1])\n", "creates a second ScriptBlock"),
        (lambda s: s.replace("$sha.ComputeHash($bytes)", "$sha.ComputeHash($lines)"), "hashes other data"),
    ],
)
def test_bootstrap_findings_catches(mutation, why):
    mutated = mutation(BOOTSTRAP)
    assert mutated != BOOTSTRAP, f"mutation did not apply: {why}"
    assert ps_ast.bootstrap_findings(ps_ast.parse(mutated), DIGEST), why


UNPACK = "    $gzip.CopyTo($unpacked)\n"


def test_bootstrap_fixture_has_the_unpacking_the_mutations_edit():
    assert UNPACK in BOOTSTRAP
    tree = ps_ast.parse(BOOTSTRAP)
    assert ps_ast.bootstrap_unpack_findings(tree) == []
    assert ps_ast.bootstrap_vocabulary_findings(tree) == []


@pytest.mark.parametrize(
    ("mutation", "why"),
    [
        (
            lambda s: s.replace("FromBase64String($lines[0])", "FromBase64String($lines[1])"),
            "unpacks the request",
        ),
        (
            lambda s: s.replace("[IO.MemoryStream]::new($packed)", "[IO.MemoryStream]::new($other)"),
            "unpacks another variable",
        ),
        (lambda s: s.replace("Decompress)", "Compress)"), "compresses instead"),
        (
            lambda s: s.replace(UNPACK, UNPACK + "    $unpacked.Write($packed, 0, 4)\n"),
            "writes other bytes into the unpacked stream",
        ),
        (lambda s: s.replace("$unpacked.ToArray()", "$source.ToArray()"), "compiles the packed bytes"),
        (lambda s: s.replace(UNPACK, "    $source.CopyTo($unpacked)\n"), "copies without unpacking"),
        (lambda s: s.replace(UNPACK, UNPACK + UNPACK), "unpacks twice"),
        (
            lambda s: s.replace(UNPACK, UNPACK + "    $packed = [Convert]::FromBase64String($lines[1])\n"),
            "assigns the packed bytes twice",
        ),
        (
            lambda s: s.replace("@($input | ForEach-Object", "@(Get-Content C:\\agent.txt | ForEach-Object"),
            "reads its lines from a file",
        ),
        (
            lambda s: s.replace("[IO.MemoryStream]::new()", "[IO.MemoryStream]::new($packed)"),
            "starts the unpacked stream with the packed bytes",
        ),
    ],
)
def test_bootstrap_unpack_findings_catches(mutation, why):
    mutated = mutation(BOOTSTRAP)
    assert mutated != BOOTSTRAP, f"mutation did not apply: {why}"
    assert ps_ast.bootstrap_unpack_findings(ps_ast.parse(mutated)), why


@pytest.mark.parametrize(
    "extra",
    [
        "$asm = [Reflection.Assembly]::Load($bytes)\n",
        "$text = (New-Object Net.WebClient).DownloadString('http://example.invalid/a')\n",
        "$file = [IO.File]::ReadAllBytes('C:\\agent.ps1')\n",
        "$type = $bytes.GetType()\n",
        "$key = [Microsoft.Win32.Registry]::LocalMachine\n",
    ],
)
def test_bootstrap_vocabulary_findings_catches(extra):
    assert ps_ast.bootstrap_vocabulary_findings(ps_ast.parse(BOOTSTRAP + extra))


# --- literals ----------------------------------------------------------------------


def test_assigned_literal_reads_nested_tables():
    tree = ps_ast.parse("$T = @{\n 'a.b' = @{ W = $true; F = @{} }\n}\n$L = @('x', 'y')\n")
    assert ps_ast.assigned_literal(tree, "T") == {"a.b": {"W": True, "F": {}}}
    assert ps_ast.assigned_literal(tree, "L") == ["x", "y"]


def test_assigned_literal_rejects_computed_values():
    with pytest.raises(ValueError):
        ps_ast.assigned_literal(ps_ast.parse("$T = @{ a = Get-Date }\n"), "T")


# --- names that resolve --------------------------------------------------------------


def test_undefined_variable_findings_catches_a_typo():
    tree = ps_ast.parse("$timeout = 5\nStart-Sleep -Seconds $timout\n")
    assert [f.message for f in ps_ast.undefined_variable_findings(tree)] == ["$timout is never assigned"]


def test_undefined_variable_findings_knows_parameters_loops_and_automatics():
    tree = ps_ast.parse(
        "function F($a) { foreach ($x in $a) { $y = $x } }\n"
        "for ($i = 0; $i -lt 2; $i++) { }\n$p = $env:ProgramData\n"
        "try { } catch { $m = $_.Exception }\nif ($null -eq $true) { }\n"
    )
    assert ps_ast.undefined_variable_findings(tree) == []


def test_unknown_command_findings_catches_a_misspelt_function():
    tree = ps_ast.parse("function Get-IntField($v) { $v }\n$x = Get-IntFeild 3\n$y = Get-Date\n")
    names = [f.message for f in ps_ast.unknown_command_findings(tree, frozenset({"Get-Date"}))]
    assert names == ["command Get-IntFeild is neither defined here nor a known cmdlet"]
