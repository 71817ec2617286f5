"""Apply agent write ops to the raw results of the gather batch, as the agent would on the host.

Test support for "apply the plan, gather again, plan again: nothing left to do": the ops of a
plan edit the ``reg.read`` nodes (the cmdlet suite list, and property 9 and the key DACLs of the
``cert.list`` rows) of ``winhost.agent_results``, then
``build_facts`` reads them back. ``expect`` preconditions are checked like the agent checks
them (docs/agent-protocol.md), so a plan whose preconditions are wrong fails here too.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.ciphers import LOCAL_LIST_KEY, POLICY_LIST_KEY
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.clients import DOTNET_KEYS, WINHTTP_KEYS
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.schannel import SCHANNEL_KEY
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.sql import SQL_ROOT_KEY
from ansible_collections.mssql.tls.tests.unit.facts.winhost import NOW

ROOTS = {
    "schannel": SCHANNEL_KEY,
    "suites.local": LOCAL_LIST_KEY,
    "suites.policy": POLICY_LIST_KEY,
    "sql.tree": SQL_ROOT_KEY,
    **{f"dotnet.{label}": path for label, path in DOTNET_KEYS.items()},
    **{f"winhttp.{label}": path for label, path in WINHTTP_KEYS.items()},
}


class PreconditionFailed(AssertionError):
    pass


def _find(mapping: dict[str, Any], name: str) -> str | None:
    return next((k for k in mapping if k.casefold() == name.casefold()), None)


class RawHost:
    def __init__(self, results: list[dict[str, Any]]):
        # One copy per result: winhost shares one MISSING node between several of them.
        self.results = [copy.deepcopy(r) for r in results]

    def _root(self, path: str) -> tuple[dict[str, Any], list[str]]:
        for key, root in ROOTS.items():
            if path.casefold() == root.casefold() or path.casefold().startswith(root.casefold() + "\\"):
                result = self.results[GATHER_KEYS.index(key)]
                assert result["ok"], key
                rest = [p for p in path[len(root) :].split("\\") if p]
                return result["data"], rest
        raise AssertionError(f"no gathered root for {path}")

    def _is_root(self, path: str) -> bool:
        return any(path.casefold() == root.casefold() for root in ROOTS.values())

    def _node(self, path: str, create: bool) -> dict[str, Any] | None:
        node, rest = self._root(path)
        if node.get("exists") is False:
            if not create:
                return None
            node.update(exists=True, values={}, subkeys={})
        for name in rest:
            found = _find(node["subkeys"], name)
            if found is None:
                if not create:
                    return None
                node["subkeys"][name] = {"values": {}, "subkeys": {}}
                found = name
            node = node["subkeys"][found]
            assert node is not None, f"{path} is beyond the gathered depth"
        return node

    def value(self, path: str, name: str) -> dict[str, Any] | None:
        node = self._node(path, create=False)
        found = None if node is None else _find(node["values"], name)
        return None if found is None else node["values"][found]

    def apply(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind in ("reg.write", "reg.remove") and "name" in op:
            current = self.value(op["path"], op["name"])
            if "expect" in op and op["expect"] != current:
                raise PreconditionFailed(f"{op}: found {current}")
            if kind == "reg.write":
                node = self._node(op["path"], create=True)
                existing = _find(node["values"], op["name"]) or op["name"]
                node["values"][existing] = {"type": op["type"], "data": op["value"]["data"]}
            elif current is not None:
                node = self._node(op["path"], create=False)
                del node["values"][_find(node["values"], op["name"])]
        elif kind == "reg.remove" and self._is_root(op["path"]):
            node, _rest = self._root(op["path"])
            if op.get("expect") == {"key": True} and node.get("exists") is False:
                raise PreconditionFailed(f"{op}: key absent")
            node.clear()
            node.update(exists=False, values={}, subkeys={})
        elif kind == "reg.remove":
            parent_path, _sep, leaf = op["path"].rpartition("\\")
            parent = self._node(parent_path, create=False)
            found = None if parent is None else _find(parent["subkeys"], leaf)
            if op.get("expect") == {"key": True} and found is None:
                raise PreconditionFailed(f"{op}: key absent")
            if found is not None and parent["subkeys"][found]["subkeys"] and not op.get("recurse"):
                raise AssertionError(f"{op}: the key has subkeys; the agent refuses without recurse")
            if found is not None:
                del parent["subkeys"][found]
        elif kind == "reg.create":
            self._node(op["path"], create=True)
        elif kind in ("tls.suite.disable", "tls.suite.enable"):
            self._apply_suite(op)
        elif kind in ("cert.prop.set", "cert.prop.clear", "cert.key.acl.set"):
            self._apply_cert(op)
        else:
            raise AssertionError(f"rawhost cannot apply {kind}")

    def certificate(self, thumbprint: str) -> dict[str, Any]:
        """The ``cert.list`` row of a certificate (LocalMachine\\My), as the agent keeps it."""
        rows = self.results[GATHER_KEYS.index("certificates")]["data"]
        for row in rows:
            if row["thumbprint"].upper() == thumbprint.upper():
                return row
        raise PreconditionFailed(f"certificate {thumbprint} not found")  # the agent's not_found

    def _apply_cert(self, op: dict[str, Any]) -> None:
        """Property 9 kept as the raw base64 the agent lists (``prop9``), the key DACL as SDDL;
        ``expect`` compared exactly, as docs/agent-protocol.md says."""
        row = self.certificate(op["thumbprint"])
        if op["op"] == "cert.key.acl.set":
            acl = row.get("key_acl")
            if acl is None:
                raise PreconditionFailed(f"{op}: no private key DACL")
            if op.get("expect") != {"data": acl["sddl"]}:
                raise PreconditionFailed(f"{op}: found {acl['sddl']}")
            acl["sddl"] = op["sddl"]
            return
        assert op["prop_id"] == 9, op
        current = row.get("prop9")
        if "expect" in op and op["expect"] != (None if current is None else {"data": current}):
            raise PreconditionFailed(f"{op}: found {current}")
        row["prop9"] = op["data"] if op["op"] == "cert.prop.set" else None

    def _apply_suite(self, op: dict[str, Any]) -> None:
        rows = self.results[GATHER_KEYS.index("suites.cmdlet")]["data"]
        names = [r["name"] for r in rows]
        local = self.results[GATHER_KEYS.index("suites.local")]["data"]
        if op["op"] == "tls.suite.disable":
            if op.get("expect") == {"present": True} and op["name"] not in names:
                raise PreconditionFailed(f"{op}: absent")
            rows[:] = [r for r in rows if r["name"] != op["name"]]
        else:
            if "expect" in op and op["name"] in names:
                raise PreconditionFailed(f"{op}: present")
            row = {
                "name": op["name"],
                "protocols": [771],
                "cipher": "",
                "exchange": "",
                "hash": "",
                "certificate": "",
            }
            rows.insert(op.get("position", len(rows)), row)
        # The cmdlets write the Local list underneath (windows-schannel.md 4).
        local.update(exists=True)
        local.setdefault("values", {})["Functions"] = {
            "type": "REG_MULTI_SZ",
            "data": [r["name"] for r in rows],
        }

    def read(self, op: dict[str, Any]) -> Any:
        """A read op of a rollback probe, answered from the same raw nodes."""
        if op["op"] == "tls.suites":
            return copy.deepcopy(self.results[GATHER_KEYS.index("suites.cmdlet")]["data"])
        if op["op"] == "cert.prop.get":
            data = self.certificate(op["thumbprint"]).get("prop9")
            return {"present": data is not None, "data": data}
        if op["op"] == "cert.list":
            return [copy.deepcopy(self.certificate(t)) for t in op["thumbprints"]]
        assert op["op"] == "reg.read", op
        node = self._node(op["path"], create=False)
        if node is None:
            return {"exists": False, "values": {}, "subkeys": {}}

        def cut(n: dict[str, Any], depth: int) -> dict[str, Any]:
            subkeys = {
                k: (cut(v, depth - 1) if depth > 0 and v is not None else None)
                for k, v in n["subkeys"].items()
            }
            return {"values": copy.deepcopy(n["values"]), "subkeys": subkeys}

        return {"exists": True, **cut(node, op.get("depth", 0))}

    def apply_all(self, ops: list[dict[str, Any]]) -> RawHost:
        for op in ops:
            self.apply(op)
        return self

    def facts(self) -> dict[str, Any]:
        # A copy: facts keep the raw registry nodes, which later ops would change under them.
        return build_facts(copy.deepcopy(self.results), now=NOW)
