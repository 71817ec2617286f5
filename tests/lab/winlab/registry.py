"""An in-memory Windows registry: case-insensitive keys and values, typed data.

Key and value names keep the case they were created with but are looked up
case-insensitively, as on Windows. Key names may contain '/' (Schannel's
`AES 128/128`, windows-schannel.md section 3): only '\\' separates keys.
Data is held in its natural Python form (DWORD/QWORD unsigned, REG_BINARY
bytes); `to_wire` gives the agent protocol's form (signed integers, base64).
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field
from typing import Any

REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY")
# Types a value may hold as raw bytes (profiles: `raw`): REG_NONE, the types .NET cannot read
# (RegistryKey.GetValue returns null for them; microsoft/referencesource mscorlib
# registrykey.cs, InternalGetValue), and REG_DWORD / REG_QWORD whose stored length is wrong.
RAW_TYPES = (
    "REG_NONE",
    "REG_BINARY",
    "REG_DWORD",
    "REG_QWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_LINK",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTOR",
    "REG_RESOURCE_REQUIREMENTS_LIST",
)
_UNTYPED = (
    "REG_DWORD_BIG_ENDIAN",
    "REG_LINK",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTOR",
    "REG_RESOURCE_REQUIREMENTS_LIST",
)

_HIVE_ALIASES = {
    "HKLM": "HKLM",
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKCR": "HKCR",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKU": "HKU",
    "HKEY_USERS": "HKU",
}
HIVES = ("HKLM", "HKCR", "HKU")


class RegistryError(ValueError):
    """A bad path or value; the message names what was expected."""


@dataclass
class RegValue:
    name: str
    type: str
    data: Any


@dataclass
class RegKey:
    name: str
    values: dict[str, RegValue] = field(default_factory=dict)
    subkeys: dict[str, RegKey] = field(default_factory=dict)

    def value(self, name: str) -> RegValue | None:
        return self.values.get(name.lower())

    def subkey(self, name: str) -> RegKey | None:
        return self.subkeys.get(name.lower())


Registry = dict[str, RegKey]


def new_registry() -> Registry:
    return {hive: RegKey(hive) for hive in HIVES}


def split_path(path: str) -> tuple[str, list[str]]:
    """'HKLM\\A\\B' -> ('HKLM', ['A', 'B']); empty segments are an error."""
    if not isinstance(path, str) or not path:
        raise RegistryError("registry path: expected 'HKLM\\...', 'HKCR\\...' or 'HKU\\...'")
    head, _sep, rest = path.partition("\\")
    hive = _HIVE_ALIASES.get(head.upper().rstrip(":"))
    if hive is None:
        raise RegistryError(f"registry path {path!r}: expected it to start with HKLM, HKCR or HKU")
    segments = rest.split("\\") if rest else []
    if any(s == "" for s in segments):
        raise RegistryError(f"registry path {path!r}: empty key name (doubled or trailing '\\')")
    return hive, segments


def find_key(reg: Registry, path: str) -> RegKey | None:
    hive, segments = split_path(path)
    key = reg[hive]
    for seg in segments:
        key = key.subkey(seg)
        if key is None:
            return None
    return key


def existing_depth(reg: Registry, path: str) -> int:
    """How many leading key names of the path (below its hive) exist."""
    hive, segments = split_path(path)
    key = reg[hive]
    for depth, seg in enumerate(segments):
        key = key.subkey(seg)
        if key is None:
            return depth
    return len(segments)


def ensure_key(reg: Registry, path: str) -> tuple[RegKey, list[str]]:
    """Open the key, creating only the missing levels; returns (key, created paths)."""
    hive, segments = split_path(path)
    key = reg[hive]
    walked = [hive]
    created: list[str] = []
    for seg in segments:
        walked.append(seg)
        child = key.subkey(seg)
        if child is None:
            child = RegKey(seg)
            key.subkeys[seg.lower()] = child
            created.append("\\".join(walked))
        key = child
    return key, created


def key_exists(reg: Registry, path: str) -> bool:
    return find_key(reg, path) is not None


def get_value(reg: Registry, path: str, name: str) -> RegValue | None:
    key = find_key(reg, path)
    return None if key is None else key.value(name)


def set_value(reg: Registry, path: str, name: str, type_: str, data: Any) -> list[str]:
    """Set a value (data already checked by `check_data`); returns created key paths."""
    key, created = ensure_key(reg, path)
    existing = key.value(name)
    key.values[name.lower()] = RegValue(existing.name if existing else name, type_, data)
    return created


def delete_value(reg: Registry, path: str, name: str) -> RegValue | None:
    key = find_key(reg, path)
    if key is None:
        return None
    return key.values.pop(name.lower(), None)


def delete_key(reg: Registry, path: str, recurse: bool) -> bool:
    """Remove a key; without `recurse` a key with subkeys is refused (RegDeleteKey)."""
    hive, segments = split_path(path)
    if not segments:
        raise RegistryError(f"registry path {path!r}: refusing to remove a hive root")
    parent = find_key(reg, "\\".join([hive, *segments[:-1]]))
    key = None if parent is None else parent.subkey(segments[-1])
    if key is None:
        return False
    if key.subkeys and not recurse:
        raise RegistryError(f"key {path!r} has subkeys; expected recurse=true to remove it")
    del parent.subkeys[segments[-1].lower()]
    return True


def match_keys(reg: Registry, pattern: str) -> list[tuple[str, RegKey]]:
    """Keys matching a path whose '*' segments match every subkey at that level."""
    hive, segments = split_path(pattern)
    found: list[tuple[list[str], RegKey]] = [([hive], reg[hive])]
    for seg in segments:
        nxt: list[tuple[list[str], RegKey]] = []
        for walked, key in found:
            if seg == "*":
                nxt.extend(([*walked, child.name], child) for child in key.subkeys.values())
            else:
                child = key.subkey(seg)
                if child is not None:
                    nxt.append(([*walked, child.name], child))
        found = nxt
    return [("\\".join(walked), key) for walked, key in found]


# ---- typed data -------------------------------------------------------------

_RANGES = {"REG_DWORD": 32, "REG_QWORD": 64}


def check_data(type_: str, data: Any) -> Any:
    """Wire data -> stored form; raises RegistryError naming what was expected."""
    if type_ not in REG_TYPES:
        raise RegistryError(f"field 'type': expected one of {list(REG_TYPES)}, got {type_!r}")
    if type_ in ("REG_SZ", "REG_EXPAND_SZ"):
        if not isinstance(data, str):
            raise RegistryError(f"field 'value.data': expected a string for {type_}")
        return data
    if type_ == "REG_MULTI_SZ":
        if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
            raise RegistryError("field 'value.data': expected a list of strings for REG_MULTI_SZ")
        return list(data)
    if type_ in _RANGES:
        bits = _RANGES[type_]
        if not isinstance(data, int) or isinstance(data, bool):
            raise RegistryError(f"field 'value.data': expected an integer for {type_}")
        if not -(1 << (bits - 1)) <= data < (1 << bits):
            raise RegistryError(f"field 'value.data': {data} does not fit in {bits} bits ({type_})")
        return data & ((1 << bits) - 1)
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        raise RegistryError("field 'value.data': expected a base64 string for REG_BINARY")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RegistryError("field 'value.data': expected valid base64 for REG_BINARY") from exc


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_to_wire(value: RegValue) -> dict[str, Any]:
    """A value held as raw bytes, as the agent reports it (docs/agent-protocol.md, Values).

    REG_NONE and REG_BINARY are bytes anyway. A REG_DWORD of at most 4 bytes reads as the
    integer they hold (.NET pads it), a REG_QWORD of at most 8 likewise; longer ones, and every
    type .NET cannot read, come back as REG_UNKNOWN with the stored bytes.
    """
    data: bytes = value.data
    if value.type in ("REG_NONE", "REG_BINARY"):
        return {"type": value.type, "data": _b64(data)}
    for type_, bits in _RANGES.items():
        if value.type == type_ and len(data) <= bits // 8:
            return {"type": type_, "data": _signed(int.from_bytes(data, "little"), bits)}
    return {"type": "REG_UNKNOWN", "data": _b64(data)}


def raw_value(name: str, type_: str, data: bytes) -> RegValue:
    if type_ not in RAW_TYPES:
        raise RegistryError(f"field 'type': expected one of {list(RAW_TYPES)} for raw data, got {type_!r}")
    return RegValue(name, type_, bytes(data))


def to_wire(value: RegValue) -> dict[str, Any]:
    """The agent protocol form: DWORD/QWORD signed as .NET returns them, binary base64."""
    data = value.data
    if isinstance(data, bytes) and value.type != "REG_BINARY":
        return _raw_to_wire(value)
    if value.type in _RANGES:
        data = _signed(data, _RANGES[value.type])
    elif value.type == "REG_BINARY":
        data = base64.b64encode(data).decode("ascii")
    elif value.type == "REG_MULTI_SZ":
        data = list(data)
    return {"type": value.type, "data": data}


# ---- persistence ------------------------------------------------------------


def _value_to_json(v: RegValue) -> dict[str, Any]:
    if isinstance(v.data, bytes) and v.type != "REG_BINARY":
        return {"name": v.name, "type": v.type, "raw": _b64(v.data)}
    return {"name": v.name, "type": v.type, "data": to_wire(v)["data"] if v.type == "REG_BINARY" else v.data}


def key_to_json(key: RegKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "values": [_value_to_json(v) for v in key.values.values()],
        "subkeys": [key_to_json(k) for k in key.subkeys.values()],
    }


def key_from_json(doc: dict[str, Any]) -> RegKey:
    key = RegKey(doc["name"])
    for v in doc.get("values", []):
        if "raw" in v:
            key.values[v["name"].lower()] = raw_value(v["name"], v["type"], base64.b64decode(v["raw"]))
            continue
        key.values[v["name"].lower()] = RegValue(v["name"], v["type"], check_data(v["type"], v["data"]))
    for k in doc.get("subkeys", []):
        child = key_from_json(k)
        key.subkeys[child.name.lower()] = child
    return key


def registry_to_json(reg: Registry) -> dict[str, Any]:
    return {hive: key_to_json(root) for hive, root in reg.items()}


def registry_from_json(doc: dict[str, Any]) -> Registry:
    reg = new_registry()
    reg.update({hive: key_from_json(root) for hive, root in doc.items()})
    return reg


def copy_subtree(reg: Registry, path: str) -> RegKey | None:
    key = find_key(reg, path)
    return None if key is None else copy.deepcopy(key)
