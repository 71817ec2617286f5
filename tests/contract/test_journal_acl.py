"""The journal folders on the host: only Administrators and SYSTEM can write there.

An elevated agent appends records to %ProgramData%\\mssql.tls\\journal and rollback replays them
as the administrator, so whoever can write there chooses what a rollback writes. agent.ps1 is
read from its parse tree (no PowerShell here): both folders get a protected DACL granting
Administrators (S-1-5-32-544) and SYSTEM (S-1-5-18) full control and nobody else, and
Administrators as owner, when they are created (in the same call: no moment without the ACL)
and when they exist already without it, on every write batch.
"""

from __future__ import annotations

import re

import ps_ast
import pytest

ADMINISTRATORS, SYSTEM = "S-1-5-32-544", "S-1-5-18"


@pytest.fixture(scope="module")
def functions(agent_tree) -> dict[str, str]:
    return {name: ps_ast.text(node) for name, node in ps_ast.function_definitions(agent_tree).items()}


def test_the_journal_sids_are_administrators_and_system_only(agent_tree):
    assert ps_ast.assigned_literal(agent_tree, "JournalSids") == [ADMINISTRATORS, SYSTEM]


def test_the_acl_is_protected_owned_by_administrators_and_grants_full_control_to_those_two(functions):
    security = functions["New-JournalSecurity"]
    assert "$security.SetAccessRuleProtection($true, $false)" in security  # nothing inherited or copied
    assert (
        "$security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier($JournalSids[0])))"
        in (security)
    )
    rules = re.findall(r"FileSystemAccessRule\(([^)]*)\)", security)
    assert rules == ["$identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'"]
    loop = re.search(r"foreach \(\$sid in \$JournalSids\) \{(.*?)\n    \}", security, re.S)
    assert loop and "SecurityIdentifier($sid)" in loop[1] and "$security.AddAccessRule($rule)" in loop[1]
    assert security.count("AddAccessRule") == 1
    assert not re.search(r"SetAccessRule\b|AddAuditRule|RemoveAccessRule|Deny", security)


def test_the_check_refuses_unprotected_foreign_owned_or_foreign_rules(functions):
    check = functions["Test-JournalSecurity"]
    assert "if (-not $Security.AreAccessRulesProtected) { return $false }" in check
    assert "$owner = $Security.GetOwner([System.Security.Principal.SecurityIdentifier])" in check
    assert "if ($null -eq $owner -or $JournalSids -notcontains $owner.Value) { return $false }" in check
    assert re.search(
        r"foreach \(\$rule in \$Security\.GetAccessRules\(\$true, \$true, [^)]*\)\) \{\s*"
        r"if \(\$JournalSids -notcontains \$rule\.IdentityReference\.Value\) \{ return \$false \}",
        check,
    )


def test_a_new_folder_is_created_with_the_acl_and_an_existing_one_gets_it(functions):
    folder = functions["Initialize-JournalFolder"]
    branches = re.search(
        r"Assert-NotReparsePoint \$Path\s*"
        r"if \(-not \[System\.IO\.Directory\]::Exists\(\$Path\)\) \{\s*"
        r"\$null = \[System\.IO\.Directory\]::CreateDirectory\(\$Path, \(New-JournalSecurity\)\)\s*"
        r"\} elseif \(-not \(Test-JournalSecurity "
        r"\(\[System\.IO\.Directory\]::GetAccessControl\(\$Path\)\)\)\) \{\s*"
        r"\[System\.IO\.Directory\]::SetAccessControl\(\$Path, \(New-JournalSecurity\)\)\s*\}",
        folder,
    )
    assert branches, folder


def test_both_folders_are_initialised_on_every_write_and_nothing_else_creates_folders(
    functions, agent_source
):
    directory = functions["Get-JournalDirectory"]
    assert "$root = [System.IO.Path]::Combine($env:ProgramData, 'mssql.tls')" in directory
    assert "$directory = [System.IO.Path]::Combine($root, 'journal')" in directory
    assert re.search(
        r"if \(\$Create\) \{\s*Initialize-JournalFolder \$root\s*Initialize-JournalFolder \$directory\s*\}",
        directory,
    )
    # The only folders the agent creates are these two, through Initialize-JournalFolder.
    assert agent_source.decode().count("CreateDirectory(") == 1
    # Every append asks for the folders to be initialised; reads never create or change them.
    assert "$path = Get-JournalPath $Id $true" in functions["Add-JournalLine"]
    assert "(Get-JournalDirectory $Create)" in functions["Get-JournalPath"]
    writers = [
        f for f, text in functions.items() if re.search(r"Get-Journal(Path \S+|Directory) \$true", text)
    ]
    assert writers == ["Add-JournalLine"], writers
    assert "Get-JournalDirectory $false" in functions["Invoke-OpJournalRead"]
