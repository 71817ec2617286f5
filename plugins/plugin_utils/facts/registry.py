"""Read the agent's ``reg.read`` nodes: case-insensitive names, typed values.

A node is ``{"exists": bool, "values": {name: {"type", "data"}}, "subkeys": {name: node|None}}``
(docs/agent-protocol.md). Windows registry names are case-insensitive, so every
lookup here ignores case. DWORDs arrive signed (``0xffffffff`` reads ``-1``);
they are returned unsigned so the facts show what regedit shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Node = Mapping[str, Any]

_DWORD_TYPES = ("REG_DWORD", "REG_QWORD")
_TEXT_TYPES = ("REG_SZ", "REG_EXPAND_SZ")
# A DWORD written as text: ASCII digits that fit 64 bits ("²".isdigit() is true but int() refuses
# it, and int() refuses strings of more than 4300 digits).
_DIGITS = re.compile(r"[0-9]{1,20}")


def _lookup(mapping: Mapping[str, Any] | None, name: str) -> Any:
    if not isinstance(mapping, Mapping):
        return None
    if name in mapping:
        return mapping[name]
    folded = name.casefold()
    for key, item in mapping.items():
        if key.casefold() == folded:
            return item
    return None


def exists(node: Node | None) -> bool:
    return isinstance(node, Mapping) and node.get("exists", True) is not False


def subkey(node: Node | None, *path: str) -> Node | None:
    """The node at ``path`` below ``node``; None when missing or beyond the read depth."""
    current = node
    for name in path:
        if not exists(current):
            return None
        current = _lookup(current.get("subkeys"), name)
    return current if isinstance(current, Mapping) else None


def subkey_names(node: Node | None) -> list[str]:
    subkeys = node.get("subkeys") if exists(node) else None
    return list(subkeys) if isinstance(subkeys, Mapping) else []


def value_names(node: Node | None) -> list[str]:
    values = node.get("values") if exists(node) else None
    return list(values) if isinstance(values, Mapping) else []


def raw_value(node: Node | None, name: str) -> Mapping[str, Any] | None:
    if not exists(node):
        return None
    entry = _lookup(node.get("values"), name)
    return entry if isinstance(entry, Mapping) else None


def value_type(node: Node | None, name: str) -> str | None:
    entry = raw_value(node, name)
    return entry.get("type") if entry else None


def dword(node: Node | None, name: str) -> int | None:
    """A DWORD as an unsigned integer (``-1`` -> 4294967295); numeric strings are accepted too."""
    entry = raw_value(node, name)
    if entry is None:
        return None
    data = entry.get("data")
    if entry.get("type") in _DWORD_TYPES and isinstance(data, int) and not isinstance(data, bool):
        return data & (0xFFFFFFFF if entry.get("type") == "REG_DWORD" else 0xFFFFFFFFFFFFFFFF)
    if entry.get("type") in _TEXT_TYPES and isinstance(data, str) and _DIGITS.fullmatch(data.strip()):
        return int(data.strip())
    return None


def text(node: Node | None, name: str) -> str | None:
    entry = raw_value(node, name)
    if entry is None:
        return None
    data = entry.get("data")
    if entry.get("type") in _TEXT_TYPES and isinstance(data, str):
        return data
    if entry.get("type") in _DWORD_TYPES and isinstance(data, int):
        return str(data)
    return None


def multi(node: Node | None, name: str) -> list[str] | None:
    entry = raw_value(node, name)
    if entry is None or entry.get("type") != "REG_MULTI_SZ":
        return None
    data = entry.get("data")
    return [str(item) for item in data] if isinstance(data, list) else None


def all_values(node: Node | None) -> dict[str, Any]:
    """Every value of a node as plain data (DWORDs unsigned), for facts that mirror a key."""
    result: dict[str, Any] = {}
    for name in value_names(node):
        if value_type(node, name) in _DWORD_TYPES:
            result[name] = dword(node, name)
        elif value_type(node, name) == "REG_MULTI_SZ":
            result[name] = multi(node, name)
        else:
            result[name] = text(node, name)
    return result
