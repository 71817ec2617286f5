"""The lab host's model as the fault, rollback and load tests compare it, and its journal records.

``comparable(state)`` is the whole host model the fixes can touch: every registry value and key
(SuperSocketNetLib bindings included), every certificate with its properties (property 9) and its
private key's ACL, the services' start modes and states, the cluster resources, and what SQL Server
serves. What only time changes is left out: the journal files (they must stay: they are the record),
ERRORLOG text (every start appends), boot and start times and the self-generated certificates SQL
Server makes at each start.

``journal(state)`` reads the host's journal records from its state file the way rollback reads them
(``journal.record.parse_record``), in the order the host created them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import Record, parse_record

JOURNAL_DIR = "C:\\ProgramData\\mssql.tls\\journal\\"


def comparable(state: Mapping[str, Any]) -> dict[str, Any]:
    runtime = {
        name: {
            "running": r["running"],
            "certificate": r["certificate"],
            "force_encryption": r["force_encryption"],
            "force_strict": r["force_strict"],
        }
        for name, r in state["sql_runtime"].items()
    }
    return {
        "registry": state["registry"],
        "cert_stores": state["cert_stores"],
        "services": sorted(json.dumps(s, sort_keys=True) for s in state["services"]),
        "cluster": state["cluster"],
        # what SQL Server serves: the same configured certificate (or, again, a self-generated one)
        "sql_runtime": runtime,
    }


def journal_files(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every record file as ``journal.read`` returns it: ``{"id", "created_utc", "lines"}``."""
    files = [
        f
        for f in state["files"]
        if f["path"].lower().startswith(JOURNAL_DIR.lower()) and f["path"].lower().endswith(".jsonl")
    ]
    files.sort(key=lambda f: f["created_seq"])
    return [
        {
            "id": f["path"][len(JOURNAL_DIR) : -len(".jsonl")],
            "created_utc": f["created_utc"],
            "lines": (f["text"] or "").splitlines(),
        }
        for f in files
    ]


def journal(state: Mapping[str, Any]) -> list[Record]:
    """The host's records that are ours, oldest first (an unreadable header is not a record)."""
    return [r for r in (parse_record(raw) for raw in journal_files(state)) if r is not None]


def record(state: Mapping[str, Any], record_id: str) -> Record:
    (found,) = [r for r in journal(state) if r.id == record_id]
    return found


def target_key(target: Mapping[str, Any]) -> str:
    """One text per thing a journaled op changes, for counting how often it was written."""
    return json.dumps(
        {k: (v.casefold() if isinstance(v, str) else v) for k, v in target.items()}, sort_keys=True
    )


def writes_per_target(records: Iterable[Record], module: str | None = None) -> dict[str, int]:
    """How many applied ops wrote each target, over the given records (of one module)."""
    counts: dict[str, int] = {}
    for rec in records:
        if module is not None and rec.header.get("module") != module:
            continue
        for index in rec.applied:
            key = target_key(rec.ops[index]["target"])
            counts[key] = counts.get(key, 0) + 1
    return counts
