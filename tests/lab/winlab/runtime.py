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


class HostRuntime(Protocol):
    name: str

    def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
        """Run one WinRM command (the full command line) with its stdin."""

    def reboot(self) -> None:
        """Restart the host: Schannel settings and services take their new state."""

    def snapshot(self) -> dict[str, Any]:
        """The host's persisted state as JSON-ready data."""
