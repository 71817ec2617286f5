"""What the benchmarks share: import paths, ansible-playbook runs and their controller cost, the lab's cost.

- ``run_playbook`` runs ansible-playbook and returns its wall time, the CPU seconds of it and
  every process it waited for (its forks), and the peak memory of that process tree, sampled
  from /proc: the sum of PSS (each shared page counted once, split between the processes that
  share it) and, for reference, the sum of RSS.
- ``ProcessCpu`` reads the CPU seconds of one process (the lab's supervisor), so the lab's own
  overhead is reported apart from the controller's.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / ".ansible" / "collections", REPO / "tests" / "lab"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def ansible_env(**extra: str) -> dict[str, str]:
    env = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(REPO / ".ansible" / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_PROXY": "127.0.0.0/8,localhost",
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
    }
    env.update(extra)
    return env


# ---------------------------------------------------------------- /proc readers


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (not its children)."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB; (0, 0) when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    values = {}
    for line in text.splitlines():
        name, _sep, rest = line.partition(":")
        if name in ("Pss", "Rss"):
            values[name] = int(rest.split()[0])
    return values.get("Pss", 0), values.get("Rss", 0)


class ProcessCpu:
    """CPU seconds one process spent between start() and stop() (for the lab's supervisor)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._start = 0.0
        self.seconds = 0.0

    def start(self) -> ProcessCpu:
        self._start = cpu_seconds(self.pid) or 0.0
        return self

    def stop(self) -> float:
        self.seconds = (cpu_seconds(self.pid) or self._start) - self._start
        return self.seconds


# ---------------------------------------------------------------- ansible-playbook


@dataclass
class PlaybookRun:
    wall_s: float
    cpu_s: float  # ansible-playbook and every process it waited for (its forks)
    peak_pss_mib: float  # the process tree's memory, shared pages split (the honest sum)
    peak_rss_mib: float  # the same tree, shared pages counted in every process (an upper bound)
    peak_processes: int
    returncode: int
    stdout: str = field(repr=False, default="")


class _TreeSampler(threading.Thread):
    def __init__(self, root: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval_s = root, interval_s
        self.peak_pss = self.peak_rss = self.peak_processes = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = process_tree(self.root)
            pss = rss = 0
            for pid in pids:
                p, r = memory_kib(pid)
                pss, rss = pss + p, rss + r
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self.done.wait(self.interval_s)


def run_playbook(
    inventory: Path, playbook: Path, *args: str, sample_s: float = 0.1, check: bool = True, **env: str
) -> PlaybookRun:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        cwd=REPO,
        env=ansible_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sampler = _TreeSampler(proc.pid, sample_s)
    sampler.start()
    stdout, _stderr = proc.communicate()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"ansible-playbook {playbook.name} failed (rc {proc.returncode}):\n{stdout[-4000:]}"
        )
    return PlaybookRun(
        wall_s=wall,
        cpu_s=cpu,
        peak_pss_mib=sampler.peak_pss / 1024,
        peak_rss_mib=sampler.peak_rss / 1024,
        peak_processes=sampler.peak_processes,
        returncode=proc.returncode,
        stdout=stdout,
    )


def table(header: list[str], rows: list[list[object]]) -> list[str]:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()

    return [line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])]
