"""Benchmark: round trips and wall time per host against the per-task pattern, and bytes per batch.

    .venv/bin/python bench/audit_round_trips.py [--latency-ms 300] [--repeat 1] [--profiles s1 ...] [--out f]

DESIGN.md puts the cost of a run in round trips: a WinRM command is a PowerShell start plus a
network round trip (0.3-2 s on real fleets). The lab adds ``--latency-ms`` to every command.
Every figure comes from one run, side by side, on clones of the same hosts (``up --copies 2``:
``<profile>-1`` for the collection, ``<profile>-2`` for the stand-in):

- audit: ``playbooks/audit.yml --check`` (``tls_facts``: one agent batch per host) against
  every op of ``gather_ops()`` as its own batch (the same reads, one command each);
- full remediation (no reboot time: reboots stay pending): the tls12 and cipher_suites roles
  (bench/playbooks/fix.yml) against every write op of the same plans (the planners' output for
  each host's facts, the same agent, each op its own journaled batch with its own
  compare-and-set);
- steady state (nothing left to fix): the same playbook again against one read per value the
  remediation manages (a per-task role checks every value it owns on every run);
- bytes per batch: the gather batch's stdin and command line with the agent compressed (bootstrap
  v2) and with the plain script (v1), and the bytes the lab received for each.

The stand-in is the per-task pattern's shape (one command per value), run through the same agent,
so the comparison counts round trips, not a different implementation. The Galaxy Schannel role
it stands for sends about 55 commands per host (one per registry value); splitting the audit's
reads per op (not per value) makes the stand-in's audit count a lower bound of that pattern.
Commands per host come from the lab's counters. Prints the tables; the last line is the audit's
round trips per host. ``--out`` gets the figures as JSON.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# benchlib first: it puts the collection and winlab on sys.path.
import benchlib  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import run_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import gather_ops
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import journal_for, new_run_id
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.ciphers import (
    cipher_policy,
    plan_cipher_suite_changes,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.gate import parse_peers
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.model import Plan, PlannedOp
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    plan_protocol_changes,
    protocol_policy,
)
from benchlib import REPO, run_playbook, table
from winlab.testing import PROFILES_DIR, running_lab, winrm_command_runner

Execute = Callable[[str, bytes], tuple[int, bytes, bytes]]
AUDIT = REPO / "playbooks" / "audit.yml"
FIX = REPO / "bench" / "playbooks" / "fix.yml"
# Hosts the two fixes change in different ways, a host they cannot fix (the gate), a clean one.
DEFAULT_PROFILES = ["s1", "s2", "s3", "s5", "mixed-2012r2", "tls10-needed", "compliant"]


# ---------------------------------------------------------------- the stand-in's work, per host


def facts_of(execute: Execute) -> dict[str, Any]:
    return build_facts(run_batch(execute, gather_ops()), now=dt.datetime.now(dt.UTC))


def plans_of(facts: Mapping[str, Any]) -> list[Plan]:
    """What the tls12 and cipher_suites roles plan with their defaults."""
    return [
        plan_protocol_changes(facts, protocol_policy({}), parse_peers([])),
        plan_cipher_suite_changes(facts, cipher_policy()),
    ]


def check_op(planned: PlannedOp) -> dict[str, Any]:
    """The read a per-task role's task makes of the value it owns (steady state: nothing to change)."""
    target = planned.target
    if target.get("kind") == "reg_value":
        return op("reg.read", path=target["path"], values=[target["name"]])
    if target.get("kind") == "reg_key":
        return op("reg.read", path=target["path"])
    return op("tls.suites")  # a suite's place in the list


def one_batch_per_op(execute: Execute, ops: Iterable[dict[str, Any]]) -> int:
    count = 0
    for single in ops:
        run_batch(execute, [single])
        count += 1
    return count


def one_journaled_batch_per_write(execute: Execute, plans: list[Plan], run_id: str) -> int:
    """Each planned write alone: its own journal record and compare-and-set, one command each."""
    now, count = dt.datetime.now(dt.UTC), 0
    for plan in plans:
        for index, planned in enumerate(plan.ops):
            single = Plan(concern=plan.concern, ops=(planned,))
            module = "schannel_protocols" if plan.concern == "tls12" else "cipher_suites"
            journal = journal_for(single, run_id=run_id, module=module, now=now, attempt=index + 1)
            batch = run_batch(execute, single.write_ops(), journal)
            if not batch.ok:
                raise RuntimeError(
                    f"per-task write {planned.change.target}: {batch.results[0].error_message}"
                )
            count += 1
    return count


def in_parallel(
    hosts: dict[str, Execute], work: Callable[[str, Execute], Any]
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        results = dict(zip(hosts, pool.map(lambda item: work(*item), hosts.items()), strict=True))
    return time.perf_counter() - started, results


# ---------------------------------------------------------------- bytes per batch


def bytes_per_batch(lab, host: str) -> dict[str, int]:
    request = client.build_request(gather_ops())
    command, stdin = client.build_command(request)
    request_line = json.dumps(request, separators=(",", ":")).encode()
    plain_stdin = base64.b64encode(client.agent_script()) + b"\n" + request_line + b"\n"
    execute = winrm_command_runner(lab.inventory, host)
    measured = {}
    for name, data in (("v2", stdin), ("v1", plain_stdin)):
        lab.reset_stats()
        execute(command, data)  # v1 stdin under the v2 bootstrap is refused, after the bytes arrived
        measured[name] = lab.stats()[host]["bytes_in"]
    return {
        "agent_bytes": len(client.agent_script()),
        "request_line_bytes": len(request_line) + 1,
        "command_line_chars": len(command),
        "stdin_v1": len(plain_stdin),
        "stdin_v2": len(stdin),
        "wire_bytes_in_v1": measured["v1"],
        "wire_bytes_in_v2": measured["v2"],
    }


# ---------------------------------------------------------------- one round


def commands(stats: Mapping[str, Mapping[str, Any]], hosts: Iterable[str]) -> list[int]:
    return [stats[h]["commands"] for h in hosts]


def measure(lab, ours: list[str], theirs: list[str], latency_ms: int, report_dir: str) -> dict[str, Any]:
    limit = ",".join(ours)
    executors = {h: winrm_command_runner(lab.inventory, h) for h in theirs}
    figures: dict[str, Any] = {}

    def record(name: str, wall: float, hosts: list[str]) -> None:
        counts = commands(lab.stats(), hosts)
        figures[name] = {"wall_s": wall, "commands": counts, "mean": statistics.mean(counts)}

    # audit
    lab.reset_stats()
    run = run_playbook(
        lab.inventory, AUDIT, "--check", "--limit", limit, "-e", f"mssql_tls_report_dir={report_dir}"
    )
    record("audit/ours", run.wall_s, ours)
    lab.reset_stats()
    wall, _results = in_parallel(executors, lambda _h, ex: one_batch_per_op(ex, gather_ops()))
    record("audit/per-task", wall, theirs)
    # the same agent without Ansible's start-up: one batch per host against one per op
    mine = {h: winrm_command_runner(lab.inventory, h) for h in ours}
    lab.reset_stats()
    wall, _results = in_parallel(mine, lambda _h, ex: run_batch(ex, gather_ops()))
    record("audit-agent/ours", wall, ours)
    figures["audit-agent/per-task"] = figures["audit/per-task"]

    # full remediation: the stand-in's plans come from facts gathered before the clock starts
    plans = {h: plans_of(facts_of(ex)) for h, ex in executors.items()}
    lab.reset_stats()
    run = run_playbook(lab.inventory, FIX, "--limit", limit)
    record("remediation/ours", run.wall_s, ours)
    lab.reset_stats()
    run_id = new_run_id(dt.datetime.now(dt.UTC))
    wall, _results = in_parallel(executors, lambda h, ex: one_journaled_batch_per_write(ex, plans[h], run_id))
    record("remediation/per-task", wall, theirs)

    # steady state
    lab.reset_stats()
    run = run_playbook(lab.inventory, FIX, "--limit", limit)
    record("steady/ours", run.wall_s, ours)
    lab.reset_stats()
    checks = {h: [check_op(p) for plan in plans[h] for p in plan.ops] for h in theirs}
    wall, _results = in_parallel(executors, lambda h, ex: one_batch_per_op(ex, checks[h]))
    record("steady/per-task", wall, theirs)

    # both sides did the same work: nothing left to plan on either set of clones
    left = {h: sum(len(p.ops) for p in plans_of(facts_of(ex))) for h, ex in executors.items()}
    figures["writes_planned"] = {h: sum(len(p.ops) for p in plans[h]) for h in theirs}
    figures["writes_left_after_per_task"] = left
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profiles", nargs="+", default=DEFAULT_PROFILES)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(f"/tmp/audit_round_trips-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")

    rounds = []
    profiles = [PROFILES_DIR / f"{name}.yml" for name in args.profiles]
    for _round in range(args.repeat):
        # fresh clones every round: the remediation must find the same work
        with (
            running_lab(profiles, latency_ms=args.latency_ms, tds=False, copies=2) as lab,
            tempfile.TemporaryDirectory() as report_dir,
        ):
            ours = sorted(h for h in lab.hosts if h.endswith("-1"))
            theirs = sorted(h for h in lab.hosts if h.endswith("-2"))
            if not rounds:
                wire = bytes_per_batch(lab, theirs[0])
            rounds.append(measure(lab, ours, theirs, args.latency_ms, report_dir))

    names = ["audit", "audit-agent", "steady", "remediation"]
    median = {
        f"{n}/{side}": {
            "wall_s": statistics.median(r[f"{n}/{side}"]["wall_s"] for r in rounds),
            "mean": rounds[0][f"{n}/{side}"]["mean"],
            "max": max(rounds[0][f"{n}/{side}"]["commands"]),
        }
        for n in names
        for side in ("ours", "per-task")
    }
    left = rounds[-1]["writes_left_after_per_task"]
    rows = []
    for n in names:
        o, t = median[f"{n}/ours"], median[f"{n}/per-task"]
        rows.append(
            [
                n,
                f"{o['mean']:.1f}",
                f"{t['mean']:.1f} (max {t['max']})",
                f"{t['mean'] / o['mean']:.1f}x",
                f"{o['wall_s']:.1f}",
                f"{t['wall_s']:.1f}",
                f"{t['wall_s'] / o['wall_s']:.1f}x",
            ]
        )
    audit_ours, audit_theirs = median["audit/ours"]["mean"], median["audit/per-task"]["mean"]
    lines = [
        f"{len(profiles)} hosts per side ({', '.join(args.profiles)}; clones -1 ours, -2 per-task), "
        f"{args.latency_ms} ms per WinRM command, median of {args.repeat} round(s)",
        *table(
            [
                "run",
                "cmds/host ours",
                "cmds/host per-task",
                "ratio",
                "wall s ours",
                "wall s per-task",
                "ratio",
            ],
            rows,
        ),
        "ours: ansible-playbook (start-up included): audit.yml --check; bench/playbooks/fix.yml (tls12, "
        "cipher_suites) once to fix, again at steady state; audit-agent: the gather batch over pywinrm, "
        "no Ansible. per-task: one command per op (audit) or per value (steady, remediation), hosts in "
        "parallel. floor: audit 1, steady 1 command per host",
        f"writes per host planned: {sorted(rounds[-1]['writes_planned'].values())}; "
        f"left after the per-task writes: {sorted(left.values())}",
        "",
        "bytes per batch (the audit's gather batch)",
        *table(
            ["", "v1: plain agent", "v2: gzip agent", "v2 / v1"],
            [
                [
                    "stdin bytes",
                    wire["stdin_v1"],
                    wire["stdin_v2"],
                    f"{wire['stdin_v2'] / wire['stdin_v1']:.2f}",
                ],
                [
                    "WS-Man bytes received by the host",
                    wire["wire_bytes_in_v1"],
                    wire["wire_bytes_in_v2"],
                    f"{wire['wire_bytes_in_v2'] / wire['wire_bytes_in_v1']:.2f}",
                ],
            ],
        ),
        f"command line: {wire['command_line_chars']} characters (v2 bootstrap); "
        f"agent.ps1 {wire['agent_bytes']} bytes, request line {wire['request_line_bytes']} bytes",
        "",
        f"audit round trips per host: ours {audit_ours:g}, per-task pattern {audit_theirs:g}, "
        f"ratio {audit_theirs / audit_ours:.1f}x",
    ]
    out.write_text(
        json.dumps(
            {
                "latency_ms": args.latency_ms,
                "rounds": rounds,
                "median": median,
                "bytes": wire,
                "table": lines,
            },
            indent=2,
        )
    )
    print("\n".join(lines[:-1]))
    print(f"figures: {out}")
    print(lines[-1])
    return 0 if not any(left.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
