"""Real ansible-playbook over ansible-core's own winrm plugin, against several lab hosts at once."""

from __future__ import annotations

from pathlib import Path

from .ansible_run import run, run_playbook

PLAYBOOK = """
- name: Ping the mssql.tls agent on every lab host
  hosts: all
  gather_facts: false
  tasks:
    - name: Run one agent batch
      mssql.tls.agent_ping:
        data: hello
      register: ping

    - name: The host that answered is the one in the inventory
      ansible.builtin.assert:
        that:
          - ping.ping == 'hello'
          - ping.agent.protocol == 1
          - ping.host.os_build is match('^\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+$')
          - not ping.changed
"""


def test_playbook_runs_one_agent_batch_per_host(lab, tmp_path: Path) -> None:
    playbook = tmp_path / "ping.yml"
    playbook.write_text(PLAYBOOK)
    lab.reset_stats()

    proc, recap = run_playbook(lab.inventory, playbook, "--forks", "10")

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert set(recap) == set(lab.hosts)
    assert len(recap) >= 3
    for host, counts in recap.items():
        assert counts == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}, host
    lab_counters = lab.stats()
    for host in lab.hosts:
        assert lab_counters[host]["commands"] == 1, (host, lab_counters[host])
        assert lab_counters[host]["batches"] == [["os.info", "reg.read"]], host


def test_check_mode_runs_the_read_only_batch(lab, tmp_path: Path) -> None:
    playbook = tmp_path / "ping.yml"
    playbook.write_text(PLAYBOOK)
    host = next(iter(lab.hosts))
    proc, recap = run_playbook(lab.inventory, playbook, "--check", "--limit", host)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap == {host: {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}}


def test_adhoc_module_answers_from_every_host(lab) -> None:
    proc = run("ansible", "-i", str(lab.inventory), "all", "-m", "mssql.tls.agent_ping", "-o")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answered = {line.split(" | ")[0] for line in proc.stdout.splitlines() if " | SUCCESS" in line}
    assert answered == set(lab.hosts)
