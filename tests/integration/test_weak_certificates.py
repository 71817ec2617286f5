"""Scenario 4 fixed on the lab with real ansible-playbook: the weak_certificates and sql_restart roles.

Each test starts its own lab. What the host should end up with is read from the lab's own model
(its registry, certificate store and SQL runtime), never from the collection's facts alone.
"""

from __future__ import annotations

import base64
import json

from winlab import registry as winreg

from .ansible_run import REPO, run_playbook

PLAYBOOK = REPO / "tests" / "integration" / "playbooks" / "weak_certificates.yml"
AUDIT = REPO / "playbooks" / "audit.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
SQL = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server"
# Property 9 as sqlserver-tls.md 6 prescribes: DER SEQUENCE OF OID.
CLIENT_AUTH_ONLY = base64.b64encode(bytes.fromhex("300a06082b06010505070302")).decode()  # 30 0a ...3.2
NO_PURPOSES = base64.b64encode(bytes.fromhex("3000")).decode()  # 30 00
RESTART = "Restart the requested SQL Server instances"


def results(stdout: str, task: str) -> dict[str, dict]:
    """host -> the result ``-v`` prints for a task (role or play task, named by the start of its
    name), over every serial batch of the play."""
    found: dict[str, dict] = {}
    for section in stdout.split("\nTASK [")[1:]:
        title, _sep, body = section.partition("]")
        if not title.split(" : ")[-1].startswith(task):
            continue
        for line in body.splitlines():
            for status in ("changed: [", "ok: [", "fatal: ["):
                if line.startswith(status) and " => " in line:
                    found[line[len(status) : line.index("]")]] = json.loads(line.split(" => ", 1)[1])
    return found


def remediate(lab, *args):
    return run_playbook(lab.inventory, PLAYBOOK, "-v", *args)


def audit(lab, tmp_path):
    proc, _recap = run_playbook(lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={tmp_path}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    return {h["name"]: h for h in report["hosts"]}


def certificate(state, name):
    (cert,) = [c for c in state["cert_stores"]["My"] if c["name"] == name]
    return cert


def netlib(state, instance_id, name):
    value = winreg.get_value(
        winreg.registry_from_json(state["registry"]),
        f"{SQL}\\{instance_id}\\MSSQLServer\\SuperSocketNetLib",
        name,
    )
    return None if value is None else value.data


def store_thumbprints(state):
    return {c["thumbprint"].lower() for c in state["cert_stores"]["My"]}


def test_s4_and_mixed_2012r2_stop_loading_the_weak_certificate_and_a_second_run_is_one_command(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s4", "mixed-2012r2")
    before = {host: lab.state(host) for host in lab.hosts}
    proc, recap = remediate(lab, "-e", "mssql_tls_serial=1")  # one host per batch
    assert proc.returncode == 0, proc.stdout[-4000:]
    after = {host: lab.state(host) for host in lab.hosts}

    # s4: the binding is cleared (set to the empty string, sqlserver-tls.md 2), the weak certificate
    # keeps Client Authentication only (extension [server, client] - server), and both instances
    # restarted onto their self-generated certificate.
    s4 = after["s4"]
    assert netlib(s4, "MSSQL15.MSSQLSERVER", "Certificate") == ""
    assert certificate(s4, "weak-sha512")["properties"] == {"9": CLIENT_AUTH_ONLY}
    for name in ("MSSQLSERVER", "REPORTS"):
        runtime = s4["sql_runtime"][name]
        assert runtime["running"] and runtime["self_generated"] is not None, name
        assert runtime["started_utc"] != before["s4"]["sql_runtime"][name]["started_utc"]
    # mixed-2012r2: an extension with Server Authentication only leaves no purposes (30 00).
    mixed = after["mixed-2012r2"]
    assert certificate(mixed, "legacy-md5")["properties"] == {"9": NO_PURPOSES}
    assert mixed["sql_runtime"]["MSSQLSERVER"]["self_generated"] is not None

    restarts = results(proc.stdout, RESTART)
    for item in restarts["s4"]["restarted"]:
        probe = item["readiness"]["probe"]
        assert item["method"] == "service" and item["expected"]["kind"] == "self_generated"
        assert probe["used"] and probe["seen"] not in store_thumbprints(s4)  # the self-generated one
        assert "A self-generated certificate was successfully loaded" in item["readiness"]["loaded_line"]
    (item,) = restarts["mixed-2012r2"]["restarted"]
    assert item["readiness"]["probe"]["used"] is False
    assert "scenario 1" in item["readiness"]["probe"]["reason"]  # SQL 2014 SP1 CU1 vs TLS 1.2 only
    assert any("service state and ERRORLOG alone" in note for note in restarts["mixed-2012r2"]["notes"])

    hosts = audit(lab, tmp_path)
    assert hosts["s4"]["scenarios"] == []
    assert hosts["mixed-2012r2"]["scenarios"] == [1, 3, 5]

    lab.reset_stats()
    proc, recap = remediate(lab)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {h: c["changed"] for h, c in recap.items()} == {"s4": 0, "mixed-2012r2": 0}
    assert {h: s["commands"] for h, s in lab.stats().items()} == {"s4": 1, "mixed-2012r2": 1}


def test_check_mode_changes_nothing_and_diff_shows_the_binding_and_property_9(make_lab) -> None:
    lab = make_lab("s4")
    before = lab.state("s4")
    proc, recap = remediate(lab, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert lab.state("s4") == before
    assert recap["s4"]["changed"] >= 2
    assert "property 9 (enhanced key usage)" in proc.stdout
    assert '"client_auth"' in proc.stdout and "SuperSocketNetLib\\\\Certificate" in proc.stdout


def test_a_certificate_winrm_https_uses_is_refused_and_a_good_replacement_is_bound_with_key_access(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s4-winrm-https")
    before = lab.state("s4-winrm-https")
    good = certificate(before, "sql-sha256")["thumbprint"].lower()
    proc, _recap = remediate(lab, "-e", f"weak_certificates_replacement_thumbprint={good}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    purpose = results(proc.stdout, "Take Server Authentication away")["s4-winrm-https"]
    (blocked,) = purpose["blocked"]
    assert blocked["code"] == "certificate_used_elsewhere" and not blocked["forced"]
    assert "winrm_https (*+HTTPS)" in blocked["message"] and "http_sys (0.0.0.0:5986)" in blocked["message"]
    state = lab.state("s4-winrm-https")
    assert certificate(state, "host-sha512")["properties"] == certificate(before, "host-sha512")["properties"]
    # The replacement is bound in lower case, its key opened to NT SERVICE\MSSQLSERVER, and loaded.
    assert netlib(state, "MSSQL15.MSSQLSERVER", "Certificate") == good
    sid = "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003"
    assert certificate(state, "sql-sha256")["key_acl"] == f"D:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;GR;;;{sid})"
    assert state["sql_runtime"]["MSSQLSERVER"]["certificate"].lower() == good
    (item,) = results(proc.stdout, RESTART)["s4-winrm-https"]["restarted"]
    assert item["readiness"]["probe"]["seen"] == good
    assert audit(lab, tmp_path)["s4-winrm-https"]["scenarios"] == []

    # Rollback restores the binding, the key's DACL, and the instance loads the old one at its next start.
    proc, _recap = run_playbook(lab.inventory, ROLLBACK)
    assert proc.returncode == 0, proc.stdout[-3000:]
    rolled = lab.state("s4-winrm-https")
    assert netlib(rolled, "MSSQL15.MSSQLSERVER", "Certificate") == netlib(
        before, "MSSQL15.MSSQLSERVER", "Certificate"
    )
    assert certificate(rolled, "sql-sha256")["key_acl"] == certificate(before, "sql-sha256")["key_acl"]


def test_a_certificate_rdp_uses_is_refused_unless_forced(make_lab) -> None:
    lab = make_lab("s4-rdp")
    proc, _recap = remediate(lab)
    assert proc.returncode == 0, proc.stdout[-4000:]
    purpose = results(proc.stdout, "Take Server Authentication away")["s4-rdp"]
    assert [b["code"] for b in purpose["blocked"]] == ["certificate_used_elsewhere"]
    assert "rdp (RDP-Tcp)" in purpose["blocked"][0]["message"]
    state = lab.state("s4-rdp")
    assert certificate(state, "rdp-md5")["properties"] == {}
    assert state["sql_runtime"]["MSSQLSERVER"]["certificate"] == certificate(state, "rdp-md5")["thumbprint"]

    proc, _recap = remediate(lab, "-e", "weak_certificates_force=true")
    assert proc.returncode == 0, proc.stdout[-4000:]
    forced = results(proc.stdout, "Take Server Authentication away")["s4-rdp"]
    assert forced["forced"] and forced["blocked"][0]["forced"]
    # No extension and no property: valid for all purposes; it keeps the explicit list (client_auth).
    state = lab.state("s4-rdp")
    assert certificate(state, "rdp-md5")["properties"] == {"9": CLIENT_AUTH_ONLY}
    assert state["sql_runtime"]["MSSQLSERVER"]["self_generated"] is not None

    # Rollback deletes the property again: it was absent before the run.
    proc, _recap = run_playbook(lab.inventory, ROLLBACK)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert certificate(lab.state("s4-rdp"), "rdp-md5")["properties"] == {}
