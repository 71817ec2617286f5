"""playbooks/probe.yml, the verify role and mssql.tls.tds_probe with real ansible-playbook against the lab.

The probe runs on the controller: the lab's WinRM counters must stay at zero.
Expected values come from the lab profiles' own comments (what each host is
meant to show), written by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import Execute, run_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from winlab.testing import winrm_command_runner

from .ansible_run import REPO, run, run_playbook
from .test_probe_cli import lab_endpoint, probe_json

PROBE_PLAYBOOK = REPO / "playbooks" / "probe.yml"
LOCAL_SUITES = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Cryptography\\Configuration\\Local\\SSL\\00010002"


def task_messages(stdout: str, task_title: str) -> dict[str, Any]:
    """host -> the ``msg`` a debug/assert task printed, from the default callback's output.

    ``task_title`` is the start of the task name as printed after the role name.
    """
    start = stdout.index(f" : {task_title}")
    end = stdout.find("\nTASK [", start)
    section = stdout[start : end if end != -1 else len(stdout)]
    found = {}
    for match in _HOST_RESULT.finditer(section):
        found[match["host"]] = json.loads(match["body"])["msg"]
    return found


# "ok: [s3] => {" (debug, indented JSON up to a closing "}" line) or
# "fatal: [s3]: FAILED! => {...}" (assert, JSON on one line).
_HOST_RESULT = re.compile(
    r"^(?:ok|fatal): \[(?P<host>[^\]]+)\](?:: [A-Z]+!)? => (?P<body>\{[^\n]*\}$|\{\n.*?^\})", re.M | re.S
)


def table_rows(lines: list[str]) -> list[dict[str, str]]:
    """Cells of a summary_lines table, cut at the header's column starts."""
    header, *rows = lines
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)*", header)]
    names = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    return [
        {name: row[a:b].strip() for name, a, b in zip(names, starts, [*starts[1:], None], strict=True)}
        for row in rows
    ]


def test_probe_playbook_covers_the_whole_lab_without_touching_winrm(lab) -> None:
    lab.reset_stats()

    proc, recap = run_playbook(lab.inventory, PROBE_PLAYBOOK, "--forks", "10")

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert set(recap) == set(lab.hosts)
    for host, counts in recap.items():
        assert counts == {"ok": 4, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 3}, host
    for host, counters in lab.stats().items():
        assert (counters["commands"], counters["bytes_in"]) == (0, 0), host

    tables = {
        host: table_rows(lines) for host, lines in task_messages(proc.stdout, "Show each endpoint").items()
    }
    assert set(tables) == set(lab.hosts)
    # Client hosts of the pairing fleet run no SQL Server: their table has a header and no row.
    without_sql = {host for host, rows in tables.items() if not rows}
    assert without_sql == {h for h, v in lab.windows_group()["hosts"].items() if not v["mssql_tls_instances"]}
    one = {host: rows[0] for host, rows in tables.items() if rows}
    # scenario 3: the 2019 default list keeps DHE_RSA GCM; the 2012 R2 and 2016 hosts list DHE too
    for host in ("s3", "s5", "fci-node1"):
        assert one[host]["DHE"] == "yes", host
    for host in ("compliant", "s4", "s6"):
        assert one[host]["DHE"] == "no", host
    # scenario 1: nothing is accepted, every client fails
    assert one["s1"]["PROTOCOLS"] == "none"
    assert "snac11-unpatched" in one["s1"]["FAILING CLIENTS"]
    # scenario 4: SHA512 bound on both instances of s4; MD5 auto-picked on the 2012 R2 host
    assert [(r["INSTANCE"], r["CERT HASH"]) for r in tables["s4"]] == [
        ("MSSQLSERVER", "sha512 (weak)"),
        ("REPORTS", "sha512 (weak)"),
    ]
    assert one["mixed-2012r2"]["CERT HASH"] == "md5 (weak)"
    assert one["s5"]["PROTOCOLS"] == "TLS 1.0, TLS 1.1, TLS 1.2"
    # the passive FCI node does not run the instance
    assert one["fci-node2"]["PROTOCOLS"] == "unreachable"
    assert "connection refused" in one["fci-node2"]["FAILING CLIENTS"]

    clients = task_messages(proc.stdout, "Show what each client profile sees")
    assert any(
        line.startswith("  snac11-unpatched") and "FAIL" in line and "error 10054" in line
        for line in clients["s3"]
    )


def test_check_mode_probes_the_same_way(lab) -> None:
    proc, recap = run_playbook(lab.inventory, PROBE_PLAYBOOK, "--check", "--limit", "s3,compliant")

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap["s3"]["changed"] == 0 and recap["s3"]["ok"] == 4
    tables = task_messages(proc.stdout, "Show each endpoint")
    assert table_rows(tables["s3"])[0]["DHE"] == "yes"


MODULE_PLAYBOOK = """
- name: Exercise mssql.tls.tds_probe options
  hosts: compliant
  gather_facts: false
  tasks:
    - name: Both entry paths of the SQL Server 2022 host
      mssql.tls.tds_probe:
        mode: both
      register: both

    - name: Each path is judged with its own client profiles
      ansible.builtin.assert:
        that:
          - both.endpoints | map(attribute='mode') | list == ['tds', 'strict']
          - both.endpoints | map(attribute='instance') | unique | list == ['MSSQLSERVER']
          - both.endpoints[1].strict.alpn_selected == 'tds/8.0'
          - both.endpoints[1].protocols['TLS 1.3'] == true
          - both.summary[0].encryption_forced == true
          - both.summary[1].failing_profiles == []
          - both.endpoints[1].client_verdicts | map(attribute='profile') | list
            == ['odbc18-strict', 'sqlclient5-strict']
          - "'odbc18-strict' not in (both.endpoints[0].client_verdicts | map(attribute='profile') | list)"
          - both.failing_profiles == ['dotnet45-default', 'snac11-unpatched']
          - not both.changed
          - both.changes is not defined

    - name: Explicit targets with a name, two profiles
      mssql.tls.tds_probe:
        targets:
          - host: "{{ ansible_host }}"
            port: 1433
            name: PRIMARY
        profiles: [odbc18, snac11-unpatched]
        baseline: "{{ both }}"
      register: explicit

    - name: Same endpoint, same answers, so the only differences are the profiles not judged
      ansible.builtin.assert:
        that:
          - explicit.endpoints | length == 1
          - explicit.endpoints[0].instance == 'PRIMARY'
          - explicit.endpoints[0].client_verdicts | map(attribute='profile') | list
            == ['odbc18', 'snac11-unpatched']
          - explicit.changes | map(attribute='kind') | list == ['endpoint']
          - explicit.changes[0].after == 'absent' and explicit.changes[0].mode == 'strict'
"""


def test_module_options_and_return_values(lab, tmp_path: Path) -> None:
    playbook = tmp_path / "module.yml"
    playbook.write_text(MODULE_PLAYBOOK)

    proc, recap = run_playbook(lab.inventory, playbook)

    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert recap["compliant"] == {"ok": 4, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"targets": [{"host": "127.0.0.1", "port": 70000}]},
            "targets[0].port: expected an integer 1..65535",
        ),
        (
            {"targets": [{"host": "127.0.0.1", "instance": "X"}]},
            "targets[0].instance: expected only the keys",
        ),
        ({"targets": ["127.0.0.1:1433", "sql01:x"]}, "targets[1]: expected 'host', 'host:port'"),
        (
            {"mode": "strict", "profiles": ["odbc17"]},
            "profiles: expected profiles that use the strict entry path",
        ),
        ({"mode": "tds8"}, "value of mode must be one of: tds, strict, tls, both"),
        ({"baseline": "yesterday"}, "baseline: expected a registered mssql.tls.tds_probe result"),
    ],
)
def test_bad_options_fail_naming_the_field(lab, args: dict[str, Any], message: str) -> None:
    proc = run("ansible", "-i", str(lab.inventory), "s3", "-m", "mssql.tls.tds_probe", "-a", json.dumps(args))
    assert proc.returncode != 0
    assert f'"msg": "{message}' in proc.stdout, proc.stdout


def test_host_without_instances_var_gets_a_clear_error(lab) -> None:
    proc = run(
        "ansible", "-i", str(lab.inventory), "s3", "-m", "mssql.tls.tds_probe",
        "-e", '{"mssql_tls_instances": null}',
    )  # fmt: skip
    assert proc.returncode != 0
    assert "targets: not given, and the host var mssql_tls_instances" in proc.stdout


# ----------------------------------------------------------- a change clients can see


def agent_executor(inventory: Path, host: str) -> Execute:
    """Run agent batches on a lab host over its real WinRM endpoint (pywinrm), as a change module will.

    No module of the collection writes yet, so the test sends the write batch itself,
    built and parsed by the collection's own agent client.
    """
    return winrm_command_runner(inventory, host)


def set_local_suites(execute: Execute, choose: Any, journal_id: str) -> list[str]:
    """Rewrite the Local suite list (read live by Schannel, windows-schannel.md 4) with a precondition."""
    current = run_batch(execute, [op("reg.read", path=LOCAL_SUITES)]).results[0].data["values"]["Functions"]
    wanted = choose(current["data"])
    batch = run_batch(
        execute,
        [op("reg.write", path=LOCAL_SUITES, name="Functions", type="REG_MULTI_SZ",
            value={"data": wanted}, expect=current)],
        journal={"id": journal_id, "line": json.dumps({"test": journal_id, "before": current})},
    )  # fmt: skip
    assert batch.ok, batch.results
    return wanted


def verify_run(inventory: Path, tmp_path: Path, baseline: dict[str, Any], **role_vars: Any):
    extra = tmp_path / f"vars-{len(list(tmp_path.glob('vars-*')))}.json"
    extra.write_text(json.dumps({"verify_baseline": baseline, **role_vars}))
    return run_playbook(inventory, PROBE_PLAYBOOK, "--check", "-e", f"@{extra}")


def test_verify_shows_a_remediation_and_fails_on_a_regression(make_lab, tmp_path: Path) -> None:
    lab = make_lab("s3")
    target = lab_endpoint(lab, "s3")
    execute = agent_executor(lab.inventory, "s3")
    before = probe_json(target, tmp_path / "before.json")[1]

    # Scenario 3 fix: strip every TLS_DHE_ suite from the list in force.
    kept = set_local_suites(
        execute, lambda names: [n for n in names if not n.startswith("TLS_DHE_")], "no-dhe"
    )
    assert kept and not any("DHE_" in n and "ECDHE_" not in n for n in kept)
    lab.reset_stats()
    proc, recap = verify_run(lab.inventory, tmp_path, before, verify_required_profiles=["odbc18"])

    assert proc.returncode == 0, proc.stdout[-4000:]
    assert recap["s3"] == {"ok": 7, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}
    assert lab.stats()["s3"]["commands"] == 0
    changes = task_messages(proc.stdout, "Show what changed for clients since the baseline")["s3"]
    via_ecdhe = "connects with TLS 1.2 and TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
    via_dhe = "connects with TLS 1.2 and TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
    assert changes == [
        f"{target} tds TLS 1.2: suites removed: TLS_DHE_RSA_WITH_AES_256_GCM_SHA384, "
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        f"{target} tds snac11-patched: {via_dhe} -> {via_ecdhe}",
        f"{target} tds windows-2012r2-client: {via_dhe} -> {via_ecdhe}",
    ]

    # A bad change: ECDSA-only suites with an RSA certificate (scenario 2) locks every client out.
    fixed = probe_json(target, tmp_path / "fixed.json")[1]
    set_local_suites(execute, lambda _names: ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"], "ecdsa-only")
    proc, recap = verify_run(lab.inventory, tmp_path, fixed)

    assert proc.returncode == 2, proc.stdout[-4000:]
    assert recap["s3"]["failed"] == 1
    failure = task_messages(proc.stdout, "Fail when a client that connected before no longer does")["s3"]
    odbc18_before = "connects with TLS 1.2 and TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert any(line.startswith(f"{target} tds odbc18: {odbc18_before} -> fails (") for line in failure)
    assert (
        f"{target} tds TLS 1.2: accepted -> refused"
        in task_messages(proc.stdout, "Show what changed for clients since the baseline")["s3"]
    )
