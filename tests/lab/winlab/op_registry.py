"""reg.read / reg.write / reg.create / reg.remove (docs/agent-protocol.md, "Ops and their data").

Access follows the lab's knobs (access.py): a denied key fails the op that targets it and is
a per-entry error (`errors`) of a reg.read that only passes by it; write access is needed
only on the key that changes.
"""

from __future__ import annotations

from typing import Any

from . import access
from . import registry as regmod
from .opcore import OpContext, OpError, entry_error, has_expect, invalid


def _node(
    ctx: OpContext, key: regmod.RegKey, path: str, depth: int, names: list[str] | None
) -> dict[str, Any]:
    wanted = None if names is None else {n.lower() for n in names}
    values = {
        v.name: regmod.to_wire(v) for lower, v in key.values.items() if wanted is None or lower in wanted
    }
    subkeys: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for child in key.subkeys.values():
        child_path = f"{path}\\{child.name}"
        if depth <= 0:
            subkeys[child.name] = None
        elif access.denied(ctx.state, child_path):
            subkeys[child.name] = None
            errors[child.name] = entry_error("access_denied", access.DENIED_MESSAGE)
        else:
            subkeys[child.name] = _node(ctx, child, child_path, depth - 1, names)
    node: dict[str, Any] = {"values": values, "subkeys": subkeys}
    if errors:
        node["errors"] = errors
    return node


def _path(op: dict[str, Any]) -> str:
    try:
        regmod.split_path(op["path"])
    except regmod.RegistryError as exc:
        raise invalid(f"field 'path': {exc}") from exc
    return op["path"]


def reg_read(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """`values` filters value names at every level read (the lab's reading of the doc)."""
    depth = op.get("depth", 0)
    if depth < 0:
        raise invalid("field 'depth': expected 0 or more")
    path = _path(op)
    access.check_readable(ctx.state, path)
    key = regmod.find_key(ctx.state.registry, path)
    if key is None:
        return {
            "exists": False,
            "existing_depth": regmod.existing_depth(ctx.state.registry, path),
            "values": {},
            "subkeys": {},
        }
    return {"exists": True, **_node(ctx, key, path, depth, op.get("values"))}


def _check_expect(op: dict[str, Any], current: dict[str, Any] | None) -> None:
    if not has_expect(op):
        return
    expect = op["expect"]
    if expect is None:
        if current is not None:
            raise OpError(
                "conflict", f"expected {op['path']}\\{op.get('name')} to be absent, found {current}"
            )
        return
    if set(expect) != {"type", "data"}:
        raise invalid("field 'expect': expected null or {'type': ..., 'data': ...}")
    if current is None or (expect["type"], expect["data"]) != (current["type"], current["data"]):
        raise OpError("conflict", f"{op['path']}\\{op.get('name')}: expected {expect}, found {current}")


def reg_write(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    path = _path(op)
    value = op["value"]
    if set(value) != {"data"}:
        raise invalid("field 'value': expected {'data': ...}")
    try:
        data = regmod.check_data(op["type"], value["data"])
    except regmod.RegistryError as exc:
        raise invalid(str(exc)) from exc
    access.check_readable(ctx.state, path)
    before_value = regmod.get_value(ctx.state.registry, path, op["name"])
    before = None if before_value is None else regmod.to_wire(before_value)
    _check_expect(op, before)
    access.check_create_or_open(ctx.state, path)
    created = regmod.set_value(ctx.state.registry, path, op["name"], op["type"], data)
    after = regmod.to_wire(regmod.get_value(ctx.state.registry, path, op["name"]))  # type: ignore[arg-type]
    return {"before": before, "after": after, "created_keys": created}


def reg_create(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Create the key and its missing parents, without values; never recreate an existing key."""
    path = _path(op)
    _hive, segments = regmod.split_path(path)
    if len(segments) < 2:
        raise invalid(f"field 'path': expected a key below a top-level key, got {path!r}")
    access.check_readable(ctx.state, path)
    exists = regmod.key_exists(ctx.state.registry, path)
    if has_expect(op):
        if op["expect"] is not None:
            raise invalid("field 'expect': expected null (the key must not exist yet) or no field")
        if exists:
            raise OpError("conflict", f"{path}: expected the key to be absent, found it")
    if exists:
        return {"created_keys": []}
    access.check_create_or_open(ctx.state, path)
    _key, created = regmod.ensure_key(ctx.state.registry, path)
    return {"created_keys": created}


def reg_remove(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    path = _path(op)
    reg = ctx.state.registry
    access.check_readable(ctx.state, path)
    if "name" in op:
        current = regmod.get_value(reg, path, op["name"])
        before = None if current is None else regmod.to_wire(current)
        _check_expect(op, before)
        if current is not None:
            access.check_writable(ctx.state, path)
        removed = regmod.delete_value(reg, path, op["name"]) is not None
        return {"before": before, "removed": removed}
    if has_expect(op):
        if op["expect"] is None:
            raise invalid("field 'expect': null is not allowed when removing a whole key")
        if op["expect"] != {"key": True}:
            raise invalid("field 'expect': expected {'key': true} (or no precondition) for a key")
        if not regmod.key_exists(reg, path):
            raise OpError("conflict", f"expected key {path} to exist")
    existed = regmod.key_exists(reg, path)
    if existed:
        # Deleting a subkey changes its parent.
        hive, segments = regmod.split_path(path)
        if segments[:-1]:
            access.check_writable(ctx.state, "\\".join([hive, *segments[:-1]]))
    try:
        removed = regmod.delete_key(reg, path, bool(op.get("recurse", False)))
    except regmod.RegistryError as exc:
        raise OpError("error", str(exc)) from exc
    return {"before": {"key": True} if existed else None, "removed": removed}
