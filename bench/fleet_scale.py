"""Benchmark: the audit of 50, 200 and 500 lab hosts, and what it costs the controller per host.

    .venv/bin/python bench/fleet_scale.py [--hosts 50 200 500] [--forks 50] [--latency-ms 300] [--out f.json]

For each fleet size N the lab serves N hosts (``up --copies``: ten profiles, N/10 clones of
each, one WinRM endpoint per host) with ``--latency-ms`` added to every command, and
``playbooks/audit.yml --check`` runs once over all of them with ``--forks``. Reported per N:

- wall time, and the floor: one round trip per host, ``ceil(N / forks)`` rounds of the latency;
- WinRM commands per host (the lab's counters; the floor is 1) and bytes the controller sent;
- controller CPU seconds (ansible-playbook and its forks: everything it waited for) in all and
  per host, and how the per-host figure moves against the smallest fleet (1.0 = linear growth);
- peak memory of the ansible-playbook process tree (PSS: shared pages counted once; RSS: an
  upper bound) sampled from /proc every 0.1 s;
- the lab's own CPU seconds (its supervisor process), which are not the controller's.

Lab hosts are built once per fleet size into ``--state-root`` and reloaded by later runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
from pathlib import Path

from benchlib import REPO, ProcessCpu, run_playbook, table
from winlab.testing import PROFILES_DIR, running_lab

# Ten profiles: every scenario, a compliant host, the gate's case and a latent one (no cluster pair).
FLEET_PROFILES = [
    "compliant",
    "s1",
    "s2",
    "s3",
    "s4",
    "s4-latent",
    "s5",
    "s6",
    "mixed-2012r2",
    "tls10-needed",
]
AUDIT = REPO / "playbooks" / "audit.yml"


def audit_fleet(hosts: int, forks: int, latency_ms: int, state_root: Path) -> dict:
    if hosts % len(FLEET_PROFILES):
        raise SystemExit(f"--hosts {hosts}: expected a multiple of {len(FLEET_PROFILES)}")
    copies = hosts // len(FLEET_PROFILES)
    profiles = [PROFILES_DIR / f"{name}.yml" for name in FLEET_PROFILES]
    with (
        running_lab(
            profiles,
            latency_ms=latency_ms,
            tds=False,
            copies=copies,
            state_dir=state_root / f"fleet-{hosts}",
            ready_timeout=60 + hosts * 0.5,
        ) as lab,
        tempfile.TemporaryDirectory() as report_dir,
    ):
        lab.reset_stats()
        lab_cpu = ProcessCpu(lab.supervisor_pid).start()
        run = run_playbook(
            lab.inventory,
            AUDIT,
            "--check",
            "--forks",
            str(forks),
            "-e",
            f"mssql_tls_report_dir={report_dir}",
        )
        lab_cpu.stop()
        stats = lab.stats()
        report = json.loads((Path(report_dir) / "report.json").read_text())
    commands = [s["commands"] for s in stats.values()]
    bytes_in = [s["bytes_in"] for s in stats.values()]
    rounds = math.ceil(hosts / forks)
    return {
        "hosts": hosts,
        "forks": forks,
        "wall_s": run.wall_s,
        "floor_s": rounds * latency_ms / 1000,
        "commands_per_host_max": max(commands),
        "commands_total": sum(commands),
        "bytes_in_per_host": sum(bytes_in) / hosts,
        "controller_cpu_s": run.cpu_s,
        "controller_cpu_s_per_host": run.cpu_s / hosts,
        "peak_pss_mib": run.peak_pss_mib,
        "peak_rss_mib": run.peak_rss_mib,
        "peak_processes": run.peak_processes,
        "lab_cpu_s": lab_cpu.seconds,
        "report_hosts": report["summary"]["hosts"],
        "report_unreachable": report["summary"]["unreachable"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--state-root", type=Path, default=Path(tempfile.gettempdir()) / "mssql-tls-bench")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(f"/tmp/fleet_scale-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")

    results = [audit_fleet(n, args.forks, args.latency_ms, args.state_root) for n in args.hosts]
    base = results[0]["controller_cpu_s_per_host"]
    rows = [
        [
            r["hosts"],
            f"{r['wall_s']:.1f}",
            f"{r['floor_s']:.1f}",
            r["commands_per_host_max"],
            f"{r['bytes_in_per_host'] / 1024:.1f}",
            f"{r['controller_cpu_s']:.1f}",
            f"{r['controller_cpu_s_per_host']:.3f}",
            f"{r['controller_cpu_s_per_host'] / base:.2f}",
            f"{r['peak_pss_mib']:.0f}",
            f"{r['peak_rss_mib']:.0f}",
            f"{r['lab_cpu_s']:.1f}",
        ]
        for r in results
    ]
    lines = [
        f"audit (playbooks/audit.yml --check), --forks {args.forks}, {args.latency_ms} ms per WinRM command",
        *table(
            [
                "hosts",
                "wall s",
                "floor s",
                "cmds/host",
                "KiB sent/host",
                "ctrl CPU s",
                "CPU s/host",
                "x first",
                "peak PSS MiB",
                "peak RSS MiB",
                "lab CPU s",
            ],
            rows,
        ),
        "floor: one round trip per host, ceil(hosts / forks) rounds of the latency; "
        "x first: CPU per host against the smallest fleet (1.00 = linear)",
    ]
    unreachable = [r for r in results if r["report_unreachable"] or r["report_hosts"] != r["hosts"]]
    if unreachable:
        lines.append(f"WARNING: hosts missing or unreachable in the report: {unreachable}")
    print("\n".join(lines))
    out.write_text(json.dumps({"latency_ms": args.latency_ms, "results": results, "table": lines}, indent=2))
    print(f"figures: {out}")
    return 1 if unreachable else 0


if __name__ == "__main__":
    raise SystemExit(main())
