"""The agent's op set: the single source of truth for op names and fields.

agent.ps1 carries a generated copy of this table (between the
``# BEGIN GENERATED OP TABLE`` / ``# END GENERATED OP TABLE`` markers, written
by ``python -m ansible_collections.mssql.tls.plugins.plugin_utils.agent.gen``)
and rejects any op or field that is not listed here. The contract tests check
that the copy is current, that every op has a handler in agent.ps1 and that
each handler reads only its declared fields.

Ops only read and write primitives (registry values, certificate properties,
services, files, cluster resources); every Windows-specific meaning is decided
in Python. The wire format is documented in docs/agent-protocol.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Wire types of op fields. "path_from" is the registry-indirected path spec
# (see PATH_FROM_FIELDS); "expect" is a precondition value (None = must be absent).
FIELD_TYPES = ("str", "int", "bool", "list[str]", "list[int]", "b64", "path_from", "expect", "dict")

# ``path_from`` lets one batch read files whose location is stored in the
# registry (ERRORLOG from SQLArgN, sqlservr.exe under SQLBinRoot, ODBC driver
# DLLs) without a second round trip. ``key`` may contain ``*`` segments, each
# matching every subkey at that level.
PATH_FROM_FIELDS = ("key", "value_name", "value_regex", "append")

ERROR_KINDS = (
    "not_found",        # key, value, certificate, service, file or resource missing
    "access_denied",
    "conflict",         # an ``expect`` precondition did not hold: the batch stops
    "invalid_request",  # unknown op or field, wrong type
    "unsupported",      # not available on this host (e.g. TLS cmdlets before 2016)
    "timeout",
    "skipped",          # not run because an earlier write failed or conflicted
    "error",            # anything else, with the exception message
)

REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY")


@dataclass(frozen=True)
class Field:
    type: str
    required: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")


@dataclass(frozen=True)
class OpSpec:
    name: str
    writes: bool
    doc: str
    fields: Mapping[str, Field] = field(default_factory=dict)


def _op(op_name: str, writes: bool, doc: str, /, **fields: Field) -> OpSpec:
    # Positional-only, and named unlike any field: ops have fields called ``name``
    # (reg.write, svc.restart), which land in ``fields``.
    return OpSpec(name=op_name, writes=writes, doc=doc, fields=fields)


_STORE = Field("str", doc="LocalMachine store name, default 'My'")
_THUMB = Field("str", required=True, doc="SHA-1 thumbprint, 40 hex digits")
_PROP_ID = Field("int", required=True, doc="certificate context property id (9 = EKU property)")
_EXPECT = Field("expect", doc="precondition: current value must equal this; null = must be absent")
_TIMEOUT = Field("int", doc="seconds to wait for the target state, default 120")

OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        _op(
            "reg.read", False,
            "Read a key: typed values, and subkeys down to `depth` levels.",
            path=Field("str", required=True, doc="HKLM\\... key path; names may contain '/'"),
            depth=Field("int", doc="levels of subkeys to descend, default 0 (names only)"),
            values=Field("list[str]", doc="only these value names (default all)"),
        ),
        _op(
            "reg.write", True,
            "Set one value, creating missing keys without recreating existing ones.",
            path=Field("str", required=True),
            name=Field("str", required=True, doc="value name; '' is the default value"),
            type=Field("str", required=True, doc="one of REG_TYPES"),
            value=Field("dict", required=True, doc="{'data': str|int|list[str]} (REG_BINARY: base64 str)"),
            expect=_EXPECT,
        ),
        _op(
            "reg.remove", True,
            "Remove one value (`name` given) or a key (with `recurse` for a non-empty key).",
            path=Field("str", required=True),
            name=Field("str"),
            recurse=Field("bool"),
            expect=_EXPECT,
        ),
        _op(
            "reg.create", True,
            "Create a key (and its missing parents) without values; existing keys are left as they are.",
            path=Field("str", required=True),
            expect=Field("expect", doc="null = the key must not exist yet; absent = no precondition"),
        ),
        _op(
            "cert.list", False,
            "List certificates of LocalMachine\\<store>: DER, private key, provider, property 9.",
            store=_STORE,
            thumbprints=Field("list[str]", doc="only these thumbprints (default all)"),
            key_acl=Field(
                "bool",
                doc="also read the DACL of each private key (SDDL) through its CSP or KSP, default false",
            ),
        ),
        _op(
            "cert.key.acl.set", True,
            "Replace the DACL of a certificate's private key (CSP or CNG key) with the given SDDL.",
            store=_STORE, thumbprint=_THUMB,
            sddl=Field("str", required=True, doc="the whole DACL as SDDL ('D:...')"),
            expect=Field("expect", doc="{'data': <current DACL SDDL>}"),
        ),
        _op(
            "cert.prop.get", False,
            "Read one certificate context property as raw bytes.",
            store=_STORE, thumbprint=_THUMB, prop_id=_PROP_ID,
        ),
        _op(
            "cert.prop.set", True,
            "Set one certificate context property to raw bytes (persisted to the store).",
            store=_STORE, thumbprint=_THUMB, prop_id=_PROP_ID,
            data=Field("b64", required=True, doc="property bytes, base64"),
            expect=_EXPECT,
        ),
        _op(
            "cert.prop.clear", True,
            "Delete one certificate context property.",
            store=_STORE, thumbprint=_THUMB, prop_id=_PROP_ID, expect=_EXPECT,
        ),
        _op(
            "svc.query", False,
            "State, start mode and dependents of services.",
            names=Field("list[str]", required=True, doc="exact service names (may be empty)"),
            prefixes=Field(
                "list[str]",
                doc="also every service whose name starts with one of these (case-insensitive),"
                " e.g. 'MSSQL$' for named instances, whose names the batch cannot know",
            ),
        ),
        _op(
            "svc.restart", True,
            "Restart a service; running dependents are stopped first and started after.",
            name=Field("str", required=True),
            with_dependents=Field("bool", doc="restart running dependents too, default true"),
            timeout_s=_TIMEOUT,
        ),
        _op(
            "svc.start", True,
            "Start one service (and, as Windows does, the services it depends on) and wait for Running.",
            name=Field("str", required=True),
            timeout_s=_TIMEOUT,
        ),
        _op(
            "cluster.query", False,
            "Cluster membership, nodes and resources (empty when not a cluster node).",
        ),
        _op(
            "cluster.restart", True,
            "Take a cluster resource offline and online again, then its dependents online.",
            resource=Field("str", required=True),
            timeout_s=_TIMEOUT,
        ),
        _op(
            "file.version", False,
            "Product and file version of files (paths may use %VAR% and path_from).",
            paths=Field("list[str]"),
            path_from=Field("path_from"),
        ),
        _op(
            "file.tail", False,
            "Last lines of text files (BOM-detected encoding), optionally only lines matching a regex.",
            paths=Field("list[str]"),
            path_from=Field("path_from"),
            suffixes=Field("list[str]", doc="also read <path><suffix> for each, e.g. ['', '.1']"),
            max_lines=Field("int", doc="default 200"),
            pattern=Field("str", doc=".NET regex; only matching lines are returned"),
            patterns=Field(
                "list[str]",
                doc=".NET regexes; each entry also gets `matches`, the lines matching each one,"
                " from the same single read of the file",
            ),
        ),
        _op(
            "tls.suites", False,
            "Get-TlsCipherSuite output (unsupported before Server 2016).",
        ),
        _op(
            "tls.suite.disable", True,
            "Disable-TlsCipherSuite: remove one suite from the Local (CNG) list; immediate (2016+).",
            name=Field("str", required=True, doc="suite name, exact"),
            expect=Field("expect", doc="{'present': true}: the suite must be in the list"),
        ),
        _op(
            "tls.suite.enable", True,
            "Enable-TlsCipherSuite: add one suite to the Local (CNG) list at a position; immediate (2016+).",
            name=Field("str", required=True, doc="suite name, exact"),
            position=Field("int", doc="0 = top; default the bottom of the list"),
            expect=Field("expect", doc="null: the suite must not be in the list yet"),
        ),
        _op(
            "os.info", False,
            "Computer name, domain, PowerShell version, last boot time, local time and UTC offset.",
        ),
        _op(
            "os.reboot", True,
            "Schedule a restart of the computer with a reason; returns the boot time before it.",
            reason=Field(
                "str", required=True, doc="shown to users and in the System log; 1-200 printable ASCII"
            ),
            delay_s=Field("int", doc="seconds before the restart, default 10 (0..600)"),
        ),
        _op(
            "event.count", False,
            "Count events by id in a log since a time.",
            log=Field("str", required=True),
            provider=Field("str"),
            ids=Field("list[int]", required=True),
            since_hours=Field("int", doc="default 168"),
        ),
        _op(
            "journal.append", True,
            "Append one line to a journal record file under %ProgramData%\\mssql.tls\\journal.",
            id=Field("str", required=True, doc="record id: [A-Za-z0-9_.-]{1,64}"),
            line=Field("str", required=True, doc="one JSON document, no newline"),
        ),
        _op(
            "journal.read", False,
            "Read journal record files (raw lines).",
            id=Field("str", doc="one record; default all"),
            last=Field("int", doc="only the newest N records"),
        ),
    )
}

WRITE_OPS = frozenset(name for name, spec in OPS.items() if spec.writes)


_SINGLE_EXPECT: dict[str, tuple[Any, str]] = {
    "reg.create": (None, "null (the key must not exist yet)"),
    "tls.suite.disable": ({"present": True}, "{'present': true}"),
    "tls.suite.enable": (None, "null (the suite must not be in the list yet)"),
}


class OpValidationError(ValueError):
    """An op that does not match the spec; the message names the bad field."""


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "b64": (str,),
    "dict": (dict,),
    "path_from": (dict,),
}


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _check_value(op: str, name: str, ftype: str, value: Any) -> None:
    where = f"op {op!r} field {name!r}"
    if ftype == "expect":
        if value is not None and not isinstance(value, dict):
            raise OpValidationError(f"{where}: expected null or an object, got {type(value).__name__}")
        return
    if ftype in ("list[str]", "list[int]"):
        item = str if ftype == "list[str]" else int
        if not isinstance(value, list) or not all(
            isinstance(v, item) and not isinstance(v, bool) for v in value
        ):
            raise OpValidationError(f"{where}: expected a list of {item.__name__}")
        return
    allowed = _PY_TYPES[ftype]
    if isinstance(value, bool) and ftype != "bool":
        raise OpValidationError(f"{where}: expected {ftype}, got bool")
    if not isinstance(value, allowed):
        raise OpValidationError(f"{where}: expected {ftype}, got {type(value).__name__}")
    if ftype == "b64" and not _is_base64(value):
        raise OpValidationError(f"{where}: expected base64 (standard alphabet, padded)")
    if ftype == "path_from":
        unknown = set(value) - set(PATH_FROM_FIELDS)
        strings = all(isinstance(v, str) for v in value.values())
        if unknown or not strings or not isinstance(value.get("key"), str):
            raise OpValidationError(
                f"{where}: expected an object with a 'key' string and only {list(PATH_FROM_FIELDS)} (strings)"
            )


def validate_op(op: Mapping[str, Any]) -> dict[str, Any]:
    """Check one op against the spec and return it as a plain dict."""
    if not isinstance(op, Mapping):
        raise OpValidationError(f"op: expected an object, got {type(op).__name__}")
    name = op.get("op")
    spec = OPS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise OpValidationError(f"field 'op': unknown op {name!r}, expected one of {sorted(OPS)}")
    for key, value in op.items():
        if key == "op":
            continue
        if key not in spec.fields:
            raise OpValidationError(
                f"op {name!r}: unknown field {key!r}, expected one of {sorted(spec.fields)}"
            )
        _check_value(name, key, spec.fields[key].type, value)
    for key, fdef in spec.fields.items():
        if fdef.required and key not in op:
            raise OpValidationError(f"op {name!r}: missing required field {key!r}")
    if name == "reg.write" and op["type"] not in REG_TYPES:
        raise OpValidationError(f"op 'reg.write' field 'type': expected one of {list(REG_TYPES)}")
    # Ops whose precondition has one allowed shape (docs/agent-protocol.md).
    allowed_expect = _SINGLE_EXPECT.get(name)
    if allowed_expect is not None and "expect" in op and op["expect"] != allowed_expect[0]:
        raise OpValidationError(f"op {name!r} field 'expect': expected {allowed_expect[1]} or no field")
    if name == "reg.remove" and "name" not in op and "expect" in op and op["expect"] is None:
        raise OpValidationError(
            "op 'reg.remove' field 'expect': null is not allowed when removing a whole key "
            "(use {'key': true} or no precondition)"
        )
    return dict(op)


def op(op_name: str, /, **fields: Any) -> dict[str, Any]:
    """Build and validate one op: ``op("reg.read", path=..., depth=2)``.

    The op name is positional-only (and its parameter is not called ``name``) so
    that ops with a ``name`` field (reg.write, reg.remove, svc.restart) can be
    built: ``op("svc.restart", name="MSSQLSERVER")``.
    """
    return validate_op({"op": op_name, **fields})
