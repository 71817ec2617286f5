"""The cipher_suites role (mssql.tls.cipher_suites) with real ansible-playbook against lab hosts.

s3 and s5: TLS_DHE in the OS default Local list on 2019 / 2016 (TLS cmdlets, immediate);
mixed-2012r2: no Local list at all on 2012 R2 (the OS default list, written as REG_MULTI_SZ);
s2: a Group Policy list of ECDSA suites with an RSA certificate (scenario 2, reboot).
Each test starts its own lab (the session-wide ``lab`` is shared by read-only tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.probe import probe_endpoint

from .ansible_run import REPO, run_playbook
from .test_tls12 import results

AUDIT = REPO / "playbooks" / "audit.yml"
TASK = "Remove TLS_DHE (or other) suites from the cipher-suite list in force"
POLICY_VALUE = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002\\Functions"
PLAY = """---
- name: Cipher suites
  hosts: all
  gather_facts: false
  roles:
    - role: mssql.tls.cipher_suites
"""


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "cipher_suites.yml"
    path.write_text(PLAY)
    return path


def audit(lab, report_dir: Path) -> dict[str, dict]:
    """host -> {scenarios, findings (ids)} of a fresh check-mode audit."""
    proc, _recap = run_playbook(lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads((report_dir / "report.json").read_text())
    return {
        h["name"]: {"scenarios": set(h["scenarios"]), "findings": {f["id"] for f in h["findings"]}}
        for h in report["hosts"]
    }


def tls12_suites(lab, host: str) -> list[str]:
    """The suites the host's SQL Server accepts over TLS 1.2 now (the prober, on the wire)."""
    return probe_endpoint(lab.sql_endpoint(host), "tds")["cipher_suites"].get("TLS 1.2") or []


def test_dhe_goes_from_the_list_in_force_and_a_second_run_costs_one_command_and_changes_nothing(
    make_lab, playbook, tmp_path
) -> None:
    lab = make_lab("s3", "s5", "mixed-2012r2")
    proc, recap = run_playbook(lab.inventory, playbook, "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {h: c["changed"] for h, c in recap.items()} == dict.fromkeys(lab.hosts, 1)
    found = results(proc.stdout, TASK)
    assert found["s3"]["activations"] == ["immediate"] and found["s5"]["activations"] == ["immediate"]
    assert found["mixed-2012r2"]["activations"] == ["reboot"]  # the registry on 2012 R2
    assert "mixed-2012r2: the cipher-suite list takes effect at the next reboot" in proc.stdout
    after = audit(lab, tmp_path / "audit")
    for host in lab.hosts:
        assert not {2, 3, 5} & after[host]["scenarios"], (host, after[host])
    assert not [s for s in tls12_suites(lab, "s3") if s.startswith("TLS_DHE_")]  # immediate, on the wire

    lab.reset_stats()
    proc, recap = run_playbook(lab.inventory, playbook)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {c["changed"] for c in recap.values()} == {0}
    assert {host: counters["commands"] for host, counters in lab.stats().items()} == dict.fromkeys(
        lab.hosts, 1
    )


def test_check_mode_changes_nothing_and_diff_shows_each_suite(make_lab, playbook) -> None:
    lab = make_lab("s3", "mixed-2012r2", "s2")
    before = {host: lab.state(host) for host in lab.hosts}
    proc, recap = run_playbook(lab.inventory, playbook, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {host: lab.state(host) for host in lab.hosts} == before
    assert {h: c["changed"] for h, c in recap.items()} == dict.fromkeys(lab.hosts, 1)
    suite = json.dumps("Local cipher suite list: TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    assert f"-    {suite}: 4" in proc.stdout and f"+    {suite}: null" in proc.stdout
    assert json.dumps(POLICY_VALUE) in proc.stdout


def test_a_gpo_list_is_left_alone_under_refuse_and_under_warn_edited_then_activated_by_an_opt_in_reboot(
    make_lab, playbook, tmp_path
) -> None:
    lab = make_lab("s2")
    before = lab.state("s2")
    assert tls12_suites(lab, "s2") == []  # scenario 2: nothing for the RSA certificate

    proc, recap = run_playbook(lab.inventory, playbook, "-v", "-e", "cipher_suites_policy_owned=refuse")
    assert proc.returncode == 0, proc.stdout[-3000:]
    (blocked,) = results(proc.stdout, TASK)["s2"]["blocked"]
    assert blocked["code"] == "cipher_policy_gpo_refused" and not blocked["forced"]
    assert recap["s2"]["changed"] == 0 and lab.state("s2") == before

    # policy_owned: warn (the default), and the operator opted in to the reboot
    proc, recap = run_playbook(lab.inventory, playbook, "-v", "-e", "cipher_suites_reboot=true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = results(proc.stdout, TASK)["s2"]
    assert result["changed"] and result["reboot_required"] and result["activations"] == ["reboot"]
    warnings = {w["code"]: w["message"] for w in result["plan"]["warnings"]}
    assert "domain GPO must be changed too" in warnings["cipher_policy_gpo_owned"]
    assert "cipher_suites_restored" in warnings
    assert results(proc.stdout, "Reboot to activate the Policy or 2012 R2 list")["s2"]["rebooted"] is True
    after = audit(lab, tmp_path / "after")["s2"]
    assert not {2, 3, 5} & after["scenarios"], after
    served = tls12_suites(lab, "s2")
    assert served and all(s.startswith(("TLS_ECDHE_RSA_", "TLS_RSA_")) for s in served)


def test_edit_changes_a_gpo_list_without_the_gpo_warning_and_without_opt_in_the_reboot_stays_pending(
    make_lab, playbook, tmp_path
) -> None:
    lab = make_lab("s2")
    proc, _recap = run_playbook(lab.inventory, playbook, "-v", "-e", "cipher_suites_policy_owned=edit")
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = results(proc.stdout, TASK)["s2"]
    assert result["changed"] and result["blocked"] == []
    assert [w["code"] for w in result["plan"]["warnings"]] == ["cipher_suites_restored"]
    assert "domain GPO" not in proc.stdout
    assert "s2: the cipher-suite list takes effect at the next reboot (cipher_suites_reboot is false)" in (
        proc.stdout
    )
    assert 2 not in audit(lab, tmp_path / "audit")["s2"]["scenarios"]  # the configured list is fixed
    assert tls12_suites(lab, "s2") == []  # and Schannel still runs with the list it booted with
