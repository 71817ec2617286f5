"""Benchmark: the audit's one agent batch per host against one remote command per read.

    .venv/bin/python bench/audit_round_trips.py [--latency-ms 150] [--profiles s3 s5 compliant] [--out f.json]

DESIGN.md puts the cost of an audit in round trips: a WinRM command is a
PowerShell start plus a network round trip (0.3-2 s on real fleets). The lab
adds ``--latency-ms`` to every command. Against the same lab hosts, in one run:

- ``batch``: ``gather_ops()`` as ONE agent batch per host (what ``tls_facts`` does);
- ``per-op``: the same ops, one agent batch each (the shape of a playbook with
  one task per registry value, the anchor pattern of DESIGN.md);

each over pywinrm (no Ansible start-up in the figures), hosts in parallel, and
the real ``tls_facts`` through ``ansible-playbook`` for reference. The commands
per host come from the lab's own counters. Prints a table with the ratio
per-op / batch and writes the figures as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / ".ansible" / "collections", REPO / "tests" / "lab"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import run_batch  # noqa: E402
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops  # noqa: E402
from winlab.testing import PROFILES_DIR, running_lab, winrm_command_runner  # noqa: E402

Execute = Callable[[str, bytes], tuple[int, bytes, bytes]]


def gather(executors: dict[str, Execute], per_op: bool) -> float:
    ops = gather_ops()

    def one_host(execute: Execute) -> None:
        batches = [[o] for o in ops] if per_op else [ops]
        for batch in batches:
            if not run_batch(execute, batch).results:
                raise RuntimeError("empty agent answer")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(executors)) as pool:
        list(pool.map(one_host, executors.values()))
    return time.perf_counter() - started


def ansible_tls_facts(inventory: Path) -> float:
    playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - mssql.tls.tls_facts:\n"
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        f.write(playbook)
        f.flush()
        started = time.perf_counter()
        playbook_cmd = str(Path(sys.executable).parent / "ansible-playbook")
        subprocess.run(
            [playbook_cmd, "-i", str(inventory), f.name, "--forks", "20"],
            cwd=REPO,
            env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profiles", nargs="*", default=["s3", "s5", "compliant", "mixed-2012r2"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(f"/tmp/audit_round_trips-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")

    profiles = [PROFILES_DIR / f"{name}.yml" for name in args.profiles]
    with running_lab(profiles, latency_ms=args.latency_ms, tds=False) as lab:
        executors = {name: winrm_command_runner(lab.inventory, name) for name in lab.hosts}
        runs: dict[str, list[float]] = {"batch": [], "per-op": [], "ansible tls_facts": []}
        commands: dict[str, dict[str, int]] = {}
        for _round in range(args.repeat):
            for mode, per_op in (("batch", False), ("per-op", True)):
                lab.reset_stats()
                runs[mode].append(gather(executors, per_op))
                commands[mode] = {h: s["commands"] for h, s in lab.stats().items()}
            lab.reset_stats()
            runs["ansible tls_facts"].append(ansible_tls_facts(lab.inventory))
            commands["ansible tls_facts"] = {h: s["commands"] for h, s in lab.stats().items()}

    medians = {mode: statistics.median(times) for mode, times in runs.items()}
    ratio = medians["per-op"] / medians["batch"]
    lines = [
        f"{len(profiles)} hosts, {args.latency_ms} ms per command, median of {args.repeat}",
        f"{'mode':<20} {'commands/host':>14} {'wall s':>8}",
        *(
            f"{mode:<20} {max(commands[mode].values()):>14} {medians[mode]:>8.2f}"
            for mode in ("batch", "per-op", "ansible tls_facts")
        ),
        f"per-op / batch wall time: {ratio:.1f}x",
    ]
    print("\n".join(lines))
    out.write_text(
        json.dumps(
            {
                "latency_ms": args.latency_ms,
                "hosts": args.profiles,
                "ops_per_audit": len(gather_ops()),
                "runs_s": runs,
                "median_s": medians,
                "commands_per_host": commands,
                "ratio_per_op_to_batch": ratio,
                "table": lines,
            },
            indent=2,
        )
    )
    print(f"figures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
