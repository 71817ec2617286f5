"""file.version / file.tail, with %VAR% expansion and registry-indirected paths.

Per-entry errors (docs/agent-protocol.md): a `path_from` key the administrator cannot open
and a file another process holds open (access.py knobs) each fail their own entry only.
"""

from __future__ import annotations

import re
from typing import Any

from . import access
from . import registry as regmod
from .opcore import OpContext, OpError, entry_error, expand_env, invalid

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-bom", "utf-8"),
    (b"\xff\xfe", "utf-16le", "utf-16-le"),
    (b"\xfe\xff", "utf-16be", "utf-16-be"),
)
# The WOW64 file system redirector (MicrosoftDocs/win32 desktop-src/WinProg64/
# file-system-redirector.md): a 32-bit process that opens %windir%\System32 gets
# %windir%\SysWOW64, except in these subdirectories; %windir%\Sysnative names the native one.
_WOW64_EXEMPT = ("catroot", "catroot2", "driverstore", "drivers\\etc", "logfiles", "spool")


def _regex(field: str, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise invalid(f"field {field!r}: not a valid regex: {exc}") from exc


def wow64_path(ctx: OpContext, path: str) -> str:
    """The file a 32-bit process opens for `path` (the agent applies this to paths read from
    keys under Wow6432Node, docs/agent-protocol.md path_from)."""
    windows = expand_env(ctx.state, "%windir%")
    lower = path.lower()
    native = f"{windows}\\Sysnative\\".lower()
    if lower.startswith(native):
        return f"{windows}\\System32\\{path[len(native) :]}"
    system32 = f"{windows}\\System32\\".lower()
    if not lower.startswith(system32):
        return path
    rest = path[len(system32) :]
    if any(rest.lower().startswith(f"{d}\\") for d in _WOW64_EXEMPT):
        return path
    return f"{windows}\\SysWOW64\\{rest}"


def _is_wow64_key(key_path: str) -> bool:
    return any(segment.lower() == "wow6432node" for segment in key_path.split("\\"))


def _match_keys(ctx: OpContext, pattern: str) -> list[tuple[str, regmod.RegKey | None]]:
    """(path, key) per key matching `pattern` ('*' = every subkey); key None when denied."""
    hive, segments = regmod.split_path(pattern)
    level: list[tuple[str, regmod.RegKey | None]] = [(hive, ctx.state.registry[hive])]
    for seg in segments:
        nxt: list[tuple[str, regmod.RegKey | None]] = []
        for path, key in level:
            if key is None:
                nxt.append((path, None))  # already reported at its own level
                continue
            children = list(key.subkeys.values()) if seg == "*" else [key.subkey(seg)]
            for child in children:
                if child is None:
                    continue
                child_path = f"{path}\\{child.name}"
                nxt.append((child_path, None if access.denied(ctx.state, child_path) else child))
        level = nxt
    return level


def paths_from(ctx: OpContext, spec: dict[str, Any]) -> list[tuple[str | None, str, dict[str, str] | None]]:
    """(path, source key, error) per matching registry value (docs/agent-protocol.md, path_from).

    A key that cannot be opened yields one entry with path None and its error.
    """
    try:
        regmod.split_path(spec["key"])
    except regmod.RegistryError as exc:
        raise invalid(f"field 'path_from.key': {exc}") from exc
    regex = _regex("path_from.value_regex", spec["value_regex"]) if "value_regex" in spec else None
    name = spec.get("value_name")
    out: list[tuple[str | None, str, dict[str, str] | None]] = []
    denied_seen: set[str] = set()
    for key_path, key in _match_keys(ctx, spec["key"]):
        if key is None:
            first_denied = _first_denied(ctx, key_path)
            if first_denied not in denied_seen:
                denied_seen.add(first_denied)
                out.append((None, first_denied, entry_error("access_denied", access.DENIED_MESSAGE)))
            continue
        for value in key.values.values():
            if name is not None and value.name.lower() != name.lower():
                continue
            if value.type not in ("REG_SZ", "REG_EXPAND_SZ"):
                continue
            data = value.data
            if regex is not None:
                m = regex.search(data)
                if m is None:
                    continue
                # Group 1 when the regex has one, else the whole value (docs/agent-protocol.md).
                data = m.group(1) if regex.groups >= 1 else data
            path = expand_env(ctx.state, data + spec.get("append", ""))
            if _is_wow64_key(key_path):
                path = wow64_path(ctx, path)
            out.append((path, key_path, None))
    return out


def _first_denied(ctx: OpContext, key_path: str) -> str:
    """The denied key on the way to `key_path` (the one the agent fails to open)."""
    hive, segments = regmod.split_path(key_path)
    for i in range(1, len(segments) + 1):
        candidate = "\\".join([hive, *segments[:i]])
        if access.denied(ctx.state, candidate):
            return candidate
    return key_path


def _targets(
    ctx: OpContext, op: dict[str, Any]
) -> list[tuple[str | None, str | None, dict[str, str] | None]]:
    targets: list[tuple[str | None, str | None, dict[str, str] | None]] = [
        (expand_env(ctx.state, p), None, None) for p in op.get("paths", [])
    ]
    if "path_from" in op:
        targets += paths_from(ctx, op["path_from"])
    return targets


def file_version(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, source, error in _targets(ctx, op):
        entry = ctx.state.file(path) if path is not None else None
        row: dict[str, Any] = {
            "path": path,
            "exists": entry is not None,
            "product_version": None if entry is None else entry.product_version,
            "file_version": None if entry is None else entry.file_version,
            "source_key": source,
        }
        locked = None if path is None or entry is None else access.locked_message(ctx.state, path)
        if error is None and locked is not None:
            error = entry_error("error", locked)
            row.update(product_version=None, file_version=None)
        if error is not None:
            row["error"] = error
        out.append(row)
    return out


def decode_text(raw: bytes) -> tuple[str, str]:
    """(encoding name, text): BOM detection as StreamReader does it, UTF-8 without a BOM."""
    for bom, name, codec in _BOMS:
        if raw.startswith(bom):
            return name, raw[len(bom) :].decode(codec, errors="replace")
    return "utf-8", raw.decode("utf-8", errors="replace")


def _last(lines: list[str], max_lines: int) -> list[str]:
    return lines[-max_lines:] if max_lines else []


def file_tail(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    """`lines`: the last max_lines lines (matching `pattern` when given; none when only
    `patterns` is given); `matches`: per entry of `patterns`, the last max_lines lines matching
    it. The agent reads each file once for all of them."""
    max_lines = op.get("max_lines", 200)
    if max_lines < 0:
        raise invalid("field 'max_lines': expected 0 or more")
    pattern = _regex("pattern", op["pattern"]) if "pattern" in op else None
    patterns = [_regex("patterns", p) for p in op["patterns"]] if "patterns" in op else None
    with_lines = pattern is not None or patterns is None
    out = []
    for base, source, error in _targets(ctx, op):
        if error is not None:
            failed: dict[str, Any] = {
                "path": None,
                "exists": False,
                "encoding": None,
                "lines": [],
                "source_key": source,
            }
            if patterns is not None:
                failed["matches"] = []
            failed["error"] = error
            out.append(failed)
            continue
        assert base is not None
        for suffix in op.get("suffixes", [""]):
            path = base + suffix
            entry = ctx.state.file(path)
            row: dict[str, Any] = {
                "path": path,
                "exists": entry is not None,
                "encoding": None,
                "lines": [],
                "source_key": source,
            }
            if patterns is not None:
                row["matches"] = [[] for _p in patterns]
            locked = None if entry is None else access.locked_message(ctx.state, path)
            if locked is not None:
                row["error"] = entry_error("error", locked)
            elif entry is not None and entry.text is not None:
                row["encoding"], text = decode_text(entry.raw_bytes())
                lines = text.splitlines()
                if with_lines:
                    row["lines"] = _last(
                        [ln for ln in lines if pattern is None or pattern.search(ln)], max_lines
                    )
                if patterns is not None:
                    row["matches"] = [
                        _last([ln for ln in lines if p.search(ln)], max_lines) for p in patterns
                    ]
            out.append(row)
    return out


__all__ = ["OpError", "decode_text", "file_tail", "file_version", "paths_from", "wow64_path"]
