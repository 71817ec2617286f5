"""remediate.yml then rollback.yml on every lab profile: the host model comes back exactly.

"Exactly" is the whole host model the fixes can touch (host_model.comparable): every registry value
and key, every certificate with its properties and its private key's ACL, the services, the cluster
resources and what SQL Server serves; not the journal files, ERRORLOG text or boot and start times.
"""

from __future__ import annotations

from winlab.testing import PROFILES_DIR

from .ansible_run import REPO, run_playbook
from .host_model import comparable

REMEDIATE = REPO / "playbooks" / "remediate.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
# Every profile of the lab: hosts with nothing to fix must not drift either.
PROFILES = tuple(sorted(path.stem for path in PROFILES_DIR.glob("*.yml")))
ACTIVATE = ("-e", "mssql_tls_reboot=true", "-e", "mssql_tls_restart=true")


def test_remediate_then_rollback_returns_every_profile_to_its_original_state(make_lab, tmp_path) -> None:
    lab = make_lab(*PROFILES)
    before = {host: comparable(lab.state(host)) for host in lab.hosts}

    proc, recap = run_playbook(
        lab.inventory,
        REMEDIATE,
        *ACTIVATE,
        "--forks",
        "14",
        "-e",
        f"mssql_tls_report_dir={tmp_path / 'report'}",
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    changed = {host for host, counts in recap.items() if counts["changed"]}
    # every host with something to fix was changed; the compliant host and s6 were not
    assert {"s2", "s3", "s4", "s5", "mixed-2012r2", "fci-node1", "fci-node2"} <= changed
    assert "compliant" not in changed and all(c["failed"] == 0 for c in recap.values())
    drifted = {host for host in lab.hosts if comparable(lab.state(host)) != before[host]}
    assert {"s3", "s4", "mixed-2012r2"} <= drifted

    proc, recap = run_playbook(lab.inventory, ROLLBACK, *ACTIVATE, "--forks", "25")
    assert proc.returncode == 0, proc.stdout[-4000:]
    after = {host: comparable(lab.state(host)) for host in lab.hosts}
    for host in lab.hosts:
        assert after[host] == before[host], host
