"""Registry state as the gather read it, and the write ops that move one value or key.

``facts["registry"]`` keeps the raw ``reg.read`` nodes of the keys the fix modules own
(typed values as the agent sent them, DWORDs signed), keyed by the path that was read
(docs/facts-schema.md, "registry"). Planners compare desired values with these, so that
every op carries the exact ``expect`` the agent checks (docs/agent-protocol.md, Values).

A key whose node sits at the read's depth limit (``None`` in its parent's ``subkeys``) is
*unknown*, not absent; planning against it raises ``UnknownState`` instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..agent.ops import op
from .model import Change, PlannedOp

Wire = dict[str, Any]  # {"type": "REG_DWORD", "data": 1}


class UnknownState(LookupError):
    """The facts do not say what is at this path (not read, or beyond the read depth)."""


def dword(value: int) -> Wire:
    """A DWORD as the agent reads it back: signed 32-bit (0xffffffff is -1)."""
    value &= 0xFFFFFFFF
    return {"type": "REG_DWORD", "data": value - (1 << 32) if value >= 1 << 31 else value}


def reg_sz(value: str) -> Wire:
    return {"type": "REG_SZ", "data": value}


def multi_sz(values: list[str]) -> Wire:
    return {"type": "REG_MULTI_SZ", "data": list(values)}


def display(value: Any) -> Any:
    """What the diff shows: DWORDs unsigned (as regedit does), lists and strings as they are."""
    if not isinstance(value, Mapping) or "type" not in value:
        return value
    if value["type"] == "REG_DWORD" and isinstance(value.get("data"), int):
        return value["data"] & 0xFFFFFFFF
    return value.get("data")


def _split(path: str) -> list[str]:
    return [part for part in path.split("\\") if part]


def _child(node: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(name listed, child node or None); registry names are case-insensitive."""
    subkeys = node.get("subkeys") if isinstance(node.get("subkeys"), Mapping) else {}
    folded = name.casefold()
    for key, child in subkeys.items():
        if key.casefold() == folded:
            return True, child
    return False, None


class RegistryView:
    """Read-only questions about the gathered registry: does a key exist, what is a value."""

    def __init__(self, roots: Mapping[str, Mapping[str, Any]] | None):
        self._roots = {
            tuple(p.casefold() for p in _split(path)): node for path, node in (roots or {}).items()
        }

    def _root_for(self, parts: list[str]) -> tuple[int, Mapping[str, Any]]:
        folded = tuple(p.casefold() for p in parts)
        best: tuple[int, Mapping[str, Any]] | None = None
        for root, node in self._roots.items():
            if folded[: len(root)] == root and (best is None or len(root) > best[0]):
                best = (len(root), node)
        if best is None:
            raise UnknownState("\\".join(parts))
        return best

    def node(self, path: str) -> Mapping[str, Any] | None:
        """The node at ``path``, ``None`` when the key is absent; UnknownState when not read."""
        parts = _split(path)
        depth, node = self._root_for(parts)
        if node.get("exists") is False:
            if depth == len(parts):
                return None
            return None  # below an absent key everything is absent
        for name in parts[depth:]:
            listed, child = _child(node, name)
            if not listed:
                return None
            if not isinstance(child, Mapping):
                raise UnknownState(path)  # at the read's depth limit
            node = child
        return node

    def key_exists(self, path: str) -> bool:
        return self.node(path) is not None

    def value(self, path: str, name: str) -> Wire | None:
        node = self.node(path)
        if node is None:
            return None
        values = node.get("values") if isinstance(node.get("values"), Mapping) else {}
        folded = name.casefold()
        for key, value in values.items():
            if key.casefold() == folded and isinstance(value, Mapping):
                return {"type": value.get("type"), "data": value.get("data")}
        return None

    def missing_keys(self, path: str) -> tuple[str, ...]:
        """The keys a write at ``path`` creates, outermost first.

        Below the read root the nodes say it; above an absent root, the agent's ``existing_depth``
        does (how many key names below the hive exist). Without it (an older reply), the keys
        above the root are taken to exist."""
        parts = _split(path)
        depth, node = self._root_for(parts)
        known = node.get("existing_depth") if node.get("exists") is False else None
        if isinstance(known, int) and not isinstance(known, bool) and 0 <= known < depth - 1:
            # parts[0] is the hive, parts[: known + 1] exist: every key after them is created
            return tuple("\\".join(parts[:end]) for end in range(known + 2, len(parts) + 1))
        missing: list[str] = []
        for end in range(max(depth, 1), len(parts) + 1):
            sub = "\\".join(parts[:end])
            if missing or not self.key_exists(sub):
                missing.append(sub)
        return tuple(missing)


def same(a: Wire | None, b: Wire | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.get("type") == b.get("type") and a.get("data") == b.get("data")


def value_target(path: str, name: str) -> dict[str, Any]:
    return {"kind": "reg_value", "path": path, "name": name}


def set_value(
    view: RegistryView, path: str, name: str, desired: Wire, activation: str, instances: tuple[str, ...] = ()
) -> PlannedOp | None:
    """``reg.write`` of one value, or None when it already holds exactly ``desired``."""
    current = view.value(path, name)
    if same(current, desired):
        return None
    return PlannedOp(
        op=op(
            "reg.write",
            path=path,
            name=name,
            type=desired["type"],
            value={"data": desired["data"]},
            expect=current,
        ),
        change=Change(f"{path}\\{name}", display(current), display(desired), activation, instances),
        target=value_target(path, name),
        before=current,
        after=dict(desired),
        creates_keys=view.missing_keys(path),
    )


def remove_value(view: RegistryView, path: str, name: str, activation: str) -> PlannedOp | None:
    current = view.value(path, name)
    if current is None:
        return None
    return PlannedOp(
        op=op("reg.remove", path=path, name=name, expect=current),
        change=Change(f"{path}\\{name}", display(current), None, activation),
        target=value_target(path, name),
        before=current,
        after=None,
    )


def subtree(view: RegistryView, path: str) -> dict[str, Any] | None:
    """The whole key below ``path`` as ``{"values", "subkeys"}`` (UnknownState past the read depth)."""
    node = view.node(path)
    if node is None:
        return None

    def copy(n: Mapping[str, Any], where: str) -> dict[str, Any]:
        subkeys = {}
        for name, child in (n.get("subkeys") or {}).items():
            if not isinstance(child, Mapping):
                raise UnknownState(f"{where}\\{name}")
            subkeys[name] = copy(child, f"{where}\\{name}")
        values = {
            k: {"type": v.get("type"), "data": v.get("data")} for k, v in (n.get("values") or {}).items()
        }
        return {"values": values, "subkeys": subkeys}

    return copy(node, path)


def remove_key(view: RegistryView, path: str, activation: str) -> PlannedOp | None:
    """``reg.remove`` of a whole key; the journal keeps its subtree so rollback can rebuild it."""
    tree = subtree(view, path)
    if tree is None:
        return None
    return PlannedOp(
        op=op("reg.remove", path=path, recurse=True, expect={"key": True}),
        change=Change(path, "present", None, activation),
        target={"kind": "reg_key", "path": path},
        before=tree,
        after=None,
    )
