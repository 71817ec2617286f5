"""Static checks of agent.ps1 and its bootstrap for the defects of issue 8 (agent hardening).

No PowerShell runs here: each test reads the parse tree (or, for the one C# block, its
text) and checks the shape that the fix needs. Each would fail on the agent before the fix;
the Windows behaviour itself is imitated and tested in the lab (tests/lab/tests).
"""

from __future__ import annotations

import re

import ps_ast
import pytest
from tree_sitter import Node


@pytest.fixture(scope="module")
def functions(agent_tree) -> dict[str, Node]:
    return ps_ast.function_definitions(agent_tree)


def _calls(node: Node, name: str) -> list[Node]:
    return [c for c in ps_ast.commands(node) if (ps_ast.command_name(c) or "").lower() == name.lower()]


def _member_calls(node: Node, member: str) -> list[Node]:
    found = []
    for n in ps_ast.walk(node):
        if n.type == "invokation_expression":
            name = next((c for c in n.children if c.type == "member_name"), None)
            if name is not None and ps_ast.text(name).lower() == member.lower():
                found.append(n)
    return found


def _in_loop(node: Node) -> bool:
    loops = ("foreach_statement", "for_statement", "while_statement", "do_statement")
    parent = node.parent
    while parent is not None and parent.type != "function_statement":
        if parent.type in loops:
            return True
        parent = parent.parent
    return False


def _ancestor_types(node: Node) -> list[str]:
    types = []
    parent = node.parent
    while parent is not None:
        types.append(parent.type)
        parent = parent.parent
    return types


def _native_block(agent_source: bytes) -> str:
    match = re.search(rb"Add-Type -TypeDefinition @'\r?\n(.*?)\r?\n'@", agent_source, re.S)
    assert match, "no Add-Type here-string"
    return match.group(1).decode("ascii")


# --- 1. the bootstrap on FIPS hosts, and a fatal reply for any failure ----------------------


def test_bootstrap_hashes_with_the_fips_validated_provider(bootstrap_tree):
    text = ps_ast.text(bootstrap_tree.root_node)
    assert "SHA256CryptoServiceProvider" in text
    creates = [
        n
        for n in _member_calls(bootstrap_tree.root_node, "Create")
        if "sha256" in ps_ast.text(n.children[0]).lower()
    ]
    assert not creates, "SHA256.Create() is the managed class that throws under the FIPS policy"


def test_every_bootstrap_statement_after_write_fatal_runs_in_a_try_that_prints_fatal(bootstrap_tree):
    top = next(n for n in ps_ast.walk(bootstrap_tree.root_node) if n.type == "statement_list")
    kinds = [c for c in top.children if c.type not in ("comment",) and ps_ast.text(c).strip()]
    first, *rest = kinds
    assert ps_ast.text(first).startswith("$ErrorActionPreference")
    function, *after = rest
    assert function.type == "function_statement"
    assert len(after) == 1 and after[0].type == "try_statement", [c.type for c in after]
    catches = [c for c in after[0].children if c.type == "catch_clauses"]
    assert catches and _calls(catches[0], "Write-Fatal")


# --- 2. svc.restart / svc.start poll and report a service that stopped while starting --------


def test_services_are_polled_not_waited_for_one_state(agent_tree, functions):
    assert not _member_calls(agent_tree.root_node, "WaitForStatus")
    wait = functions["Wait-ServiceState"]
    assert _calls(wait, "New-StartFailure") and _calls(wait, "Start-Sleep")
    failure = functions["New-StartFailure"]
    assert _calls(failure, "Get-ServiceExitCodes") and _calls(failure, "Add-ErrorDetail")


def test_error_results_carry_the_detail(functions):
    assert "Detail" in [p.capitalize() for p in ps_ast.function_parameters(functions["New-ErrorResult"])]
    batch = functions["Invoke-Batch"]
    assert any("Get-ErrorDetail" in ps_ast.text(c) for c in _calls(batch, "New-ErrorResult")), (
        "a failed op's result does not pass its detail on"
    )


# --- 3. cluster.restart checks the CIM method's ReturnValue -----------------------------------


def test_every_cim_method_result_is_checked(agent_tree):
    calls = _calls(agent_tree.root_node, "Invoke-CimMethod")
    assert calls
    for call in calls:
        outer = call.parent
        while outer is not None and outer.type != "command":
            outer = outer.parent
        assert outer is not None and ps_ast.command_name(outer) == "Assert-CimMethodResult", ps_ast.text(call)


# --- 4. dependents in odd states -------------------------------------------------------------


def test_every_dependent_that_is_not_stopped_is_accounted_for(agent_tree):
    assert ps_ast.assigned_literal(agent_tree, "RestartedDependentStates") == [
        "Running",
        "StartPending",
        "ContinuePending",
    ]
    assert ps_ast.assigned_literal(agent_tree, "UnrestorableDependentStates") == ["Paused", "PausePending"]


# --- 5. writes open ancestors read-only ---------------------------------------------------------


def test_keys_are_opened_for_writing_only_outside_the_walk(agent_tree):
    for call in _member_calls(agent_tree.root_node, "OpenSubKey"):
        arguments = next(c for c in call.children if c.type == "argument_list")
        writable = ps_ast.text(arguments).split(",")[-1].strip(" )").lower()
        if writable != "$false":
            assert not _in_loop(call), f"a key opened writable inside a walk: {ps_ast.text(call)}"


# --- 6. one unreadable item fails its entry only -----------------------------------------------


@pytest.mark.parametrize(
    "function",
    ["Read-RegNode", "Find-RegKeys", "Resolve-PathFrom", "Invoke-OpFileVersion", "Invoke-OpFileTail"],
)
def test_multi_entry_reads_catch_per_entry(functions, function):
    catches = [n for n in ps_ast.walk(functions[function]) if n.type == "catch_clause"]
    assert any(_calls(c, "ConvertTo-EntryError") for c in catches), f"{function} has no per-entry error"


def test_find_reg_keys_closes_what_it_opened_on_failure(functions):
    find = functions["Find-RegKeys"]
    finally_blocks = [n for n in ps_ast.walk(find) if n.type == "finally_clause"]
    assert any(_member_calls(f, "Dispose") for f in finally_blocks)
    outer_catch = [n for n in ps_ast.walk(find) if n.type == "catch_clause" and "throw" in ps_ast.text(n)]
    assert outer_catch and _member_calls(outer_catch[0], "Dispose")


# --- 7. REG_DWORD of the wrong length, untyped values ---------------------------------------------


def test_untyped_and_malformed_values_are_read_raw(agent_source, functions):
    get = functions["Get-RegValue"]
    assert len(_calls(get, "Get-RawRegValue")) >= 3  # unknown kind, absent-from-.NET, wide DWORD/QWORD
    assert "[int]$raw" not in ps_ast.text(get).replace(" ", "")
    assert "RegQueryValueExW" in _native_block(agent_source)


# --- 8. key facts from property 2, without opening the key -------------------------------------


def test_certificate_keys_are_never_opened(agent_tree, functions):
    members = {
        ps_ast.text(n).lower()
        for n in ps_ast.walk(agent_tree.root_node)
        if n.type == "member_name" and n.parent is not None and n.parent.type != "comment"
    }
    assert not members & {"privatekey", "getrsaprivatekey", "getecdsaprivatekey"}
    assert _member_calls(functions["Get-CertEntry"], "GetKeyProvInfo")


def test_property_2_is_decoded_from_unmanaged_memory(agent_source):
    native = _native_block(agent_source)
    assert "struct CRYPT_KEY_PROV_INFO" in native
    assert "Marshal.AllocHGlobal(size)" in native  # the structure's pointers point into this buffer


# --- 9. error kinds from NativeErrorCode ----------------------------------------------------------


def test_native_error_codes_map_to_kinds(agent_tree, functions):
    table = ps_ast.assigned_literal(agent_tree, "NativeErrorKinds")
    assert table["5"] == table["-2147024891"] == "access_denied"
    assert table["2"] == table["3"] == table["-2146885628"] == "not_found"
    assert "NativeErrorCode" in ps_ast.text(functions["Get-ErrorKind"])


# --- 10. 32-bit paths from Wow6432Node keys -------------------------------------------------------


def test_paths_from_wow64_keys_are_redirected(functions):
    values = functions["Get-PathFromValues"]
    assert _calls(values, "Test-Wow64Key") and _calls(values, "Convert-Wow64Path")


# --- 11. ordinal ordering -------------------------------------------------------------------------


def test_no_culture_sensitive_sort(agent_tree, functions):
    assert not _calls(agent_tree.root_node, "Sort-Object")
    assert "OrdinalIgnoreCase" in ps_ast.text(functions["Get-OrdinalSorted"])
    assert "Ordinal" in ps_ast.text(functions["Invoke-OpJournalRead"])


# --- 12. one pass over each file, compiled escaping ------------------------------------------------


def test_files_are_read_once_in_compiled_code(agent_tree, functions):
    assert not _member_calls(agent_tree.root_node, "ReadLine"), "a line loop in PowerShell"
    assert "MatchEvaluator" not in ps_ast.text(agent_tree.root_node)
    tail = functions["Invoke-OpFileTail"]
    reads = _calls(tail, "Read-TextTail")
    assert len(reads) == 1
    # Inside the loops over targets and suffixes only: never once per pattern.
    loops = [t for t in _ancestor_types(reads[0]) if t in ("foreach_statement", "for_statement")]
    assert len(loops) == 2


# --- the journal folder's ACL --------------------------------------------------------------------


def test_an_existing_journal_folder_gets_the_acl_too(functions):
    directory = functions["Initialize-JournalFolder"]
    assert _member_calls(directory, "SetAccessControl") and _calls(directory, "Test-JournalSecurity")
