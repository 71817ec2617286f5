"""The seam between winlab's transports (WinRM, TDS) and its host model.

Transports only move bytes; everything a Windows host would decide lives behind
HostRuntime. Both sides of the seam code against these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Knobs:
    """Per-host fault and latency settings, changeable while the lab runs."""

    latency_ms: int = 0
    # Simulate a connection cut off mid-batch: run this many ops of the next
    # agent batch, persist their effects, then drop the connection unanswered.
    drop_after_ops: int | None = None
    # After os.reboot: how long the host stays away (its WinRM endpoint resets every
    # connection, its TDS endpoints are closed) before it has booted again.
    reboot_down_s: float = 3.0
    # The faults below fire once and are then cleared. They wait for the next agent batch
    # (journal_fail_after_lines: the next batch with a journal record) or, when this is set,
    # for the next batch whose journal record id contains it (a module: ".rollback."; a run id),
    # so that a fault can hit one write batch in the middle of a playbook.
    fault_journal_id: str | None = None
    # The drop is the host restarting in the middle of the batch (power lost, someone ran
    # shutdown): after it the host is away for reboot_down_s, then boots. Fires with the drop.
    reboot_on_drop: bool = False
    # The disk refuses the journal after this many more lines of the batch (0: its header): the
    # line that fails is cut off mid-way, every later journal write of the batch fails, and
    # the agent answers as it does when a FileStream write throws (docs/agent-protocol.md).
    journal_fail_after_lines: int | None = None
    # The reply carrying the batch's output is held this long: the batch ran and its effects
    # are saved, but a client whose read timeout is shorter gives up first.
    reply_delay_s: float = 0.0

    def armed_for(self, journal_id: object) -> bool:
        """Whether the faults wait for this batch (``fault_journal_id`` unset, or in the record id)."""
        if self.fault_journal_id is None:
            return True
        return isinstance(journal_id, str) and self.fault_journal_id in journal_id


@dataclass
class CommandOutcome:
    rc: int
    stdout: bytes
    stderr: bytes = b""
    # True when the fault knob fired: the transport must close the connection
    # without sending a reply.
    drop_connection: bool = False
    ops: list[str] = field(default_factory=list)
    # Set when the batch scheduled a restart (os.reboot): seconds after the reply.
    reboot_after_s: float | None = None
    # The knobs (field names of Knobs) that fired on this batch: the transport clears them.
    fired: tuple[str, ...] = ()
    # Hold the reply this long (Knobs.reply_delay_s fired).
    reply_delay_s: float = 0.0


class HostRuntime(Protocol):
    name: str

    def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
        """Run one WinRM command (the full command line) with its stdin."""

    def reboot(self) -> None:
        """Restart the host: Schannel settings and services take their new state."""

    def snapshot(self) -> dict[str, Any]:
        """The host's persisted state as JSON-ready data."""
