"""Write the op table that agent.ps1 carries, from ops.py.

agent.ps1 checks every request op against its own copy of the op set: a
PowerShell hashtable between the ``# BEGIN GENERATED OP TABLE`` and
``# END GENERATED OP TABLE`` lines. This module renders that region from
``ops.OPS`` and rewrites it in place, or with ``--check`` only reports whether
it is current (exit 1 when stale; exit 2 when the markers are missing or
malformed, in either mode)::

    python -m ansible_collections.mssql.tls.plugins.plugin_utils.agent.gen [--check]

Changing the script changes its SHA-256, which the bootstrap embeds; nothing
else needs regenerating.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .ops import OPS, PATH_FROM_FIELDS, OpSpec

AGENT_PATH = Path(__file__).resolve().with_name("agent.ps1")
BEGIN_MARKER = "# BEGIN GENERATED OP TABLE"
END_MARKER = "# END GENERATED OP TABLE"

# Names go into single-quoted PowerShell strings; keeping them to this alphabet
# means no quoting question can arise.
_NAME = re.compile(r"[a-z][a-z0-9_.]*\Z")
_INDENT = "    "


class StaleRegionError(ValueError):
    """agent.ps1 has no well-formed generated region."""


def _quoted(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r}: expected lowercase letters, digits, '_' and '.'")
    return f"'{name}'"


def _ps_bool(value: bool) -> str:
    return "$true" if value else "$false"


def _render_op(spec: OpSpec) -> list[str]:
    lines = [f"{_INDENT}{_quoted(spec.name, 'op')} = @{{", f"{_INDENT * 2}Writes = {_ps_bool(spec.writes)}"]
    if not spec.fields:
        lines.append(f"{_INDENT * 2}Fields = @{{}}")
    else:
        lines.append(f"{_INDENT * 2}Fields = @{{")
        for name, fdef in spec.fields.items():
            lines.append(
                f"{_INDENT * 3}{_quoted(name, 'field')} = @{{ "
                f"Type = '{fdef.type}'; Required = {_ps_bool(fdef.required)} }}"
            )
        lines.append(f"{_INDENT * 2}}}")
    lines.append(f"{_INDENT}}}")
    return lines


def render_op_table(ops: Mapping[str, OpSpec] = OPS) -> str:
    """The generated region's text (without the marker lines), newline-terminated."""
    lines = [
        "# Generated from ops.py by gen.py; edit ops.py and regenerate instead of editing here.",
        "$OpTable = @{",
    ]
    for spec in ops.values():
        lines.extend(_render_op(spec))
    lines.append("}")
    fields = ", ".join(_quoted(name, "path_from field") for name in PATH_FROM_FIELDS)
    lines.append(f"$PathFromFields = @({fields})")
    return "\n".join(lines) + "\n"


def _region_bounds(script: str) -> tuple[int, int]:
    """Offsets of the region's text: just after the BEGIN line, at the start of the END line."""
    lines = script.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN_MARKER]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == END_MARKER]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise StaleRegionError(
            f"agent.ps1: expected exactly one {BEGIN_MARKER!r} line followed by one {END_MARKER!r} line, "
            f"found {len(begins)} and {len(ends)}"
        )
    start = sum(len(line) for line in lines[: begins[0] + 1])
    end = sum(len(line) for line in lines[: ends[0]])
    return start, end


def current_region(script: str) -> str:
    start, end = _region_bounds(script)
    return script[start:end]


def replace_region(script: str, region: str) -> str:
    start, end = _region_bounds(script)
    return script[:start] + region + script[end:]


def is_current(script: str, ops: Mapping[str, OpSpec] = OPS) -> bool:
    return current_region(script) == render_op_table(ops)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table in agent.ps1 is stale")
    parser.add_argument("--agent", type=Path, default=AGENT_PATH, help="path of agent.ps1")
    args = parser.parse_args(argv)
    # Bytes in and out: the script's exact bytes are what the bootstrap hashes.
    script = args.agent.read_bytes().decode("utf-8")
    try:
        fresh = is_current(script)
    except StaleRegionError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        if not fresh:
            print(f"{args.agent}: the generated op table is stale; run gen without --check", file=sys.stderr)
            return 1
        return 0
    if not fresh:
        args.agent.write_bytes(replace_region(script, render_op_table()).encode("utf-8"))
        print(f"{args.agent}: op table regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
