"""Load (issue 12, item 3): a lab fleet is audited, then remediated in serial batches with --forks 50.

Ten profiles (every scenario, a compliant host, the gate's case, a latent one) cloned N/10 times each
(``winlab up --copies``: one WinRM endpoint per host, no TDS endpoints). Two runs of the real
playbooks, each measured from /proc while it runs (wall time; peak RSS and PSS of the
ansible-playbook process tree, its forks included):
1. ``audit.yml --check``: every host in the report, with the scenarios its profile expects;
2. ``remediate.yml`` with the reboot and the SQL Server restart on, the activation play in
   ``serial`` batches of 50 hosts: every host in the recap and the report, none failed, unreachable
   or missing; what remains is what no fix removes (scenario 1 where SQL Server itself lacks
   TLS 1.2, scenario 6); the activation play ran once per batch.
Controller memory is bounded: linear in the hosts and the forks (see MAIN_RSS_MIB, TREE_PSS_MIB).
The figures (peak RSS, PSS and ansible-playbook's RSS, each per host too) are printed and written to
tests/output/load-<N>.json.

``make test`` runs it with N = 100; ``make load-500`` (a stage of ``make test-all``) with
MSSQL_TLS_LOAD_HOSTS=500. docs/reliability.md has the figures and the command.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from winlab.control import control_request
from winlab.testing import PROFILES_DIR, running_lab

from .ansible_run import BIN, REPO, ansible_env, play_recap

HOSTS = int(os.environ.get("MSSQL_TLS_LOAD_HOSTS", "100"))
FORKS = 50
SERIAL = FORKS  # one round of the forks per batch of the activation play
AUDIT = REPO / "playbooks" / "audit.yml"
REMEDIATE = REPO / "playbooks" / "remediate.yml"
# The profiles of bench/fleet_scale.py, and what remediation leaves on each (written by hand):
# s1 and mixed-2012r2 keep scenario 1 (their SQL Server build has no TLS 1.2: an upgrade clears
# it, the gate refuses to disable TLS 1.0/1.1), s6 keeps scenario 6 (an upgrade, never automatic).
REMAINING = {
    "compliant": [],
    "s1": [1],
    "s2": [],
    "s3": [],
    "s4": [],
    "s4-latent": [],
    "s5": [],
    "s6": [6],
    "mixed-2012r2": [1],
    "tls10-needed": [],
}
# Controller memory. ansible-playbook keeps every host's facts and results until the play ends
# (about 0.8 MiB per host here), and each fork starts as a copy of it, so RSS summed over the tree
# counts those shared pages once per fork (19 GiB for 500 hosts, of 1.8 GiB really used). The
# bounds are on PSS (each page counted once) and on ansible-playbook itself: linear in the hosts
# and the forks, with the slopes measured at 100 and 500 hosts (docs/reliability.md, "Load") and
# about twice their margin. They catch a leak per batch or a cost that grows faster than the fleet.
MAIN_RSS_MIB = {"base": 150, "per_host": 1.5}
TREE_PSS_MIB = {"base": 500, "per_fork": 10, "per_host": 4}
OUTPUT = REPO / "tests" / "output"


@dataclass
class Measured:
    playbook: str
    hosts: int
    wall_s: float
    peak_rss_mib: float  # the tree, shared pages counted in each process (an upper bound)
    peak_pss_mib: float  # the tree, shared pages split between the processes sharing them
    peak_main_rss_mib: float  # ansible-playbook itself (what holds every host's results)
    peak_processes: int
    returncode: int

    def per_host_kib(self) -> dict[str, float]:
        return {
            "peak_rss_kib_per_host": round(self.peak_rss_mib * 1024 / self.hosts, 1),
            "peak_pss_kib_per_host": round(self.peak_pss_mib * 1024 / self.hosts, 1),
            "peak_main_rss_kib_per_host": round(self.peak_main_rss_mib * 1024 / self.hosts, 1),
        }


PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kib(pid: int) -> int:
    """Resident set size from /proc/<pid>/statm (cheap enough to read every 0.2 s)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):  # gone between listing and reading
        return 0


def _pss_kib(pid: int) -> int:
    """Proportional set size (shared pages split) from smaps_rollup: a walk of the page tables,
    so it is read once a second, not at every sample."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields.get("Pss", "0 kB").split()[0])


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def measured_playbook(inventory: Path, playbook: Path, *args: str) -> tuple[Measured, str]:
    """Run ansible-playbook, sampling its process tree's memory every 0.2 s (PSS every 1 s) until it exits."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        cwd=REPO,
        env=ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = {"rss": 0, "pss": 0, "main": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        for tick in itertools.count():
            if done.is_set():
                return
            pids = _tree(proc.pid)
            peak["rss"] = max(peak["rss"], sum(_rss_kib(pid) for pid in pids))
            if tick % 5 == 0:
                peak["pss"] = max(peak["pss"], sum(_pss_kib(pid) for pid in pids))
            peak["main"] = max(peak["main"], _rss_kib(proc.pid))
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _stderr = proc.communicate()
    done.set()
    sampler.join()
    return (
        Measured(
            playbook=playbook.name,
            hosts=HOSTS,
            wall_s=round(time.monotonic() - started, 1),
            peak_rss_mib=round(peak["rss"] / 1024, 1),
            peak_pss_mib=round(peak["pss"] / 1024, 1),
            peak_main_rss_mib=round(peak["main"] / 1024, 1),
            peak_processes=peak["processes"],
            returncode=proc.returncode,
        ),
        stdout,
    )


def profile_of(host: str) -> str:
    return host.rsplit("-", 1)[0]


def report_hosts(directory: Path) -> dict[str, dict]:
    document = json.loads((directory / "report.json").read_text())
    return {h["name"]: h for h in document["hosts"]}


def assert_bounded(run: Measured) -> None:
    main = MAIN_RSS_MIB["base"] + MAIN_RSS_MIB["per_host"] * run.hosts
    assert run.peak_main_rss_mib < main, (
        f"{run.playbook}: ansible-playbook {run.peak_main_rss_mib} MiB >= {main}"
    )
    tree = TREE_PSS_MIB["base"] + TREE_PSS_MIB["per_fork"] * FORKS + TREE_PSS_MIB["per_host"] * run.hosts
    assert run.peak_pss_mib < tree, f"{run.playbook}: peak PSS {run.peak_pss_mib} MiB >= {tree} MiB"


@pytest.mark.timeout(300 + HOSTS * 8)
def test_a_fleet_is_audited_then_remediated_in_serial_batches_and_no_host_is_lost(tmp_path) -> None:
    assert HOSTS % len(REMAINING) == 0 and HOSTS % SERIAL == 0, "MSSQL_TLS_LOAD_HOSTS: a multiple of 50"
    profiles = [PROFILES_DIR / f"{name}.yml" for name in REMAINING]
    copies = HOSTS // len(REMAINING)
    with running_lab(profiles, tds=False, copies=copies, ready_timeout=60 + HOSTS * 0.5) as lab:
        assert len(lab.hosts) == HOSTS
        for address in lab.hosts.values():  # a restart takes 0.5 s here, 3 s by default
            control_request(address, "POST", "knobs", {"reboot_down_s": 0.5})
        expected = lab.expected_scenarios()

        audit, stdout = measured_playbook(
            lab.inventory,
            AUDIT,
            "--check",
            "--forks",
            str(FORKS),
            "-e",
            f"mssql_tls_report_dir={tmp_path / 'a'}",
        )
        assert audit.returncode == 0, stdout[-4000:]
        recap = play_recap(stdout)
        assert set(recap) >= set(lab.hosts)
        hosts = report_hosts(tmp_path / "a")
        assert set(hosts) == set(lab.hosts)
        assert {h: sorted(r["scenarios"]) for h, r in hosts.items()} == expected

        remediate, stdout = measured_playbook(
            lab.inventory,
            REMEDIATE,
            "--forks",
            str(FORKS),
            "-e",
            "mssql_tls_reboot=true",
            "-e",
            "mssql_tls_restart=true",
            "-e",
            f"mssql_tls_serial={SERIAL}",
            "-e",
            "mssql_tls_max_fail_percentage=0",
            # no TDS endpoints in this lab: the restart's readiness reads the service and ERRORLOG,
            # and there is nothing to probe
            "-e",
            "sql_restart_probe=false",
            "-e",
            json.dumps({"mssql_tls_instances": []}),
            "-e",
            f"mssql_tls_report_dir={tmp_path / 'r'}",
        )
        assert remediate.returncode == 0, stdout[-4000:]
        recap = play_recap(stdout)
        assert {h for h in recap if h != "localhost"} == set(lab.hosts)
        assert all(recap[h]["failed"] == 0 and recap[h]["unreachable"] == 0 for h in lab.hosts)
        assert stdout.count("PLAY [Activate (reboot and restart") == HOSTS // SERIAL  # serial batches
        hosts = report_hosts(tmp_path / "r")
        assert set(hosts) == set(lab.hosts)
        assert [h for h, r in hosts.items() if r["failed"] or r["error"]] == []
        remaining = {h: sorted(r["scenarios"]) for h, r in hosts.items()}
        assert remaining == {h: REMAINING[profile_of(h)] for h in lab.hosts}

    for run in (audit, remediate):
        assert_bounded(run)
    figures = [{**asdict(run), **run.per_host_kib()} for run in (audit, remediate)]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"load-{HOSTS}.json").write_text(
        json.dumps({"forks": FORKS, "serial": SERIAL, "runs": figures}, indent=2)
    )
    for f in figures:
        print(
            f"load {HOSTS} hosts, {f['playbook']}: {f['wall_s']} s, peak RSS {f['peak_rss_mib']} MiB "
            f"({f['peak_rss_kib_per_host']} KiB per host; PSS {f['peak_pss_mib']} MiB, "
            f"{f['peak_pss_kib_per_host']} KiB per host; "
            f"ansible-playbook itself {f['peak_main_rss_mib']} MiB, "
            f"{f['peak_main_rss_kib_per_host']} KiB per host; {f['peak_processes']} processes)"
        )
