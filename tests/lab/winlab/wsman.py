"""WS-Management for one simulated host: the shell/command state machine.

The SOAP codec is wsman_codec.py. No sockets here; server.py moves the bytes.

A command runs when its stdin is complete (``End="true"``) or, when no stdin
was sent, at the first Receive. Receive waits a bounded time for the result and
otherwise answers the "no output yet" fault, so clients poll as they would
against a busy Windows host.

A batch that scheduled a restart (os.reboot) gets its reply; ``reboot_after_s``
after that reply (at least REBOOT_GRACE_S, so the client can close its shell) the
host goes away: every WinRM request is answered with a TCP reset, like a host
that is restarting, and the runtime shuts down (its SQL Server instances stop, so
the TDS endpoints close). ``Knobs.reboot_down_s`` later the runtime boots (the new
boot snapshot applies, the boot time changes) and the endpoint answers again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .runtime import CommandOutcome, HostRuntime, Knobs
from .wsman_codec import (
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_RECEIVE,
    ACTION_SEND,
    SHELL_ACTIONS,
    BadRequest,
    Fault,
    Request,
    command_line_of,
    command_reply,
    create_reply,
    empty_reply,
    fault_reply,
    invalid_request_fault,
    lab_error_fault,
    operation_timeout_fault,
    parse_request,
    receive_command_id_of,
    receive_reply,
    send_stream_of,
    shell_not_found_fault,
    signal_command_id_of,
    unsupported_action_fault,
)

log = logging.getLogger("winlab.wsman")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    # True when the host must close the TCP connection without answering
    # (CommandOutcome.drop_connection).
    drop: bool = False


DROP = Reply(0, b"", drop=True)
# Time the client gets to signal and close its shell before a scheduled restart begins.
REBOOT_GRACE_S = 0.5


@dataclass
class HostStats:
    commands: int = 0  # Command actions received: one per agent batch or raw command
    shells: int = 0  # Create actions
    bytes_in: int = 0  # WS-Management request bodies
    bytes_out: int = 0  # WS-Management reply bodies
    receive_polls: int = 0  # "no output yet" faults answered
    drops: int = 0  # connections closed without a reply
    faults: int = 0  # every other fault
    reboots: int = 0  # restarts scheduled by os.reboot that began
    batches: list[list[str]] = field(default_factory=list)  # CommandOutcome.ops of agent batches

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Command:
    command_id: str
    command_line: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_seen: bool = False
    stdin_closed: bool = False
    started: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    outcome: CommandOutcome | None = None
    error: str | None = None
    reboot_scheduled: bool = False
    reply_delayed: bool = False


class WsmanEndpoint:
    """One host's WinRM service: shells, commands, knobs and counters.

    Runtime calls (commands, reboot, snapshot) are serialised per host because
    HostRuntime makes no thread-safety promise; the configured latency is spent
    outside that lock, so it models time on the wire and in PowerShell start-up.
    """

    def __init__(
        self,
        runtime: HostRuntime,
        knobs: Knobs | None = None,
        receive_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runtime = runtime
        self.receive_wait_s = receive_wait_s
        self._sleep = sleep
        self._knobs = replace(knobs) if knobs is not None else Knobs()
        self._stats = HostStats()
        self._shells: dict[str, dict[str, _Command]] = {}
        self._lock = threading.Lock()
        self._runtime_lock = threading.Lock()
        self._down = False
        self._reboot_done = threading.Event()
        self._reboot_done.set()

    # -- control surface

    @property
    def knobs(self) -> Knobs:
        with self._lock:
            return replace(self._knobs)

    def set_knobs(self, knobs: Knobs) -> None:
        with self._lock:
            self._knobs = replace(knobs)

    def stats(self, reset: bool = False) -> dict[str, Any]:
        with self._lock:
            current = self._stats.as_json()
            if reset:
                self._stats = HostStats()
            return current

    def count_bytes(self, received: int, sent: int) -> None:
        with self._lock:
            self._stats.bytes_in += received
            self._stats.bytes_out += sent

    def reboot(self) -> None:
        # A reboot ends every WinRM shell on the host.
        with self._lock:
            self._shells.clear()
        with self._runtime_lock:
            self.runtime.reboot()

    def snapshot(self) -> dict[str, Any]:
        with self._runtime_lock:
            return self.runtime.snapshot()

    @property
    def is_down(self) -> bool:
        """True while the host is away for a restart scheduled by os.reboot."""
        with self._lock:
            return self._down

    def wait_rebooted(self, timeout_s: float = 30.0) -> bool:
        """Wait until no scheduled restart is pending or under way (for tests)."""
        return self._reboot_done.wait(timeout_s)

    def _schedule_reboot(self, delay_s: float) -> None:
        self._reboot_done.clear()
        threading.Thread(
            target=self._reboot_later,
            args=(max(delay_s, REBOOT_GRACE_S),),
            daemon=True,
            name=f"winlab-{self.runtime.name}-reboot",
        ).start()

    def _reboot_later(self, delay_s: float) -> None:
        try:
            self._sleep(delay_s)
            with self._lock:
                self._down = True
                self._shells.clear()
                self._stats.reboots += 1
            power_off = getattr(self.runtime, "power_off", None)
            if power_off is not None:
                with self._runtime_lock:
                    power_off()
            self._sleep(self.knobs.reboot_down_s)
            with self._runtime_lock:
                self.runtime.reboot()
        except Exception:  # a lab bug: logged; the host comes back anyway
            log.exception("scheduled restart of %s failed", self.runtime.name)
        finally:
            with self._lock:
                self._down = False
            self._reboot_done.set()

    # -- WS-Management

    def handle(self, data: bytes) -> Reply:
        """One request body in, one Reply (or DROP) out."""
        with self._lock:
            if self._down:
                self._stats.drops += 1
                return DROP
        try:
            request = parse_request(data)
        except BadRequest as exc:
            return self._fault(invalid_request_fault(str(exc)), None)
        try:
            return self._dispatch(request)
        except BadRequest as exc:
            return self._fault(invalid_request_fault(str(exc)), request.message_id)

    def _dispatch(self, request: Request) -> Reply:
        if request.action not in SHELL_ACTIONS:
            return self._fault(unsupported_action_fault(request.action), request.message_id)
        if request.action == ACTION_CREATE:
            return self._create(request)
        with self._lock:
            commands = self._shells.get(request.shell_id or "")
        if commands is None:
            return self._fault(shell_not_found_fault(request.shell_id), request.message_id)
        if request.action == ACTION_DELETE:
            with self._lock:
                self._shells.pop(request.shell_id or "", None)
            return Reply(200, empty_reply(request))
        if request.action == ACTION_COMMAND:
            return self._command(request, commands)
        if request.action == ACTION_SEND:
            return self._send(request, commands)
        if request.action == ACTION_RECEIVE:
            return self._receive(request, commands)
        # ACTION_SIGNAL: terminate is the only signal clients send; it ends the command.
        with self._lock:
            commands.pop(signal_command_id_of(request.body), None)
        return Reply(200, empty_reply(request))

    def _create(self, request: Request) -> Reply:
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = {}
            self._stats.shells += 1
        return Reply(200, create_reply(request, shell_id))

    def _command(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command = _Command(command_id=str(uuid.uuid4()).upper(), command_line=command_line_of(request.body))
        with self._lock:
            commands[command.command_id] = command
            self._stats.commands += 1
        return Reply(200, command_reply(request, command.command_id))

    def _send(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command_id, chunk, end = send_stream_of(request.body)
        with self._lock:
            command = commands.get(command_id)
            if command is None:
                raise BadRequest(f"Send/Stream@CommandId: no command {command_id} in this shell")
            if command.stdin_closed:
                raise BadRequest(f"Send: stdin of command {command_id} is already closed")
            command.stdin.extend(chunk)
            command.stdin_seen = True
            command.stdin_closed = end
        if end:
            self._start(command)
        return Reply(200, empty_reply(request))

    def _receive(self, request: Request, commands: dict[str, _Command]) -> Reply:
        command_id = receive_command_id_of(request.body)
        with self._lock:
            command = commands.get(command_id)
            if command is None:
                raise BadRequest(f"Receive/DesiredStream@CommandId: no command {command_id} in this shell")
            start_without_stdin = not command.stdin_seen
            if start_without_stdin:
                command.stdin_closed = True
        if start_without_stdin:
            self._start(command)
        wait = self.receive_wait_s
        if request.operation_timeout_s is not None:
            wait = min(wait, request.operation_timeout_s)
        if not command.finished.wait(wait):
            with self._lock:
                self._stats.receive_polls += 1
            return self._fault(operation_timeout_fault(), request.message_id, count=False)
        outcome = command.outcome
        if outcome is None:
            return self._fault(lab_error_fault(command.error or "no outcome"), request.message_id)
        if outcome.drop_connection:
            with self._lock:
                self._stats.drops += 1
            # A restart the batch scheduled (os.reboot ran) or a host that went down mid-batch
            # (Knobs.reboot_on_drop) happens whether or not the client heard of it.
            self._reboot_once(command, outcome)
            return DROP
        reply = Reply(200, receive_reply(request, command_id, outcome.stdout, outcome.stderr, outcome.rc))
        self._reboot_once(command, outcome)
        if outcome.reply_delay_s > 0:
            with self._lock:
                late = not command.reply_delayed
                command.reply_delayed = True
            if late:  # Knobs.reply_delay_s: the answer is held; a client may have given up by then
                self._sleep(outcome.reply_delay_s)
        return reply

    def _reboot_once(self, command: _Command, outcome: CommandOutcome) -> None:
        if outcome.reboot_after_s is None:
            return
        with self._lock:
            schedule = not command.reboot_scheduled
            command.reboot_scheduled = True
        if schedule:
            self._schedule_reboot(outcome.reboot_after_s)

    def _start(self, command: _Command) -> None:
        with self._lock:
            if command.started:
                return
            command.started = True
        threading.Thread(
            target=self._execute,
            args=(command,),
            daemon=True,
            name=f"winlab-{self.runtime.name}-{command.command_id[:8]}",
        ).start()

    def _execute(self, command: _Command) -> None:
        knobs = self.knobs
        if knobs.latency_ms > 0:
            self._sleep(knobs.latency_ms / 1000)
        try:
            with self._runtime_lock:
                outcome = self.runtime.run_command(command.command_line, bytes(command.stdin), knobs)
        except Exception as exc:  # a lab bug: surfaced to the client as a fault, logged in full here
            log.exception("runtime of %s failed on a command", self.runtime.name)
            command.error = f"{type(exc).__name__}: {exc}"
        else:
            command.outcome = outcome
            with self._lock:
                if outcome.ops:
                    self._stats.batches.append(list(outcome.ops))
                self._clear_fired(outcome)
        finally:
            command.finished.set()

    def _clear_fired(self, outcome: CommandOutcome) -> None:
        """The fault knobs are one-shot: those that fired on this batch are cleared (lock held)."""
        defaults = Knobs()
        fired = set(outcome.fired)
        if outcome.drop_connection:
            fired.add("drop_after_ops")
            if self._knobs.reboot_on_drop:
                fired.add("reboot_on_drop")
                if outcome.reboot_after_s is None:
                    outcome.reboot_after_s = 0.0  # down at once (REBOOT_GRACE_S)
        knobs = replace(self._knobs, **{name: getattr(defaults, name) for name in fired})
        if (
            knobs.drop_after_ops is None
            and knobs.journal_fail_after_lines is None
            and knobs.reply_delay_s == defaults.reply_delay_s
        ):
            knobs = replace(knobs, fault_journal_id=None)
        self._knobs = knobs

    def _fault(self, fault: Fault, relates_to: str | None, count: bool = True) -> Reply:
        if count:
            with self._lock:
                self._stats.faults += 1
        return Reply(fault.status, fault_reply(fault, relates_to, self.runtime.name))
