"""file.version / file.tail, with %VAR% expansion and registry-indirected paths."""

from __future__ import annotations

import re
from typing import Any

from . import registry as regmod
from .opcore import OpContext, expand_env, invalid

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-bom", "utf-8"),
    (b"\xff\xfe", "utf-16le", "utf-16-le"),
    (b"\xfe\xff", "utf-16be", "utf-16-be"),
)


def _regex(op: dict[str, Any], field: str, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise invalid(f"field {field!r}: not a valid regex: {exc}") from exc


def paths_from(ctx: OpContext, spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, source key) for each matching registry value (docs/agent-protocol.md, path_from)."""
    try:
        keys = regmod.match_keys(ctx.state.registry, spec["key"])
    except regmod.RegistryError as exc:
        raise invalid(f"field 'path_from.key': {exc}") from exc
    regex = _regex(spec, "path_from.value_regex", spec["value_regex"]) if "value_regex" in spec else None
    name = spec.get("value_name")
    out = []
    for key_path, key in keys:
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
            out.append((expand_env(ctx.state, data + spec.get("append", "")), key_path))
    return out


def _targets(ctx: OpContext, op: dict[str, Any]) -> list[tuple[str, str | None]]:
    targets: list[tuple[str, str | None]] = [(expand_env(ctx.state, p), None) for p in op.get("paths", [])]
    if "path_from" in op:
        targets += paths_from(ctx, op["path_from"])
    return targets


def file_version(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, source in _targets(ctx, op):
        entry = ctx.state.file(path)
        out.append(
            {
                "path": path,
                "exists": entry is not None,
                "product_version": None if entry is None else entry.product_version,
                "file_version": None if entry is None else entry.file_version,
                "source_key": source,
            }
        )
    return out


def decode_text(raw: bytes) -> tuple[str, str]:
    """(encoding name, text): BOM detection as StreamReader does it, UTF-8 without a BOM."""
    for bom, name, codec in _BOMS:
        if raw.startswith(bom):
            return name, raw[len(bom) :].decode(codec, errors="replace")
    return "utf-8", raw.decode("utf-8", errors="replace")


def file_tail(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    max_lines = op.get("max_lines", 200)
    if max_lines < 0:
        raise invalid("field 'max_lines': expected 0 or more")
    pattern = _regex(op, "pattern", op["pattern"]) if "pattern" in op else None
    out = []
    for base, source in _targets(ctx, op):
        for suffix in op.get("suffixes", [""]):
            path = base + suffix
            entry = ctx.state.file(path)
            if entry is None or entry.text is None:
                out.append(
                    {
                        "path": path,
                        "exists": entry is not None,
                        "encoding": None,
                        "lines": [],
                        "source_key": source,
                    }
                )
                continue
            encoding, text = decode_text(entry.raw_bytes())
            lines = [ln for ln in text.splitlines() if pattern is None or pattern.search(ln)]
            out.append(
                {
                    "path": path,
                    "exists": True,
                    "encoding": encoding,
                    "lines": lines[-max_lines:] if max_lines else [],
                    "source_key": source,
                }
            )
    return out
