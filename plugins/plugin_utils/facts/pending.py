"""Activations still pending on the host, from its mssql.tls journal.

Schannel protocol keys and the Policy suite list take effect at the next reboot
(windows-schannel.md 1.2, 4), and nothing in Windows records that a reboot is due for them.
Our journal does: a record whose changes need a reboot, that applied at least one write and
was created (host clock) after the last boot, is a reboot still pending. Both times come
from the host's clock (``journal.read`` ``created_utc``, ``os.info`` ``last_boot_utc``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..journal.record import parse_record

# Enough records for the last few runs (each run writes one record per fix module).
JOURNAL_RECORDS = 24


def pending_facts(
    raw_records: Sequence[Mapping[str, Any]] | None, last_boot_utc: str | None
) -> dict[str, Any]:
    reboot_records = []
    for raw in raw_records or []:
        record = parse_record(raw)
        if record is None or "reboot" not in (record.header.get("activations") or []):
            continue
        applied = len(record.applied) if not record.interrupted else max(len(record.applied), 1)
        created = record.created_utc
        if not applied or created is None or last_boot_utc is None or created <= last_boot_utc:
            continue
        reboot_records.append(
            {
                "journal_id": record.id,
                "run": record.run,
                "module": record.header.get("module"),
                "created_utc": created,
                "changes": len(record.applied),
            }
        )
    return {
        "read": raw_records is not None,
        "reboot": bool(reboot_records),
        "reboot_records": reboot_records,
        "since_boot_utc": last_boot_utc,
    }


def facts_after_reboot(facts: Mapping[str, Any], boot_utc: str | None) -> dict[str, Any]:
    """The facts once the host rebooted: nothing of ours is pending any more, the boot time is new.

    Lets a play that reboots once (tls12, then cipher_suites) not reboot a second time on
    facts gathered before the first reboot.
    """
    updated = dict(facts)
    updated["host"] = {**(facts.get("host") or {}), "last_boot_utc": boot_utc}
    pending = dict(facts.get("pending") or {})
    pending.update(reboot=False, reboot_records=[], since_boot_utc=boot_utc)
    updated["pending"] = pending
    return updated
