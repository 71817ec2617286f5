"""Journal records: the write-ahead line a batch carries, and reading records back.

One record per apply batch, in ``%ProgramData%\\mssql.tls\\journal\\<id>.jsonl`` on the host
(docs/agent-protocol.md). The agent writes our header line before any op runs, then
``{"applied": i[, "created_keys": [...]]}`` after each write that succeeded and
``{"done": true, "stopped_at": i|null}`` at the end. The header holds, for every op, what it
changes (``target``), the prior state (``before``) and the state it leaves (``after``), so a
record alone is enough to roll the batch back (``rollback.py``). Record ids are
``<run id>.<module>.<attempt>-<nonce>``; a run id groups the records of one playbook run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..plan.model import Plan

RECORD_VERSION = 1
RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
_MODULE = re.compile(r"^[a-z_]{1,24}$")


class JournalError(ValueError):
    """A record or run id that is not ours or is malformed; the message names the field."""


def new_run_id(now: dt.datetime, token: str | None = None) -> str:
    """``20261207T191500Z-ab12cd``: sortable by time, unique by a random suffix."""
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{token or secrets.token_hex(3)}"


def check_run_id(run_id: Any, field_name: str = "run_id") -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise JournalError(f"{field_name}: expected a run id like 20261207T191500Z-ab12cd, got {run_id!r}")
    return run_id


def record_id(run_id: str, module: str, attempt: int = 1, nonce: str | None = None) -> str:
    """``<run id>.<module>.<attempt>-<nonce>``: one record per batch, even when a module applies
    twice in one run (the agent refuses to start a batch in an existing record)."""
    if not _MODULE.match(module):
        raise JournalError(f"module: expected lowercase letters and '_', got {module!r}")
    return f"{check_run_id(run_id)}.{module}.{attempt}-{nonce or secrets.token_hex(2)}"


def header(
    plan: Plan, *, run_id: str, module: str, now: dt.datetime, kind: str = "apply", **extra: Any
) -> dict[str, Any]:
    return {
        "v": RECORD_VERSION,
        "kind": kind,
        "run": check_run_id(run_id),
        "module": module,
        "concern": plan.concern,
        "at": now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "forced": plan.forced,
        "activations": list(plan.activations),
        "restart_instances": list(plan.restart_instances),
        "ops": [p.journal_entry() for p in plan.ops],
        **extra,
    }


def journal_for(plan: Plan, *, run_id: str, module: str, now: dt.datetime, attempt: int = 1, **extra: Any):
    """The ``journal`` field of an apply batch: record id and the header line."""
    line = json.dumps(
        header(plan, run_id=run_id, module=module, now=now, **extra), separators=(",", ":"), sort_keys=True
    )
    return {"id": record_id(run_id, module, attempt), "line": line}


@dataclass(frozen=True)
class Record:
    """One journal record as read back from the host."""

    id: str
    header: Mapping[str, Any]
    applied: Mapping[int, tuple[str, ...]]  # op index -> keys the op created
    done: bool
    stopped_at: int | None
    created_utc: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def run(self) -> str | None:
        return self.header.get("run")

    @property
    def ops(self) -> list[Mapping[str, Any]]:
        return list(self.header.get("ops") or [])

    @property
    def interrupted(self) -> bool:
        """Cut off before the agent wrote its end line: which ops ran is only partly known."""
        return not self.done


def parse_record(raw: Mapping[str, Any]) -> Record | None:
    """A ``journal.read`` record -> Record; ``None`` when it is not one of our records."""
    lines = [line for line in raw.get("lines") or [] if isinstance(line, str) and line.strip()]
    if not lines:
        return None
    try:
        head = json.loads(lines[0])
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("v") != RECORD_VERSION or not isinstance(head.get("ops"), list):
        return None
    applied: dict[int, tuple[str, ...]] = {}
    done, stopped_at, problems = False, None, []
    for line in lines[1:]:
        try:
            doc = json.loads(line)
        except ValueError:
            problems.append(f"unreadable line: {line[:80]}")  # a line cut off by a crash
            continue
        if isinstance(doc, dict) and isinstance(doc.get("applied"), int):
            applied[doc["applied"]] = tuple(doc.get("created_keys") or ())
        elif isinstance(doc, dict) and doc.get("done") is True:
            done, stopped_at = True, doc.get("stopped_at")
    return Record(
        id=str(raw.get("id")),
        header=head,
        applied=applied,
        done=done,
        stopped_at=stopped_at if isinstance(stopped_at, int) else None,
        created_utc=raw.get("created_utc"),
        problems=tuple(problems),
    )


def records_by_run(raw_records: Sequence[Mapping[str, Any]]) -> dict[str, list[Record]]:
    """Our records grouped by run id, each group in the order the host created them."""
    runs: dict[str, list[Record]] = {}
    for raw in raw_records:
        record = parse_record(raw)
        if record is not None and isinstance(record.run, str):
            runs.setdefault(record.run, []).append(record)
    return runs
