"""Journal record files under %ProgramData%\\mssql.tls\\journal (docs/agent-protocol.md)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .model import FileEntry, HostState, iso
from .opcore import OpContext, OpError, expand_env, invalid, ordinal_ignore_case

JOURNAL_DIR = "%ProgramData%\\mssql.tls\\journal"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def valid_record_id(record_id: object) -> bool:
    return isinstance(record_id, str) and bool(_ID.match(record_id))


def record_path(state: HostState, record_id: str) -> str:
    if not isinstance(record_id, str) or not _ID.match(record_id):
        raise invalid(f"field 'id': expected 1-64 characters of [A-Za-z0-9_.-], got {record_id!r}")
    return expand_env(state, f"{JOURNAL_DIR}\\{record_id}.jsonl")


def append_line(
    state: HostState,
    record_id: str,
    line: str,
    now: dt.datetime | None = None,
    new: bool = False,
    cut: bool = False,
) -> str:
    """Append one line; ``new`` (a batch's header) requires the record not to exist yet.

    ``cut``: the write stops mid-way (the disk filled up): the first half of the line is in
    the file, without its line end (Knobs.journal_fail_after_lines)."""
    if "\n" in line or "\r" in line:
        raise invalid("field 'line': expected one JSON document without a newline")
    path = record_path(state, record_id)
    entry = state.file(path)
    if new and entry is not None:
        raise OpError("conflict", f"journal record '{record_id}' already exists: a batch starts a new record")
    if entry is None:
        created = None if now is None else iso(now)
        entry = state.put_file(FileEntry(path=path, text="", encoding="utf-8", created_utc=created))
    written = line[: len(line) // 2] if cut else line + "\r\n"  # Add-Content writes CRLF
    entry.text = (entry.text or "") + written
    return path


def records(state: HostState) -> list[tuple[str, FileEntry]]:
    prefix = expand_env(state, JOURNAL_DIR).lower() + "\\"
    found = [
        (entry.path[len(prefix) : -len(".jsonl")], entry)
        for key, entry in state.files.items()
        if key.startswith(prefix) and key.endswith(".jsonl") and "\\" not in key[len(prefix) :]
    ]
    # By creation, then by name compared ordinally without case, as the agent sorts them.
    return sorted(found, key=lambda item: (item[1].created_seq, ordinal_ignore_case(item[0])))


def journal_append(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    return {"id": op["id"], "path": append_line(ctx.state, op["id"], op["line"], ctx.clock.now())}


def journal_read(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    found = records(ctx.state)
    if "id" in op:
        record_path(ctx.state, op["id"])  # validates the id
        found = [r for r in found if r[0].lower() == op["id"].lower()]
        if not found:
            raise OpError("not_found", f"journal record {op['id']!r} does not exist")
    if "last" in op:
        if op["last"] < 0:
            raise invalid("field 'last': expected 0 or more")
        found = found[-op["last"] :] if op["last"] else []
    return {
        "records": [
            {"id": rid, "created_utc": e.created_utc, "lines": (e.text or "").splitlines()}
            for rid, e in found
        ]
    }
