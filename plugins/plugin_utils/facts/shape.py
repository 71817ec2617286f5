"""The data of each gather op, checked against its documented shape before the facts read it.

docs/agent-protocol.md ("Ops and their data") gives the data of every op. A result whose data
has another shape (a broken or hostile agent, a bug) is read as a failed op of kind
``malformed``, its message naming the first field that is wrong
(``sql.binaries[0].product_version: expected a string or null, got int``): the facts are still
built, the sections it feeds are empty, and ``gather_errors`` names it, as for any read that
failed. Fields the documentation marks optional may be absent; fields it does not name are
ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MALFORMED = "malformed"

Check = Callable[[Any, str], None]


class ShapeError(ValueError):
    """The data of an op does not have its documented shape; the message starts with the field."""

    def __init__(self, where: str, expected: str, got: str = "") -> None:
        super().__init__(f"{where}: {expected}" if not got else f"{where}: expected {expected}, got {got}")
        self.where, self.expected, self.got = where, expected, got


def _fail(where: str, expected: str, value: Any) -> None:
    raise ShapeError(where, expected, type(value).__name__)


def _string(value: Any, where: str) -> None:
    if not isinstance(value, str):
        _fail(where, "a string", value)


def _boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        _fail(where, "true or false", value)


def _integer(value: Any, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(where, "an integer", value)


def _anything(value: Any, where: str) -> None:
    del value, where


def _optional(check: Check) -> Check:
    def optional(value: Any, where: str) -> None:
        if value is not None:
            try:
                check(value, where)
            except ShapeError as error:
                if error.where != where or not error.got:  # a nested field, or not a type error
                    raise
                raise ShapeError(where, f"{error.expected} or null", error.got) from None

    return optional


def _list_of(check: Check) -> Check:
    def list_of(value: Any, where: str) -> None:
        if not isinstance(value, list):
            _fail(where, "a list", value)
        for index, item in enumerate(value):
            check(item, f"{where}[{index}]")

    return list_of


def _map_of(check: Check) -> Check:
    def map_of(value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            _fail(where, "an object", value)
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(f"{where} key", "a string", key)
            check(item, f"{where}[{key!r}]")

    return map_of


def _record(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    def record(value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            _fail(where, "an object", value)
        for name, check in required.items():
            if name not in value:
                raise ShapeError(f"{where}.{name}", "missing")
            check(value[name], f"{where}.{name}")
        for name, check in (optional or {}).items():
            if name in value:
                check(value[name], f"{where}.{name}")

    return record


_str_or_null = _optional(_string)
_int_or_null = _optional(_integer)
_error = _record({"kind": _string}, {"message": _str_or_null})

# Registry values: {"type", "data"}, data typed by the type (docs/agent-protocol.md "Values").
_DATA_BY_TYPE: dict[str, Check] = {
    "REG_SZ": _string,
    "REG_EXPAND_SZ": _string,
    "REG_MULTI_SZ": _list_of(_string),
    "REG_DWORD": _integer,
    "REG_QWORD": _integer,
    "REG_BINARY": _string,
    "REG_NONE": _string,
    "REG_UNKNOWN": _string,
}


def _registry_value(value: Any, where: str) -> None:
    _record({"type": _string, "data": _anything})(value, where)
    check = _DATA_BY_TYPE.get(value["type"])
    if check is None:
        raise ShapeError(f"{where}.type", f"one of {sorted(_DATA_BY_TYPE)}", repr(value["type"])[:40])
    check(value["data"], f"{where}.data")


def _node(value: Any, where: str) -> None:
    _record(
        {"values": _map_of(_registry_value), "subkeys": _map_of(_optional(_node))},
        {"errors": _map_of(_error)},
    )(value, where)


def _top_node(value: Any, where: str) -> None:
    _record({"exists": _boolean}, {"existing_depth": _integer})(value, where)
    _node(value, where)


_FILE_ROW = {"path": _str_or_null, "exists": _boolean, "source_key": _str_or_null}

SHAPES: dict[str, Check] = {
    "reg.read": _top_node,
    "os.info": _record(
        {},
        {
            "computer_name": _str_or_null,
            "dns_domain": _str_or_null,
            "ps_version": _str_or_null,
            "last_boot_utc": _str_or_null,
            "is_64bit": _optional(_boolean),
            "local_time": _str_or_null,
            "utc_offset_minutes": _int_or_null,
            "time_zone": _str_or_null,
        },
    ),
    "file.version": _list_of(
        _record(
            {**_FILE_ROW, "product_version": _str_or_null, "file_version": _str_or_null},
            {"error": _optional(_error)},
        )
    ),
    "file.tail": _list_of(
        _record(
            {**_FILE_ROW, "lines": _list_of(_string)},
            {
                "encoding": _str_or_null,
                "matches": _list_of(_list_of(_string)),
                "error": _optional(_error),
            },
        )
    ),
    "svc.query": _list_of(
        _record(
            {"name": _string, "exists": _boolean},
            {
                "display_name": _str_or_null,
                "state": _str_or_null,
                "start_mode": _str_or_null,
                "dependents": _list_of(_string),
            },
        )
    ),
    "cluster.query": _record(
        {"is_node": _boolean},
        {
            "cluster_name": _str_or_null,
            "nodes": _list_of(_record({"name": _string}, {"state": _str_or_null})),
            "resources": _list_of(
                _record(
                    {"name": _string},
                    {
                        "type": _str_or_null,
                        "group": _str_or_null,
                        "owner_node": _str_or_null,
                        "state": _str_or_null,
                        "private": _optional(_map_of(_anything)),
                    },
                )
            ),
        },
    ),
    "cert.list": _list_of(
        _record(
            {"thumbprint": _string, "der": _string, "has_private_key": _boolean},
            {
                "key_provider": _str_or_null,
                "key_provider_type": _int_or_null,
                "key_spec": _int_or_null,
                "key_container": _str_or_null,
                "prop9": _str_or_null,
                "key_acl": _optional(_record({"kind": _string, "sddl": _string})),
                "key_acl_error": _optional(_error),
            },
        )
    ),
    "tls.suites": _list_of(
        _record(
            {"name": _string},
            {
                "protocols": _list_of(_integer),
                "cipher": _str_or_null,
                "exchange": _str_or_null,
                "hash": _str_or_null,
                "certificate": _str_or_null,
            },
        )
    ),
    "event.count": _record({"counts": _map_of(_integer), "latest_utc": _map_of(_str_or_null)}),
    "journal.read": _record(
        {
            "records": _list_of(
                _record({"id": _string, "lines": _list_of(_string)}, {"created_utc": _str_or_null})
            )
        }
    ),
}


def check_data(op_name: str, data: Any, where: str) -> None:
    """Raise ShapeError naming the first field of ``data`` that is not as documented for ``op_name``."""
    SHAPES.get(op_name, _anything)(data, where)


def checked_result(op_name: str, result: dict[str, Any], where: str) -> dict[str, Any]:
    """``result`` (``{"ok", "data", "error_kind", "error_message"}``) as is, or a failed one of kind
    ``malformed`` when its data does not have the documented shape (or its error fields are not text)."""
    if not result["ok"]:
        kind, message = result["error_kind"], result["error_message"]
        if isinstance(kind, str) and (message is None or isinstance(message, str)):
            return result
        return {
            **result,
            "error_kind": MALFORMED,
            "error_message": f"{where}.error: expected kind and message as text, got "
            f"{type(kind).__name__} and {type(message).__name__}",
        }
    try:
        check_data(op_name, result["data"], where)
    except ShapeError as error:
        return {"ok": False, "data": None, "error_kind": MALFORMED, "error_message": str(error)}
    except RecursionError:
        return {
            "ok": False,
            "data": None,
            "error_kind": MALFORMED,
            "error_message": f"{where}: nested too deep",
        }
    return result
