"""Rollback: restore what a run changed, from the host's journal, with compare-and-set.

Three steps (DESIGN.md "Remediation", last paragraph):
1. ``restore_items``: the journaled ops of the chosen run, newest record first, last op first.
2. ``probe_ops``: one read batch that fetches the current state of every target.
3. ``plan_rollback``: per target, current == what we wrote -> restore the prior state (each
   op expects the current value); current == the prior state -> nothing to do (the op never
   ran, or it was restored already); anything else -> someone changed it since our run: a
   ``conflict`` blocker, left alone unless ``force``.

The rollback is itself a plan, so it is journaled like any apply batch and can be undone.
Keys that a write created are removed again when nothing but what we wrote is left in them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..agent.ops import op
from ..plan.model import Blocker, Change, Plan, PlannedOp
from ..plan.registry import display, same
from .record import Record

Probe = tuple[str, ...]  # identifies one read of the probe batch


@dataclass(frozen=True)
class RestoreItem:
    record_id: str
    index: int
    entry: Mapping[str, Any]  # the journaled op: op, target, before, after, creates_keys, change
    applied: bool
    created_keys: tuple[str, ...]

    @property
    def target(self) -> Mapping[str, Any]:
        return self.entry["target"]


def restore_items(records: Sequence[Record]) -> list[RestoreItem]:
    """Every restorable op of these records, in the order rollback must undo them."""
    items = []
    for record in reversed(records):
        for index in reversed(range(len(record.ops))):
            entry = record.ops[index]
            target = entry.get("target") or {}
            if target.get("kind") not in RESTORERS:
                continue
            created = record.applied.get(index)
            items.append(
                RestoreItem(
                    record_id=record.id,
                    index=index,
                    entry=entry,
                    applied=index in record.applied,
                    created_keys=tuple(created if created else entry.get("creates_keys") or ()),
                )
            )
    return items


def _tree_depth(tree: Any) -> int:
    if not isinstance(tree, Mapping) or not tree.get("subkeys"):
        return 0
    return 1 + max(_tree_depth(child) for child in tree["subkeys"].values())


def _probe_of(item: RestoreItem) -> tuple[Probe, dict[str, Any]]:
    t = item.target
    kind = t["kind"]
    if kind == "reg_value":
        return ("reg", t["path"].casefold()), op("reg.read", path=t["path"])
    if kind == "reg_key":
        depth = min(40, _tree_depth(item.entry.get("before")) + 1)
        return ("tree", t["path"].casefold()), op("reg.read", path=t["path"], depth=depth)
    if kind == "cert_prop":
        return ("prop", t["store"], t["thumbprint"].upper(), str(t["prop_id"])), op(
            "cert.prop.get", store=t["store"], thumbprint=t["thumbprint"], prop_id=t["prop_id"]
        )
    if kind == "key_acl":
        return ("acl", t["store"], t["thumbprint"].upper()), op(
            "cert.list", store=t["store"], thumbprints=[t["thumbprint"].upper()], key_acl=True
        )
    return ("suites",), op("tls.suites")


def probe_ops(items: Sequence[RestoreItem]) -> tuple[list[dict[str, Any]], list[Probe]]:
    """One read op per distinct target (and per key the run created), in a stable order."""
    ops: list[dict[str, Any]] = []
    keys: list[Probe] = []
    for item in items:
        probes = [_probe_of(item)]
        probes += [
            (("reg", path.casefold()), op("reg.read", path=path, depth=1)) for path in item.created_keys
        ]
        for key, read in probes:
            if key in keys:
                # A created key is read with depth 1; a value read of the same key can reuse it.
                at = keys.index(key)
                if read.get("depth", 0) > ops[at].get("depth", 0):
                    ops[at] = read
                continue
            keys.append(key)
            ops.append(read)
    return ops, keys


def _lookup(mapping: Mapping[str, Any], name: str) -> Any:
    folded = name.casefold()
    return next((v for k, v in (mapping or {}).items() if k.casefold() == folded), None)


def _strip_tree(node: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        k: {"type": v.get("type"), "data": v.get("data")} for k, v in (node.get("values") or {}).items()
    }
    subkeys = {
        k: _strip_tree(v) if isinstance(v, Mapping) else None for k, v in (node.get("subkeys") or {}).items()
    }
    return {"values": values, "subkeys": subkeys}


def _current(item: RestoreItem, data: Any) -> Any:
    """The target's current state, in the same form as the journal's before/after."""
    t = item.target
    kind = t["kind"]
    if kind == "reg_value":
        if not isinstance(data, Mapping) or not data.get("exists"):
            return None
        value = _lookup(data.get("values") or {}, t["name"])
        return None if value is None else {"type": value.get("type"), "data": value.get("data")}
    if kind == "reg_key":
        return _strip_tree(data) if isinstance(data, Mapping) and data.get("exists") else None
    if kind == "cert_prop":
        return data.get("data") if isinstance(data, Mapping) else None
    if kind == "key_acl":
        entry = data[0] if isinstance(data, list) and data else {}
        acl = entry.get("key_acl") if isinstance(entry, Mapping) else None
        return acl.get("sddl") if isinstance(acl, Mapping) else None
    names = [row.get("name") for row in data or [] if isinstance(row, Mapping)]
    name = t["name"]
    return {"present": True, "position": names.index(name)} if name in names else {"present": False}


def _equal(kind: str, a: Any, b: Any) -> bool:
    if kind == "reg_value":
        return same(a, b)
    if kind == "suite":
        a = a or {"present": False}
        b = b or {"present": False}
        return bool(a.get("present")) == bool(b.get("present")) and (
            not a.get("present") or a.get("position") == b.get("position")
        )
    return a == b


def _restore_value(item: RestoreItem, current: Any) -> list[dict[str, Any]]:
    t, before = item.target, item.entry.get("before")
    if before is None:
        return [op("reg.remove", path=t["path"], name=t["name"], expect=current)]
    return [
        op(
            "reg.write",
            path=t["path"],
            name=t["name"],
            type=before["type"],
            value={"data": before["data"]},
            expect=current,
        )
    ]


def _rebuild_tree(path: str, tree: Mapping[str, Any]) -> list[dict[str, Any]]:
    ops = [op("reg.create", path=path)]
    for name, value in (tree.get("values") or {}).items():
        ops.append(
            op(
                "reg.write",
                path=path,
                name=name,
                type=value["type"],
                value={"data": value["data"]},
                expect=None,
            )
        )
    for name, child in (tree.get("subkeys") or {}).items():
        ops += _rebuild_tree(f"{path}\\{name}", child or {})
    return ops


def _restore_key(item: RestoreItem, current: Any) -> list[dict[str, Any]]:
    path, before = item.target["path"], item.entry.get("before")
    removal = [] if current is None else [op("reg.remove", path=path, recurse=True, expect={"key": True})]
    return removal + ([] if before is None else _rebuild_tree(path, before))


def _restore_prop(item: RestoreItem, current: Any) -> list[dict[str, Any]]:
    t, before = item.target, item.entry.get("before")
    where = {"store": t["store"], "thumbprint": t["thumbprint"], "prop_id": t["prop_id"]}
    expect = None if current is None else {"data": current}
    if before is None:
        return [op("cert.prop.clear", **where, expect=expect)]
    return [op("cert.prop.set", **where, data=before, expect=expect)]


def _restore_acl(item: RestoreItem, current: Any) -> list[dict[str, Any]]:
    t = item.target
    return [
        op(
            "cert.key.acl.set",
            store=t["store"],
            thumbprint=t["thumbprint"],
            sddl=item.entry["before"],
            expect={"data": current},
        )
    ]


def _restore_suite(item: RestoreItem, current: Any) -> list[dict[str, Any]]:
    name, before = item.target["name"], item.entry.get("before") or {"present": False}
    if before.get("present"):
        return [op("tls.suite.enable", name=name, position=before["position"], expect=None)]
    return [op("tls.suite.disable", name=name, expect={"present": True})]


RESTORERS = {
    "reg_value": _restore_value,
    "reg_key": _restore_key,
    "cert_prop": _restore_prop,
    "key_acl": _restore_acl,
    "suite": _restore_suite,
}


def _restored_state(item: RestoreItem) -> Any:
    return item.entry.get("before")


def _created_key_removals(
    items: Sequence[RestoreItem], restored: set[tuple[str, str]], reads: Mapping[Probe, Any]
) -> list[PlannedOp]:
    """Remove keys our writes created, deepest first, when they hold nothing but our values.

    A key goes only when its values are all restored away and each of its subkeys goes too
    (``reg.remove`` without ``recurse`` refuses a key with subkeys)."""
    created = sorted({k for i in items for k in i.created_keys}, key=lambda p: (-p.count("\\"), p.casefold()))
    removed: set[str] = set()
    ops = []
    for path in created:
        node = reads.get(("reg", path.casefold()))
        if not isinstance(node, Mapping) or not node.get("exists"):
            continue
        others = [n for n in (node.get("values") or {}) if (path.casefold(), n.casefold()) not in restored]
        subkeys = [n for n in (node.get("subkeys") or {}) if f"{path}\\{n}".casefold() not in removed]
        if others or subkeys:
            continue  # someone else keeps data there: leave the key
        removed.add(path.casefold())
        ops.append(
            PlannedOp(
                op=op("reg.remove", path=path, expect={"key": True}),
                change=Change(path, "present", None, "immediate"),
                target={"kind": "reg_key", "path": path},
                before={"values": {}, "subkeys": {}},
                after=None,
            )
        )
    return ops


def _target_key(target: Mapping[str, Any]) -> tuple[str, ...]:
    """One identity per restorable thing (a registry value, a key, a property, an ACL, a suite)."""
    kind = target["kind"]
    if kind == "reg_value":
        return (kind, target["path"].casefold(), target["name"].casefold())
    if kind == "reg_key":
        return (kind, target["path"].casefold())
    if kind in ("cert_prop", "key_acl"):
        return (kind, target["store"].casefold(), target["thumbprint"].upper(), str(target.get("prop_id")))
    return (kind, target["name"])


def plan_rollback(
    items: Sequence[RestoreItem],
    probe_keys: Sequence[Probe],
    probe_results: Sequence[Any],
    *,
    force: bool = False,
) -> Plan:
    """The restore plan for these items, given the probe batch's results (data or None per read).

    A target touched twice by the run (a suite moved: disabled, then enabled elsewhere) is
    followed through the plan: once an entry is restored, the target's state is that entry's
    prior state, which is what the next (older) entry of the same target must find.
    """
    reads = dict(zip(probe_keys, probe_results, strict=True))
    ops: list[PlannedOp] = []
    blockers: list[Blocker] = []
    restored_values: set[tuple[str, str]] = set()
    state: dict[tuple[str, ...], Any] = {}
    for item in items:
        kind = item.target["kind"]
        identity = _target_key(item.target)
        if identity not in state:
            key, _read = _probe_of(item)
            state[identity] = _current(item, reads.get(key))
        current = state[identity]
        after, before = item.entry.get("after"), item.entry.get("before")
        if _equal(kind, current, before):
            continue  # never applied, or restored already
        change = item.entry.get("change") or {}
        target_text = change.get("target") or str(item.target)
        if not _equal(kind, current, after):
            blockers.append(
                Blocker(
                    "rollback_conflict",
                    target_text,
                    {
                        "record": item.record_id,
                        "op": item.index,
                        "expected": display(after),
                        "found": display(current),
                        "restore_to": display(before),
                    },
                    "restore it by hand, or roll back with force",
                    forced=force,
                )
            )
            if not force:
                continue
        activation = change.get("activation", "immediate")
        instances = tuple(change.get("instances") or ())
        for restore in RESTORERS[kind](item, current):
            ops.append(
                PlannedOp(
                    op=restore,
                    change=Change(target_text, display(current), display(before), activation, instances),
                    target=item.target,
                    before=current,
                    after=_restored_state(item),
                )
            )
        state[identity] = before
        if kind == "reg_value":
            restored_values.add((item.target["path"].casefold(), item.target["name"].casefold()))
    created = [i for i in items if i.target["kind"] == "reg_value" and i.created_keys]
    ops += _created_key_removals(created, restored_values, reads)
    return Plan(concern="rollback", ops=tuple(ops), blockers=tuple(blockers), forced=force and bool(blockers))
