"""playbooks/rollback.yml after the tls12 role: every registry value back as it was, conflicts left alone."""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import run_batch
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.ops import op
from winlab.testing import winrm_command_runner

from .ansible_run import REPO, run_playbook
from .test_tls12 import TLS12

ROLLBACK = REPO / "playbooks" / "rollback.yml"
SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"


def test_rollback_restores_the_registry_of_every_host_exactly(make_lab) -> None:
    lab = make_lab("s5", "tls10-needed", "mixed-2012r2")
    before = {host: lab.state(host)["registry"] for host in lab.hosts}
    proc, _recap = run_playbook(lab.inventory, TLS12)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all(lab.state(host)["registry"] != before[host] for host in lab.hosts)

    proc, recap = run_playbook(lab.inventory, ROLLBACK, "--check")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert all(lab.state(host)["registry"] != before[host] for host in lab.hosts)  # check mode: nothing

    proc, recap = run_playbook(lab.inventory, ROLLBACK)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {h: c["changed"] for h, c in recap.items()} == dict.fromkeys(lab.hosts, 1)
    assert {host: lab.state(host)["registry"] for host in lab.hosts} == before

    proc, recap = run_playbook(lab.inventory, ROLLBACK)
    assert proc.returncode != 0 or {c["changed"] for c in recap.values()} == {0}


def test_a_value_changed_after_the_run_is_left_alone_and_reported(make_lab) -> None:
    lab = make_lab("tls10-needed")
    proc, _recap = run_playbook(lab.inventory, TLS12)
    assert proc.returncode == 0, proc.stdout[-3000:]
    host = winrm_command_runner(lab.inventory, "tls10-needed")
    path = f"{SCHANNEL}\\Protocols\\TLS 1.0\\Client"
    write = op("reg.write", path=path, name="Enabled", type="REG_DWORD", value={"data": 7})
    assert run_batch(host, [write], journal={"id": "someone-else", "line": "{}"}).ok
    proc, _recap = run_playbook(lab.inventory, ROLLBACK, "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "was changed after our run (expected 0, found 7)" in proc.stdout
    (read,) = run_batch(host, [op("reg.read", path=path)]).results
    # left alone, while its sibling value went back to absent
    assert read.data["values"] == {"Enabled": {"type": "REG_DWORD", "data": 7}}
