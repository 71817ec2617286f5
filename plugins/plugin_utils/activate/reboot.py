"""Reboot a host and wait until it answers again with a new boot time.

As ansible.windows' win_reboot does it (docs/reference-windows-bindings.md 6): read the boot
time, schedule the restart, then poll until the boot time differs, tolerating the connection
failures of a host that is going down and coming back, with a back-off, up to a timeout.
Here the restart is one journaled agent op (``os.reboot``) and each poll is one read-only
batch (``os.info``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..agent.client import BatchResult
from ..agent.ops import op
from ..journal.record import record_id

RunBatch = Callable[[list[dict[str, Any]], Mapping[str, Any] | None], BatchResult]
# Exceptions a poll may raise while the host is down (the adapter raises Ansible's own).
PollFailure = Exception


class RebootError(RuntimeError):
    """The reboot could not be scheduled, or the host did not come back in time."""


@dataclass
class RebootOutcome:
    previous_boot_utc: str | None
    boot_utc: str | None = None
    elapsed_s: float = 0.0
    polls: int = 0
    failures: list[str] = field(default_factory=list)
    journal_id: str | None = None


def schedule(
    run_batch: RunBatch, *, reason: str, delay_s: int, run_id: str, now: dt.datetime
) -> tuple[str | None, str]:
    """Schedule the restart; (boot time before it, journal record id)."""
    head = {
        "v": 1,
        "kind": "activation",
        "module": "reboot",
        "run": run_id,
        "at": now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reason": reason,
        "ops": [],
    }
    journal = {
        "id": record_id(run_id, "reboot"),
        "line": json.dumps(head, separators=(",", ":"), sort_keys=True),
    }
    batch = run_batch([op("os.reboot", reason=reason, delay_s=delay_s)], journal)
    (result,) = batch.results
    if not result.ok:
        raise RebootError(
            f"os.reboot: {result.error_kind}: {result.error_message} (journal record {journal['id']})"
        )
    return (result.data or {}).get("previous_boot_utc"), journal["id"]


def wait_for_new_boot(
    poll: Callable[[], Mapping[str, Any]],
    previous_boot_utc: str | None,
    *,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    first_wait_s: float = 2.0,
    max_wait_s: float = 12.0,
) -> RebootOutcome:
    """Poll ``os.info`` until ``last_boot_utc`` changes; back off 2, 4, 8, 12, 12 … seconds."""
    outcome = RebootOutcome(previous_boot_utc=previous_boot_utc)
    started = monotonic()
    wait = first_wait_s
    while True:
        sleep(wait)
        outcome.polls += 1
        try:
            info = poll()
        except PollFailure as exc:  # the host is down or still starting: expected, keep polling
            outcome.failures.append(str(exc)[:200])
        else:
            boot = info.get("last_boot_utc")
            if boot and boot != previous_boot_utc:
                outcome.boot_utc = boot
                outcome.elapsed_s = round(monotonic() - started, 1)
                return outcome
        if monotonic() - started >= timeout_s:
            last = outcome.failures[-1] if outcome.failures else "it answered with the old boot time"
            raise RebootError(
                f"the host did not come back with a new boot time within {timeout_s:g} s "
                f"(boot time before: {previous_boot_utc}; {outcome.polls} polls; last: {last})"
            )
        wait = min(wait * 2, max_wait_s)
