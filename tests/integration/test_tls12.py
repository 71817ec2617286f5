"""The tls12 role (mssql.tls.schannel_protocols) with real ansible-playbook against lab hosts.

Each test starts its own lab (the session-wide ``lab`` is shared by read-only tests).
"""

from __future__ import annotations

import json

from .ansible_run import REPO, run_playbook

TLS12 = REPO / "tests" / "integration" / "playbooks" / "tls12.yml"
AUDIT = REPO / "playbooks" / "audit.yml"
SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"


def tls12(lab, *args):
    return run_playbook(lab.inventory, TLS12, *args)


def results(stdout: str, task: str) -> dict[str, dict]:
    """host -> the registered result printed by ``-v`` for a task (the default callback's JSON)."""
    start = stdout.index(f" : {task}")
    end = stdout.find("\nTASK [", start)
    found = {}
    for line in stdout[start:end].splitlines():
        for status in ("changed: [", "ok: [", "fatal: ["):
            if line.startswith(status) and " => " in line:
                host = line[len(status) : line.index("]")]
                found[host] = json.loads(line.split(" => ", 1)[1])
    return found


def registry(lab, host: str) -> dict:
    return lab.state(host)["registry"]


def test_check_mode_leaves_every_host_byte_identical_and_diff_shows_each_value(make_lab) -> None:
    lab = make_lab("s3", "tls10-needed")
    before = {host: lab.state(host) for host in lab.hosts}
    proc, recap = tls12(lab, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {host: lab.state(host) for host in lab.hosts} == before
    # s3 already has the policy; tls10-needed's client side still allows TLS 1.0/1.1
    assert {h: c["changed"] for h, c in recap.items()} == {"s3": 0, "tls10-needed": 1}
    value = json.dumps(f"{SCHANNEL}\\Protocols\\TLS 1.0\\Client\\Enabled")
    assert f"-    {value}: null" in proc.stdout and f"+    {value}: 0" in proc.stdout


def test_a_second_run_changes_nothing_and_costs_one_command_per_host(make_lab) -> None:
    lab = make_lab("s5", "tls10-needed", "s1")
    proc, recap = tls12(lab)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {h: c["changed"] for h, c in recap.items()} == {"s5": 1, "tls10-needed": 1, "s1": 0}
    lab.reset_stats()
    proc, recap = tls12(lab)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {c["changed"] for c in recap.values()} == {0}
    commands = {host: counters["commands"] for host, counters in lab.stats().items()}
    assert commands == dict.fromkeys(lab.hosts, 1)


def test_the_gate_refuses_server_side_disabling_for_a_sql_build_without_tls12_and_names_the_upgrade(
    make_lab,
) -> None:
    lab = make_lab("tls10-needed")
    proc, _recap = tls12(lab, "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = results(proc.stdout, "Enforce TLS 1.2")["tls10-needed"]
    (blocker,) = result["blocked"]
    assert blocker["code"] == "sql_build_without_tls12" and not blocker["forced"] and not blocker["unfixable"]
    assert blocker["data"]["instance"] == "MSSQLSERVER" and blocker["data"]["version"] == "12.0.4416.0"
    assert "12.0.4439.1" in blocker["message"]
    server = registry(lab, "tls10-needed")
    targets = {c["target"] for c in result["plan"]["changes"]}
    assert f"{SCHANNEL}\\Protocols\\TLS 1.0\\Server\\Enabled" not in targets
    assert f"{SCHANNEL}\\Protocols\\TLS 1.0\\Client\\Enabled" in targets
    assert server  # the host answered its state


def test_scenario1_that_tls12_cannot_fix_is_reported_blocked_with_its_upgrade(make_lab) -> None:
    lab = make_lab("s1", "mixed-2012r2")
    proc, _recap = tls12(lab, "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    found = results(proc.stdout, "Enforce TLS 1.2")
    for host in ("s1", "mixed-2012r2"):
        unfixable = [b for b in found[host]["blocked"] if b["unfixable"]]
        sql = [b for b in unfixable if b["code"] == "sql_build_without_tls12"]
        assert sql and "KB3135244" in sql[0]["clears_with"], host
        assert all("This fix cannot remove it" in b["message"] for b in sql), host
