"""Checks over the tree-sitter PowerShell parse of agent.ps1 and its bootstrap.

Each check takes a parsed tree and returns a list of ``Finding`` (empty when
the script passes), so the contract tests can run it on the real scripts and,
to prove the check bites, on small bad snippets. Everything here reads the
parse tree; nothing matches regular expressions over the script text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

_PARSER = Parser(Language(tree_sitter_powershell.language()))

DISPATCHER = "Invoke-AgentOp"
HANDLER_PREFIX = "Invoke-Op"
HANDLER_PARAM = "op"
PRESENCE_HELPER = "Test-OpField"
ERROR_HELPERS = ("New-AgentError", "New-ErrorResult")
ERROR_KIND_TABLES = ("ExceptionKinds", "HResultKinds", "CimErrorKinds")

# Commands that run code given as data, start processes or re-point names at them.
FORBIDDEN_COMMANDS = frozenset(
    name.lower()
    for name in (
        "Invoke-Expression",
        "iex",
        "Invoke-Command",
        "icm",
        "Start-Process",
        "saps",
        "start",
        "Start-Job",
        "sajb",
        "Start-ThreadJob",
        "Invoke-Item",
        "ii",
        "New-Module",
        "nmo",
        "Set-Alias",
        "sal",
        "New-Alias",
        "nal",
        "Import-Alias",
        "ipal",
        "Import-Module",
        "ipmo",
        "cmd",
        "cmd.exe",
        "powershell",
        "powershell.exe",
        "pwsh",
        "pwsh.exe",
        "wmic",
        "wmic.exe",
    )
)
# Members that compile or run script text.
FORBIDDEN_MEMBERS = frozenset(
    name.lower()
    for name in (
        "NewScriptBlock",
        "InvokeScript",
        "ExpandString",
        "AddScript",
        "AddCommand",
        "Invoke",
        "InvokeReturnAsIs",
        "InvokeWithContext",
        "BeginInvoke",
    )
)
# Types whose ::Create yields something that runs script text.
_CODE_TYPES = frozenset({"scriptblock", "powershell", "runspacefactory"})
FORBIDDEN_VARIABLES = frozenset({"executioncontext"})

# Windows PowerShell 5.1 has none of these (PowerShell 6/7 additions).
PS7_COMMANDS = frozenset(
    name.lower() for name in ("Join-String", "Get-Error", "Test-Json", "ConvertFrom-Markdown", "Get-Uptime")
)
PS7_PARAMETERS: dict[str, frozenset[str]] = {
    "convertto-json": frozenset({"-asarray", "-enumsasstrings", "-escapehandling"}),
    "convertfrom-json": frozenset({"-ashashtable", "-depth", "-noenumerate"}),
    "foreach-object": frozenset({"-parallel", "-throttlelimit"}),
    "get-content": frozenset({"-asbytestream"}),
    "set-content": frozenset({"-asbytestream"}),
    "invoke-webrequest": frozenset({"-skipcertificatecheck"}),
}
PS7_VARIABLES = frozenset({"iswindows", "islinux", "ismacos", "iscoreclr"})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SCOPES = ("local:", "script:", "global:", "private:", "using:")


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def parse(source: bytes | str) -> Tree:
    return _PARSER.parse(source.encode("utf-8") if isinstance(source, str) else source)


def finding(node: Node, message: str) -> Finding:
    row, col = node.start_point
    return Finding(row + 1, col + 1, message)


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def text(node: Node) -> str:
    return node.text.decode("utf-8") if node.text is not None else ""


def _child(node: Node, kind: str) -> Node | None:
    return next((c for c in node.children if c.type == kind), None)


def _ancestors(node: Node) -> Iterator[Node]:
    current = node.parent
    while current is not None:
        yield current
        current = current.parent


def _single_descendant(node: Node) -> Node:
    """Skip the grammar's chains of one-child expression wrappers."""
    while node.child_count == 1 and node.type not in (
        "string_literal",
        "variable",
        "type_literal",
        "integer_literal",
    ):
        node = node.children[0]
    return node


# ---------------------------------------------------------------------------
# Syntax


def syntax_errors(tree: Tree) -> list[Finding]:
    """ERROR and MISSING nodes anywhere in the tree, in source order."""
    found = []
    for node in walk(tree.root_node):
        if node.type == "ERROR":
            found.append(finding(node, f"syntax error near {text(node)[:60]!r}"))
        elif node.is_missing:
            found.append(finding(node, f"missing {node.type!r}"))
    return sorted(found, key=lambda f: (f.line, f.column))


# ---------------------------------------------------------------------------
# Names


def variable_name(node: Node) -> str:
    """`$op`, `${op}`, `$local:op`, `@op` -> 'op' (PowerShell names are case-insensitive)."""
    name = text(node).lstrip("$@")
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    lowered = name.lower()
    for scope in _SCOPES:
        if lowered.startswith(scope):
            return lowered[len(scope) :]
    return lowered


def string_value(node: Node) -> str | None:
    """The value of a verbatim ('...') string literal under `node`, else None."""
    node = _single_descendant(node)
    if node.type != "string_literal":
        return None
    inner = _child(node, "verbatim_string_characters")
    if inner is None:
        return None
    return text(inner)[1:-1].replace("''", "'")


def command_name(command: Node) -> str | None:
    """The literal name of a command node (`Get-Item`, `& Get-Item`), else None."""
    name = _child(command, "command_name")
    if name is not None:
        return text(name)
    expr = _child(command, "command_name_expr")
    if expr is None:
        return None
    inner = expr.children[0] if expr.children else None
    if (
        inner is not None
        and inner.type == "path_command_name"
        and all(c.type == "path_command_name_token" for c in inner.children)
    ):
        return text(inner)
    if inner is not None and inner.type == "command_name":
        return text(inner)
    return string_value(inner) if inner is not None else None


def command_arguments(command: Node) -> list[Node]:
    """Parameters and arguments of a command, without the separators."""
    elements = _child(command, "command_elements")
    if elements is None:
        return []
    return [c for c in elements.children if c.type != "command_argument_sep"]


def commands(tree_or_node: Tree | Node) -> Iterator[Node]:
    root = tree_or_node.root_node if isinstance(tree_or_node, Tree) else tree_or_node
    return (n for n in walk(root) if n.type == "command")


def function_definitions(tree: Tree) -> dict[str, Node]:
    found: dict[str, Node] = {}
    for node in walk(tree.root_node):
        if node.type == "function_statement":
            name = _child(node, "function_name")
            if name is not None:
                found[text(name)] = node
    return found


def function_parameters(function: Node) -> list[str]:
    """Parameter names, from `function F($a)` or a `param(...)` block."""
    names = []
    for node in walk(function):
        if node.type == "script_parameter":
            var = _child(node, "variable")
            if var is not None and _owning_function(node) == function:
                names.append(variable_name(var))
    return names


def _owning_function(node: Node) -> Node | None:
    return next((a for a in _ancestors(node) if a.type == "function_statement"), None)


def handler_name(op_name: str) -> str:
    """'cert.prop.get' -> 'Invoke-OpCertPropGet'."""
    return HANDLER_PREFIX + "".join(part[:1].upper() + part[1:] for part in op_name.split("."))


# ---------------------------------------------------------------------------
# Literal data (the generated op table)


def literal_value(node: Node) -> object:
    """A PowerShell literal as Python data: @{...} -> dict, @(...) -> list, '...' -> str,
    $true/$false/$null, integers. Anything computed raises ValueError."""
    node = _single_descendant(node)
    if node.type == "hash_literal_expression":
        body = _child(node, "hash_literal_body")
        result: dict[str, object] = {}
        for entry in body.children if body is not None else ():
            if entry.type != "hash_entry":
                continue
            key_node = _child(entry, "key_expression")
            if key_node is None:
                raise ValueError(f"hash entry without a key at {finding(entry, '')}")
            key = string_value(key_node)
            if key is None:
                key = text(key_node)
            equals = [i for i, c in enumerate(entry.children) if c.type == "="]
            result[key] = literal_value(entry.children[equals[0] + 1])
        return result
    if node.type == "array_expression":
        items = [n for n in walk(node) if n.type == "array_literal_expression"]
        if not items:
            return []
        return [literal_value(c) for c in items[0].children if c.type != ","]
    if node.type == "string_literal":
        value = string_value(node)
        if value is None:
            raise ValueError(f"not a single-quoted string: {text(node)!r}")
        return value
    if node.type == "variable" and variable_name(node) in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[variable_name(node)]
    if node.type == "integer_literal":
        return int(text(node))
    raise ValueError(f"not a literal ({node.type}): {text(node)[:60]!r}")


def assigned_literal(tree: Tree, name: str) -> object:
    """The literal value of the only assignment to `$name`."""
    assignments = _assignments(tree, name.lower())
    if len(assignments) != 1:
        raise ValueError(f"${name}: expected exactly one assignment, found {len(assignments)}")
    children = assignments[0].children
    operator = next(i for i, c in enumerate(children) if c.type == "assignement_operator")
    return literal_value(children[operator + 1])


# ---------------------------------------------------------------------------
# Dispatch and field reads


def dispatch_table(tree: Tree) -> tuple[dict[str, str], list[Finding]]:
    """op name -> handler function, from the switch in the dispatcher function.

    Every clause must be `'<op>' { <Handler> $op }`; a `default` clause is allowed.
    """
    functions = function_definitions(tree)
    dispatcher = functions.get(DISPATCHER)
    if dispatcher is None:
        return {}, [Finding(1, 1, f"no function {DISPATCHER}")]
    switches = [n for n in walk(dispatcher) if n.type == "switch_statement"]
    if len(switches) != 1:
        return {}, [finding(dispatcher, f"{DISPATCHER}: expected exactly one switch, found {len(switches)}")]
    table: dict[str, str] = {}
    problems: list[Finding] = []
    for clause in (n for n in walk(switches[0]) if n.type == "switch_clause"):
        condition = _child(clause, "switch_clause_condition")
        if condition is not None and text(condition).lower() == "default":
            continue
        op_name = string_value(condition) if condition is not None else None
        if op_name is None:
            problems.append(finding(clause, "switch clause condition is not a single-quoted op name"))
            continue
        calls = list(commands(clause))
        statements = _child(_child(clause, "statement_block") or clause, "statement_list")
        body = [c for c in statements.children if c.type != "empty_statement"] if statements else []
        if len(body) != 1 or len(calls) != 1:
            problems.append(
                finding(clause, f"clause {op_name!r}: expected one handler call and nothing else")
            )
            continue
        args = command_arguments(calls[0])
        name = command_name(calls[0])
        if name is None or len(args) != 1 or variable_name(_single_descendant(args[0])) != HANDLER_PARAM:
            problems.append(finding(clause, f"clause {op_name!r}: expected `<handler> ${HANDLER_PARAM}`"))
            continue
        if op_name in table:
            problems.append(finding(clause, f"op {op_name!r} dispatched twice"))
        table[op_name] = name
    return table, problems


def handler_field_reads(function: Node) -> tuple[set[str], list[Finding]]:
    """Field names a handler reads from its `$op` parameter, and every other use of `$op`.

    Allowed uses: `$op.<field>` (member read, also as the head of a longer chain)
    and `Test-OpField $op '<field>'` (presence). Anything else, such as passing
    `$op` on, indexing it or calling a method on it, is reported.
    """
    fields: set[str] = set()
    problems: list[Finding] = []
    for node in walk(function):
        if node.type != "variable" or variable_name(node) != HANDLER_PARAM:
            continue
        parent = node.parent
        if parent is None:
            continue
        if parent.type == "script_parameter":
            continue
        if parent.type == "member_access" and parent.children[0] == node:
            member = _child(parent, "member_name")
            if member is not None and member.child_count == 1 and member.children[0].type == "simple_name":
                fields.add(text(member))
                continue
            problems.append(finding(node, "dynamic member access on $op"))
            continue
        presence = _presence_check(node)
        if presence is not None:
            fields.add(presence)
            continue
        problems.append(finding(node, f"$op used as a whole ({parent.type}); read fields as $op.<field>"))
    return fields, problems


def int_field_defaults(function: Node, helper: str = "Get-IntField") -> dict[str, int]:
    """Defaults a handler gives its integer fields: `Get-IntField $op.<field> <default> ...`."""
    defaults: dict[str, int] = {}
    for command in commands(function):
        if (command_name(command) or "").lower() != helper.lower():
            continue
        args = command_arguments(command)
        if len(args) < 2:
            continue
        head = _single_descendant(args[0])
        member = _child(head, "member_name") if head.type == "member_access" else None
        if member is None or variable_name(head.children[0]) != HANDLER_PARAM:
            continue
        try:
            value = literal_value(args[1])
        except ValueError:
            continue
        if isinstance(value, int):
            defaults[text(member)] = value
    return defaults


def _presence_check(variable: Node) -> str | None:
    """'<field>' when `variable` is the first argument of `Test-OpField $op '<field>'`."""
    argument = _argument_of(variable)
    command = argument.parent.parent if argument is not None else None
    if command is None or (command_name(command) or "").lower() != PRESENCE_HELPER.lower():
        return None
    args = command_arguments(command)
    if len(args) != 2 or args[0] != argument:
        return None
    return string_value(args[1])


def _argument_of(node: Node) -> Node | None:
    """The command argument that is exactly `node` (through one-child wrappers), else None."""
    current = node
    while current.parent is not None and current.parent.type != "command_elements":
        if current.parent.child_count != 1:
            return None
        current = current.parent
    return current if current.parent is not None else None


# ---------------------------------------------------------------------------
# Code execution


def _type_literal_name(node: Node) -> str:
    name = text(node).strip("[]").lower()
    return name.rsplit(".", 1)[-1]


def forbidden_command_findings(tree: Tree) -> list[Finding]:
    """Commands that run code given as data, start processes or re-point names (aliases)."""
    return [
        finding(node, f"forbidden command {command_name(node)}")
        for node in commands(tree)
        if (command_name(node) or "").lower() in FORBIDDEN_COMMANDS
    ]


def dynamic_invocation_findings(tree: Tree) -> list[Finding]:
    """`&` / `.` applied to anything but a literal command name or a scriptblock literal."""
    found = []
    for node in commands(tree):
        operator = _child(node, "command_invokation_operator")
        if operator is None:
            continue
        expr = _child(node, "command_name_expr")
        target = expr.children[0] if expr is not None and expr.children else None
        if target is not None and (
            target.type == "script_block_expression" or command_name(node) is not None
        ):
            continue
        found.append(finding(node, f"'{text(operator)}' invokes a computed command: {text(node)[:60]!r}"))
    return found


def forbidden_member_findings(tree: Tree) -> list[Finding]:
    """Members that compile or run script text (NewScriptBlock, InvokeScript, ExpandString,
    .Invoke(), ...) and the $ExecutionContext variable that leads to them."""
    found = []
    for node in walk(tree.root_node):
        if node.type == "invokation_expression":
            member = _child(node, "member_name")
            if member is not None and text(member).lower() in FORBIDDEN_MEMBERS:
                found.append(finding(node, f"forbidden member call .{text(member)}()"))
        elif node.type == "variable" and variable_name(node) in FORBIDDEN_VARIABLES:
            found.append(finding(node, f"{text(node)} gives access to script compilation"))
    return found


def script_compilation_findings(tree: Tree) -> list[Finding]:
    """`::Create` on [scriptblock] / [powershell] / [runspacefactory], or on a computed type."""
    found = []
    for node in walk(tree.root_node):
        if node.type != "invokation_expression" or not any(c.type == "::" for c in node.children):
            continue
        member = _child(node, "member_name")
        if member is None or text(member).lower() != "create":
            continue
        target = node.children[0]
        if target.type != "type_literal":
            found.append(finding(node, "::Create on a computed type"))
        elif _type_literal_name(target) in _CODE_TYPES:
            found.append(finding(node, f"{text(target)}::Create compiles script text"))
    return found


def code_execution_findings(tree: Tree) -> list[Finding]:
    """Everything that could turn request data into code (the four checks above)."""
    return (
        forbidden_command_findings(tree)
        + dynamic_invocation_findings(tree)
        + forbidden_member_findings(tree)
        + script_compilation_findings(tree)
    )


def add_type_findings(tree: Tree, expected: int = 1) -> list[Finding]:
    """Exactly `expected` Add-Type, each `Add-Type -TypeDefinition @'...'@` and nothing else."""
    calls = [c for c in commands(tree) if (command_name(c) or "").lower() == "add-type"]
    found = []
    if len(calls) != expected:
        found.append(Finding(1, 1, f"expected {expected} Add-Type, found {len(calls)}"))
    for call in calls:
        args = command_arguments(call)
        if (
            len(args) != 2
            or args[0].type != "command_parameter"
            or text(args[0]).lower() != "-typedefinition"
        ):
            found.append(finding(call, "Add-Type must take exactly -TypeDefinition <here-string>"))
            continue
        literal = _single_descendant(args[1])
        if literal.type != "string_literal" or _child(literal, "verbatim_here_string_characters") is None:
            found.append(
                finding(call, "Add-Type -TypeDefinition must be a single-quoted here-string @'...'@")
            )
    return found


def ps7_only_findings(tree: Tree) -> list[Finding]:
    """Syntax, commands, parameters and variables that Windows PowerShell 5.1 lacks.

    The grammar already rejects `??`, `?.` and the ternary operator (syntax_errors);
    it accepts the pipeline chain operators `&&` / `||`.
    """
    found = []
    for node in walk(tree.root_node):
        if node.type == "pipeline_chain_tail":
            found.append(finding(node, f"pipeline chain operator {text(node)!r} needs PowerShell 7"))
        elif node.type == "variable" and variable_name(node) in PS7_VARIABLES:
            found.append(finding(node, f"{text(node)} exists only in PowerShell 6+"))
        elif node.type == "command":
            name = (command_name(node) or "").lower()
            if name in PS7_COMMANDS:
                found.append(finding(node, f"{command_name(node)} exists only in PowerShell 6+"))
            for arg in command_arguments(node):
                if arg.type == "command_parameter" and text(arg).lower() in PS7_PARAMETERS.get(name, ()):
                    found.append(
                        finding(arg, f"{command_name(node)} {text(arg)} exists only in PowerShell 6+")
                    )
    return found


# ---------------------------------------------------------------------------
# Names that resolve: PowerShell reports an unknown command or a misspelt variable
# only when the line runs, so these stand in for running the script.

# Automatic variables a script may read without assigning them.
AUTOMATIC_VARIABLES = frozenset(
    {"null", "true", "false", "_", "psitem", "input", "args", "matches", "psversiontable", "lastexitcode"}
)


def defined_variables(tree: Tree) -> set[str]:
    """Names assigned anywhere, loop variables and parameters (scope-insensitive)."""
    names = set(_all_assigned(tree))
    for node in walk(tree.root_node):
        if node.type in ("foreach_statement", "script_parameter"):
            var = _child(node, "variable")
            if var is not None:
                names.add(variable_name(var))
    return names


def undefined_variable_findings(tree: Tree) -> list[Finding]:
    """Variables read but never assigned (a typo reads $null in PowerShell, silently)."""
    defined = defined_variables(tree) | AUTOMATIC_VARIABLES
    return [
        finding(node, f"{text(node)} is never assigned")
        for node in walk(tree.root_node)
        if node.type == "variable"
        and variable_name(node) not in defined
        and not variable_name(node).startswith("env:")
    ]


def unknown_command_findings(tree: Tree, builtins: frozenset[str]) -> list[Finding]:
    """Commands that are neither functions defined in the script nor in `builtins`."""
    known = {name.lower() for name in function_definitions(tree)} | {b.lower() for b in builtins}
    found = []
    for node in commands(tree):
        if _child(node, "command_invokation_operator") is not None:
            continue  # `& { }` / `& 'x'`: judged by dynamic_invocation_findings
        name = command_name(node)
        if name is not None and name.lower() not in known:
            found.append(finding(node, f"command {name} is neither defined here nor a known cmdlet"))
    return found


# ---------------------------------------------------------------------------
# Error kinds


def error_kinds_used(tree: Tree) -> tuple[set[str], list[Finding]]:
    """Literal kinds given to New-AgentError / New-ErrorResult and listed in the kind tables."""
    kinds: set[str] = set()
    problems: list[Finding] = []
    helpers = {h.lower() for h in ERROR_HELPERS}
    for command in commands(tree):
        if (command_name(command) or "").lower() not in helpers:
            continue
        args = command_arguments(command)
        if not args:
            problems.append(finding(command, f"{command_name(command)} without a kind"))
            continue
        kind = string_value(args[0])
        if kind is not None:
            kinds.add(kind)
    tables = {t.lower() for t in ERROR_KIND_TABLES}
    for node in walk(tree.root_node):
        if node.type != "assignment_expression":
            continue
        target = _single_descendant(node.children[0])
        if target.type != "variable" or variable_name(target) not in tables:
            continue
        for entry in (n for n in walk(node) if n.type == "hash_entry"):
            value = string_value(entry.children[-1])
            if value is None:
                problems.append(finding(entry, "kind table value is not a single-quoted kind"))
            else:
                kinds.add(value)
    return kinds, problems


# ---------------------------------------------------------------------------
# The bootstrap


def _assignments(tree: Tree, name: str) -> list[Node]:
    found = []
    for node in walk(tree.root_node):
        if node.type == "assignment_expression":
            target = _single_descendant(node.children[0])
            if target.type == "variable" and variable_name(target) == name:
                found.append(node)
    return found


def _variables_in(node: Node) -> set[str]:
    return {variable_name(n) for n in walk(node) if n.type == "variable"}


def _terminates(block: Node, functions: dict[str, Node]) -> bool:
    """The block ends the script: `exit`/`throw` in it, or a call to a function that exits."""
    for node in walk(block):
        if node.type == "flow_control_statement" and text(node).split()[0].lower() in ("exit", "throw"):
            return True
        if node.type == "command":
            called = functions.get(command_name(node) or "")
            if called is not None and any(
                n.type == "flow_control_statement" and text(n).split()[0].lower() == "exit"
                for n in walk(called)
            ):
                return True
    return False


def bootstrap_findings(tree: Tree, expected_digest: str) -> list[Finding]:
    """The bootstrap creates exactly one ScriptBlock, from hash-verified bytes, and runs only it.

    Required shape, checked on the tree:
    - one `[ScriptBlock]::Create(<expr>)` whose argument reads exactly one variable B;
    - B assigned exactly once, before the check below;
    - H assigned exactly once, from an expression calling `.ComputeHash($B)`;
    - before the Create: `if ($H -ne '<expected digest>') { ...exit/throw... }`;
    - the Create's result assigned once to A, and `&`/`.` used on A only (or on literals).
    """
    problems: list[Finding] = []
    functions = function_definitions(tree)
    creates = [
        n
        for n in walk(tree.root_node)
        if n.type == "invokation_expression"
        and n.children[0].type == "type_literal"
        and _type_literal_name(n.children[0]) == "scriptblock"
        and text(_child(n, "member_name") or n).lower() == "create"
    ]
    if len(creates) != 1:
        return [Finding(1, 1, f"expected exactly one [ScriptBlock]::Create, found {len(creates)}")]
    create = creates[0]
    arguments = _child(create, "argument_list")
    read = _variables_in(arguments) if arguments is not None else set()
    if len(read) != 1:
        return [
            finding(create, f"[ScriptBlock]::Create must read exactly one variable, reads {sorted(read)}")
        ]
    (bytes_var,) = read
    bytes_assignments = _assignments(tree, bytes_var)
    if len(bytes_assignments) != 1:
        problems.append(finding(create, f"${bytes_var} must be assigned exactly once"))

    hash_vars = [
        name
        for name in _all_assigned(tree)
        if len(_assignments(tree, name)) == 1 and _computes_hash_of(_assignments(tree, name)[0], bytes_var)
    ]
    checks = [
        node
        for node in walk(tree.root_node)
        if node.type == "if_statement"
        and node.start_byte < create.start_byte
        and _is_digest_check(node, hash_vars, expected_digest)
        and _terminates(_child(node, "statement_block") or node, functions)
    ]
    if not hash_vars:
        problems.append(finding(create, f"no variable holds .ComputeHash(${bytes_var})"))
    if not checks:
        problems.append(
            finding(
                create,
                f"no `if ($hash -ne '{expected_digest[:12]}...') {{ exit }}` before [ScriptBlock]::Create",
            )
        )
    elif bytes_assignments and bytes_assignments[0].start_byte > checks[0].start_byte:
        problems.append(finding(bytes_assignments[0], f"${bytes_var} is assigned after the hash check"))

    problems.extend(_invocation_findings(tree, create))
    return problems


def _all_assigned(tree: Tree) -> set[str]:
    names = set()
    for node in walk(tree.root_node):
        if node.type == "assignment_expression":
            target = _single_descendant(node.children[0])
            if target.type == "variable":
                names.add(variable_name(target))
    return names


def _computes_hash_of(assignment: Node, bytes_var: str) -> bool:
    for node in walk(assignment):
        member = _child(node, "member_name") if node.type == "invokation_expression" else None
        if member is not None and text(member).lower() == "computehash":
            arguments = _child(node, "argument_list")
            if arguments is not None and _variables_in(arguments) == {bytes_var}:
                return True
    return False


def _is_digest_check(node: Node, hash_vars: list[str], digest: str) -> bool:
    condition = next((c for c in node.children if c.type == "pipeline"), None)
    comparisons = [
        n
        for n in (walk(condition) if condition is not None else ())
        if n.type == "comparison_expression" and _child(n, "comparison_operator") is not None
    ]
    comparison = comparisons[0] if comparisons else None
    if comparison is None:
        return False
    operator = _child(comparison, "comparison_operator")
    operands = [c for c in comparison.children if c.type != "comparison_operator"]
    if operator is None or text(operator).lower() not in ("-ne", "-cne") or len(operands) != 2:
        return False
    left, right = (_single_descendant(o) for o in operands)
    literal = string_value(right)
    return (
        left.type == "variable"
        and variable_name(left) in hash_vars
        and literal is not None
        and _HEX64.fullmatch(literal) is not None
        and literal == digest
    )


def _invocation_findings(tree: Tree, create: Node) -> list[Finding]:
    """`&`/`.` may target only the variable that holds the created ScriptBlock."""
    holder = next((a for a in _ancestors(create) if a.type == "assignment_expression"), None)
    target = _single_descendant(holder.children[0]) if holder is not None else None
    allowed = variable_name(target) if target is not None and target.type == "variable" else None
    problems = []
    if allowed is None:
        problems.append(finding(create, "the created ScriptBlock is not assigned to a variable"))
    elif len(_assignments(tree, allowed)) != 1:
        problems.append(finding(create, f"${allowed} must be assigned exactly once"))
    for command in commands(tree):
        if _child(command, "command_invokation_operator") is None:
            continue
        expr = _child(command, "command_name_expr")
        inner = expr.children[0] if expr is not None and expr.children else None
        invoked = (
            _child(inner, "variable") if inner is not None and inner.type == "path_command_name" else None
        )
        if invoked is not None and variable_name(invoked) == allowed:
            continue
        if inner is not None and (
            inner.type == "script_block_expression" or command_name(command) is not None
        ):
            continue
        problems.append(
            finding(command, f"invocation of something other than ${allowed}: {text(command)[:60]!r}")
        )
    return problems


# ---------------------------------------------------------------------------
# The bootstrap's compressed agent: where the compiled bytes come from

# What the bootstrap may name: .NET types (type literals and New-Object), without the
# optional "System." prefix, lower case.
BOOTSTRAP_TYPES = frozenset(
    {
        "string",
        "convert",
        "io.memorystream",
        "io.compression.gzipstream",
        "io.compression.compressionmode",
        "security.cryptography.sha256cryptoserviceprovider",
        "bitconverter",
        "scriptblock",
        "text.encoding",
    }
)
# The methods and properties it may use (instance and static), lower case.
BOOTSTRAP_MEMBERS = frozenset(
    {
        "trimend",
        "count",
        "frombase64string",
        "new",
        "decompress",
        "copyto",
        "toarray",
        "computehash",
        "tostring",
        "replace",
        "tolowerinvariant",
        "utf8",
        "getstring",
        "create",
        "exception",
        "message",
    }
)


def _normalized_type(name: str) -> str:
    lowered = name.strip("[]").strip().lower()
    return lowered[len("system.") :] if lowered.startswith("system.") else lowered


def bootstrap_vocabulary_findings(
    tree: Tree, types: frozenset[str] = BOOTSTRAP_TYPES, members: frozenset[str] = BOOTSTRAP_MEMBERS
) -> list[Finding]:
    """Every .NET type the bootstrap names and every member it calls or reads is on a short list.

    The list holds what unpacking, hashing and compiling the agent from stdin needs; a file
    read, a download, an assembly load or any other route for code or data is named here.
    """
    found = []
    for node in walk(tree.root_node):
        if node.type == "type_literal" and _normalized_type(text(node)) not in types:
            found.append(finding(node, f"type {text(node)} is not one the bootstrap needs"))
        elif node.type == "command" and (command_name(node) or "").lower() == "new-object":
            args = command_arguments(node)
            named = text(args[0]) if args else ""
            if not args or _normalized_type(named) not in types:
                found.append(finding(node, f"New-Object {named} is not a type the bootstrap needs"))
        elif node.type in ("invokation_expression", "member_access"):
            member = _child(node, "member_name")
            if member is not None and text(member).lower() not in members:
                found.append(finding(node, f"member {text(member)} is not one the bootstrap needs"))
    return found


def _rhs(assignment: Node) -> Node:
    children = assignment.children
    operator = next(i for i, c in enumerate(children) if c.type == "assignement_operator")
    return _single_descendant(children[operator + 1])


def _call_parts(node: Node) -> tuple[str | None, str | None, str, list[Node]] | None:
    """(type name or None, variable name or None, member, argument nodes) of `[T]::m(...)` / `$v.m(...)`."""
    if node.type != "invokation_expression":
        return None
    member = _child(node, "member_name")
    if member is None:
        return None
    head = node.children[0]
    type_name = _normalized_type(text(head)) if head.type == "type_literal" else None
    var = variable_name(head) if head.type == "variable" else None
    arguments = _child(node, "argument_list")
    expressions = _child(arguments, "argument_expression_list") if arguments is not None else None
    args = [_single_descendant(c) for c in (expressions.children if expressions else ()) if c.type != ","]
    return type_name, var, text(member).lower(), args


def _only_assignment(tree: Tree, name: str, problems: list[Finding], at: Node) -> Node | None:
    assignments = _assignments(tree, name)
    if len(assignments) != 1:
        problems.append(finding(at, f"${name} must be assigned exactly once, found {len(assignments)}"))
        return None
    return assignments[0]


def _uses(tree: Tree, name: str) -> list[Node]:
    """Every read of `$name` (not the assignment targets)."""
    return [
        n
        for n in walk(tree.root_node)
        if n.type == "variable"
        and variable_name(n) == name
        and not any(a.type == "left_assignment_expression" for a in _ancestors(n))
    ]


def _stdin_lines_variable(tree: Tree, name: str, problems: list[Finding], at: Node) -> None:
    """`$name = @($input | ...)`: built from stdin, with no other variable than $input and $_."""
    assignment = _only_assignment(tree, name, problems, at)
    if assignment is None:
        return
    rhs = _rhs(assignment)
    read = _variables_in(rhs)
    first = next((n for n in walk(rhs) if n.type == "variable"), None)
    if first is None or variable_name(first) != "input" or not read <= {"input", "_", "psitem"}:
        problems.append(finding(assignment, f"${name} must be the lines of $input and nothing else"))
    called = {(command_name(c) or "").lower() for c in commands(rhs)}
    if not called <= {"foreach-object", "where-object"}:
        problems.append(finding(assignment, f"${name} runs commands {sorted(called)} on stdin"))


def bootstrap_unpack_findings(tree: Tree) -> list[Finding]:
    """The bytes hashed and compiled are stdin line 1, base64-decoded and gunzipped in memory, and only that.

    Required chain, each variable assigned exactly once:
    - B (read by `[ScriptBlock]::Create`) = `$U.ToArray()`;
    - U = `[IO.MemoryStream]::new()`, used only as `$G.CopyTo($U)` (once) and `$U.ToArray()`;
    - G = `[IO.Compression.GZipStream]::new($S, [IO.Compression.CompressionMode]::Decompress)`,
      used only for that CopyTo;
    - S = `[IO.MemoryStream]::new($P)`, used only by G;
    - P = `[Convert]::FromBase64String($L[0])`;
    - L = the lines of `$input`.
    """
    creates = [
        n
        for n in walk(tree.root_node)
        if n.type == "invokation_expression"
        and n.children[0].type == "type_literal"
        and _type_literal_name(n.children[0]) == "scriptblock"
    ]
    if len(creates) != 1:
        return [Finding(1, 1, f"expected exactly one [ScriptBlock]::Create, found {len(creates)}")]
    create = creates[0]
    arguments = _child(create, "argument_list")
    read = sorted(_variables_in(arguments)) if arguments is not None else []
    if len(read) != 1:
        return [finding(create, f"[ScriptBlock]::Create must read exactly one variable, reads {read}")]
    problems: list[Finding] = []

    def single(name: str) -> tuple[Node, tuple[str | None, str | None, str, list[Node]] | None] | None:
        assignment = _only_assignment(tree, name, problems, create)
        return None if assignment is None else (assignment, _call_parts(_rhs(assignment)))

    bytes_var = read[0]
    step = single(bytes_var)
    if step is None:
        return problems
    node, parts = step
    if parts is None or parts[1] is None or parts[2] != "toarray" or parts[3]:
        return [*problems, finding(node, f"${bytes_var} must be `$<unpacked stream>.ToArray()`")]
    unpacked = parts[1]
    step = single(unpacked)
    if step is None:
        return problems
    node, parts = step
    if parts is None or parts[:3] != ("io.memorystream", None, "new") or parts[3]:
        return [*problems, finding(node, f"${unpacked} must be a new, empty [IO.MemoryStream]")]

    copies = []
    for use in _uses(tree, unpacked):
        call = next((a for a in _ancestors(use) if a.type == "invokation_expression"), None)
        parts = _call_parts(call) if call is not None else None
        if parts is not None and parts[1] == unpacked and parts[2] == "toarray" and not parts[3]:
            continue
        if (
            parts is not None
            and parts[2] == "copyto"
            and parts[1] is not None
            and len(parts[3]) == 1
            and parts[3][0].type == "variable"
            and variable_name(parts[3][0]) == unpacked
        ):
            copies.append((call, parts[1]))
            continue
        problems.append(finding(use, f"${unpacked} is used other than as the target of the unpacking"))
    if len(copies) != 1:
        return [*problems, finding(create, f"${unpacked} must be filled by exactly one CopyTo")]
    copy, gzip_var = copies[0]
    if any(u.parent is None or _enclosing_call(u) != copy for u in _uses(tree, gzip_var)):
        problems.append(finding(copy, f"${gzip_var} is used other than for the one CopyTo"))
    step = single(gzip_var)
    if step is None:
        return problems
    node, parts = step
    mode = parts[3][1] if parts is not None and len(parts[3]) == 2 else None
    if (
        parts is None
        or parts[:3] != ("io.compression.gzipstream", None, "new")
        or mode is None
        or mode.type != "member_access"
        or _normalized_type(text(mode.children[0])) != "io.compression.compressionmode"
        or text(_child(mode, "member_name") or mode).lower() != "decompress"
        or parts[3][0].type != "variable"
    ):
        return [*problems, finding(node, f"${gzip_var} must be a GZipStream that decompresses a variable")]
    source = variable_name(parts[3][0])
    if len(_uses(tree, source)) != 1:
        problems.append(finding(node, f"${source} is used other than by the GZipStream"))
    step = single(source)
    if step is None:
        return problems
    node, parts = step
    if (
        parts is None
        or parts[:3] != ("io.memorystream", None, "new")
        or len(parts[3]) != 1
        or parts[3][0].type != "variable"
    ):
        return [*problems, finding(node, f"${source} must be an [IO.MemoryStream] over one variable")]
    packed = variable_name(parts[3][0])
    step = single(packed)
    if step is None:
        return problems
    node, parts = step
    line = parts[3][0] if parts is not None and len(parts[3]) == 1 else None
    index = _child(line, "logical_expression") if line is not None and line.type == "element_access" else None
    if (
        parts is None
        or parts[:3] != ("convert", None, "frombase64string")
        or line is None
        or line.type != "element_access"
        or line.children[0].type != "variable"
        or index is None
        or text(index).strip() != "0"
    ):
        return [*problems, finding(node, f"${packed} must be `[Convert]::FromBase64String($<lines>[0])`")]
    _stdin_lines_variable(tree, variable_name(line.children[0]), problems, node)
    return problems


def _enclosing_call(node: Node) -> Node | None:
    return next((a for a in _ancestors(node) if a.type == "invokation_expression"), None)
