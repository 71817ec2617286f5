"""Safe SQL Server restarts on the lab with real ansible-playbook: change window, failover
cluster instances, and a start that fails after a binding change."""

from __future__ import annotations

import json

from .ansible_run import REPO, run_playbook
from .test_weak_certificates import PLAYBOOK, certificate, netlib, results

RESTART_ONLY = REPO / "tests" / "integration" / "playbooks" / "sql_restart.yml"
BIND = REPO / "tests" / "integration" / "playbooks" / "bind_and_restart.yml"
RESTART = "Restart the requested SQL Server instances"
# A window that is over: nothing may restart (host-local datetimes, activate/window.py).
CLOSED = ["-e", "mssql_tls_window_start=2001-01-01T00:00", "-e", "mssql_tls_window_end=2001-01-01T01:00"]


def started(state, instance="MSSQLSERVER"):
    return state["sql_runtime"][instance]["started_utc"]


def test_outside_the_window_nothing_restarts_and_the_restart_stays_pending(make_lab) -> None:
    lab = make_lab("s4")
    before = lab.state("s4")
    proc, _recap = run_playbook(lab.inventory, PLAYBOOK, "-v", *CLOSED)
    assert proc.returncode == 0, proc.stdout[-4000:]
    result = results(proc.stdout, RESTART)["s4"]
    assert result["pending"] and not result["changed"] and result["restarted"] == []
    assert result["pending_instances"] == ["MSSQL15.MSSQLSERVER", "MSSQL15.REPORTS"]
    assert (
        "s4: Restart of MSSQL15.MSSQLSERVER, MSSQL15.REPORTS pending: outside the change window"
        in proc.stdout
    )
    state = lab.state("s4")
    assert started(state) == started(before) and started(state, "REPORTS") == started(before, "REPORTS")
    assert (
        state["sql_runtime"]["MSSQLSERVER"]["certificate"]
        == before["sql_runtime"]["MSSQLSERVER"]["certificate"]
    )

    # The next run has nothing left to write, yet still asks for the restart that is due.
    proc, _recap = run_playbook(lab.inventory, PLAYBOOK, "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert [r["instance"] for r in results(proc.stdout, RESTART)["s4"]["restarted"]] == [
        "MSSQL15.MSSQLSERVER",
        "MSSQL15.REPORTS",
    ]
    assert lab.state("s4")["sql_runtime"]["MSSQLSERVER"]["self_generated"] is not None


def test_a_failover_cluster_instance_restarts_through_its_resource_on_the_owner_only(make_lab) -> None:
    lab = make_lab("fci-node1", "fci-node2")
    before = {host: lab.state(host) for host in lab.hosts}
    proc, recap = run_playbook(
        lab.inventory, RESTART_ONLY, "-v", "-e", json.dumps({"sql_restart_instances": ["MSSQLSERVER"]})
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    found = results(proc.stdout, RESTART)
    (owner,) = found["fci-node1"]["restarted"]
    assert owner["method"] == "cluster_resource" and owner["readiness"]["ready"]
    assert owner["stopped"] == ["SQL Server Agent", "SQL Server"] and owner["started"] == [
        "SQL Server",
        "SQL Server Agent",
    ]
    (skip,) = found["fci-node2"]["not_restarted"]
    assert (skip["code"], skip["data"]["owner_node"]) == ("not_owner", "FCI-NODE1")
    assert found["fci-node2"]["restarted"] == [] and not found["fci-node2"]["changed"]
    assert {h: c["changed"] for h, c in recap.items()} == {"fci-node1": 1, "fci-node2": 0}
    assert lab.stats()["fci-node2"]["commands"] == 1  # its gather: nothing to restart there
    node1, node2 = lab.state("fci-node1"), lab.state("fci-node2")
    assert started(node1) != started(before["fci-node1"])
    assert node2 == before["fci-node2"]
    assert {r["name"]: r["state"] for r in node1["cluster"]["resources"]}["SQL Server"] == "Online"


def test_a_forced_binding_without_a_private_key_fails_the_start_and_the_old_binding_comes_back(
    make_lab,
) -> None:
    lab = make_lab("s4-rdp")
    before = lab.state("s4-rdp")
    no_key = certificate(before, "renewal-no-key")["thumbprint"].lower()
    proc, _recap = run_playbook(
        lab.inventory, BIND, "-v", "-e", f"bind_thumbprint={no_key}", "-e", "bind_force=true"
    )
    assert proc.returncode != 0
    failure = proc.stdout[proc.stdout.index("TASK [Restart what the binding changed]") :]
    assert (
        "failed to start" in failure
        and "26014" in failure
        and "Unable to load user-specified certificate" in failure
    )
    assert "The previous binding was restored from the journal" in failure
    assert f"Certificate '{no_key}' -> ''" in failure and "it runs again" in failure
    state = lab.state("s4-rdp")
    assert netlib(state, "MSSQL14.MSSQLSERVER", "Certificate") == ""
    runtime = state["sql_runtime"]["MSSQLSERVER"]
    assert runtime["running"] and runtime["certificate"] == certificate(state, "rdp-md5")["thumbprint"]
    assert {s["name"]: s["state"] for s in state["services"]}["SQLSERVERAGENT"] == "Running"


def test_validation_refuses_that_binding_without_force(make_lab) -> None:
    lab = make_lab("s4-rdp")
    no_key = certificate(lab.state("s4-rdp"), "renewal-no-key")["thumbprint"].lower()
    proc, recap = run_playbook(lab.inventory, BIND, "-v", "-e", f"bind_thumbprint={no_key}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    binding = results(proc.stdout, "Bind the certificate")["s4-rdp"]
    assert [b["code"] for b in binding["blocked"]] == ["certificate_no_private_key"]
    assert recap["s4-rdp"]["changed"] == 0


def test_check_mode_plans_the_restart_shows_the_certificate_diff_and_restarts_nothing(make_lab) -> None:
    lab = make_lab("s4")
    before = lab.state("s4")
    proc, _recap = run_playbook(lab.inventory, PLAYBOOK, "--check", "--diff", "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert lab.state("s4") == before
    result = results(proc.stdout, RESTART)["s4"]
    assert [p["instance"] for p in result["planned"]] == ["MSSQL15.MSSQLSERVER", "MSSQL15.REPORTS"]
    assert '+    "MSSQL15.MSSQLSERVER certificate": "the self-generated certificate"' in proc.stdout


def test_a_primary_replica_restarts_only_when_allowed_and_stays_requested_until_then(make_lab) -> None:
    lab = make_lab("ag-node1", "ag-node2")
    before = {host: lab.state(host) for host in lab.hosts}
    restart = json.dumps({"sql_restart_instances": ["MSSQLSERVER"]})
    proc, _recap = run_playbook(lab.inventory, RESTART_ONLY, "-v", "-e", restart)
    assert proc.returncode == 0, proc.stdout[-4000:]
    found = results(proc.stdout, RESTART)
    (secondary,) = found["ag-node2"]["restarted"]
    assert secondary["method"] == "service" and secondary["readiness"]["ready"]
    (refused,) = found["ag-node1"]["not_restarted"]
    assert (refused["code"], refused["data"]["groups"]) == ("primary_refused", ["AG1"])
    assert "allow_primary_restart" in refused["message"]
    kept = results(proc.stdout, "Keep what is still to do requested")["ag-node1"]
    assert kept["ansible_facts"]["mssql_tls_restart_requests"] == ["MSSQL16.MSSQLSERVER"]
    assert started(lab.state("ag-node1")) == started(before["ag-node1"])
    assert started(lab.state("ag-node2")) != started(before["ag-node2"])

    proc, _recap = run_playbook(
        lab.inventory, RESTART_ONLY, "-v", "-e", restart, "-e", "sql_restart_allow_primary_restart=true"
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    primary = results(proc.stdout, RESTART)["ag-node1"]
    assert [r["instance"] for r in primary["restarted"]] == ["MSSQL16.MSSQLSERVER"]
    assert any("was the primary replica of AG1" in note for note in primary["notes"])
    assert started(lab.state("ag-node1")) != started(before["ag-node1"])
