"""The supervisor's process and its state directory: paths, pid file, lab lock, /proc.

The state directory holds lab.pid, lab.log, lab.lock (held by the supervisor
for its whole life: the guard against two supervisors), password (0600) and
lab.json (the manifest of hosts and addresses). Linux only: process checks
read /proc.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import LabError

LAB_ROOT = Path(__file__).resolve().parent.parent  # tests/lab: holds winlab/ and profiles/


@dataclass(frozen=True)
class StatePaths:
    root: Path
    pid: Path
    log: Path
    lock: Path
    password: Path
    manifest: Path
    tls_cert: Path
    tls_key: Path

    @classmethod
    def of(cls, state_dir: str | Path) -> StatePaths:
        root = Path(state_dir).expanduser().resolve()
        return cls(
            root=root,
            pid=root / "lab.pid",
            log=root / "lab.log",
            lock=root / "lab.lock",
            password=root / "password",
            manifest=root / "lab.json",
            tls_cert=root / "winrm-cert.pem",
            tls_key=root / "winrm-key.pem",
        )


# ------------------------------------------------------------------ /proc


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of a live process; None when gone or a zombie.

    A zombie has finished; it lingers only until its parent (init, for a
    supervisor whose `up` has exited) reaps it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in "ZX" else (fields[0], int(fields[2]))


def alive(pid: int) -> bool:
    return proc_stat(pid) is not None


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def lab_environment() -> dict[str, str]:
    """This environment with winlab importable from any working directory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LAB_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def supervisor_command(state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "winlab", "serve", "--state-dir", str(state_dir)]


def lab_processes(state_dir: Path) -> list[int]:
    """Live supervisors of this state directory, found by command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            argv = cmdline(int(entry.name))
            if "winlab" in argv and "serve" in argv and str(state_dir) in argv and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid:
                members.append(int(entry.name))
    return members


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def stop_groups(pgids: set[int], timeout: float) -> None:
    """SIGTERM every group, then SIGKILL what is still there after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pgid in pgids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
        if wait_until(lambda: not any(group_members(g) for g in pgids), wait):
            return


# ------------------------------------------------------- state directory files


def read_pid(paths: StatePaths) -> int | None:
    try:
        return int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def take_lock(paths: StatePaths, message_if_held: str, lock_fd: int | None = None) -> Iterator[IO[str]]:
    """Hold the lab lock (an flock on lab.lock) for the block; LabError if someone else holds it."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with os.fdopen(lock_fd, "a") if lock_fd is not None else open(paths.lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(message_if_held) from None
        yield handle


def lock_is_held(paths: StatePaths) -> bool:
    if not paths.lock.exists():
        return False
    try:
        with take_lock(paths, "held"):
            return False
    except LabError:
        return True


def log_tail(paths: StatePaths, lines: int = 30) -> str:
    try:
        return "\n".join(paths.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
