"""No request content can reach code execution in agent.ps1 or its bootstrap.

AST checks over the tree-sitter parse; tests/contract/test_ps_ast_checks.py
proves that each check catches a bad snippet.
"""

from __future__ import annotations

import hashlib

import ps_ast


def _messages(findings: list[ps_ast.Finding]) -> str:
    return "; ".join(map(str, findings))


def test_agent_runs_no_forbidden_command(agent_tree):
    findings = ps_ast.forbidden_command_findings(agent_tree)
    assert not findings, _messages(findings)


def test_agent_invokes_only_literal_commands_and_scriptblocks(agent_tree):
    findings = ps_ast.dynamic_invocation_findings(agent_tree)
    assert not findings, _messages(findings)


def test_agent_calls_no_script_running_member(agent_tree):
    findings = ps_ast.forbidden_member_findings(agent_tree)
    assert not findings, _messages(findings)


def test_agent_creates_no_scriptblock(agent_tree):
    findings = ps_ast.script_compilation_findings(agent_tree)
    assert not findings, _messages(findings)


def test_agent_has_one_add_type_of_a_constant_here_string(agent_tree):
    findings = ps_ast.add_type_findings(agent_tree, expected=1)
    assert not findings, _messages(findings)


def test_bootstrap_runs_only_the_hash_verified_agent(agent_source, bootstrap_tree):
    findings = ps_ast.bootstrap_findings(bootstrap_tree, hashlib.sha256(agent_source).hexdigest())
    assert not findings, _messages(findings)


def test_bootstrap_compiles_only_stdin_line_one_unpacked_in_memory(bootstrap_tree):
    # base64 -> one GZipStream in Decompress mode -> a fresh MemoryStream -> the bytes that are
    # hashed and compiled; nothing else writes into that stream.
    findings = ps_ast.bootstrap_unpack_findings(bootstrap_tree)
    assert not findings, _messages(findings)


def test_bootstrap_names_only_the_types_and_members_it_needs(bootstrap_tree):
    # No file, registry or network read, no assembly load, no other route for code or data.
    findings = ps_ast.bootstrap_vocabulary_findings(bootstrap_tree)
    assert not findings, _messages(findings)


def test_bootstrap_runs_no_forbidden_command_or_member(bootstrap_tree):
    findings = ps_ast.forbidden_command_findings(bootstrap_tree) + ps_ast.forbidden_member_findings(
        bootstrap_tree
    )
    assert not findings, _messages(findings)


def test_bootstrap_has_no_add_type(bootstrap_tree):
    assert not ps_ast.add_type_findings(bootstrap_tree, expected=0)
