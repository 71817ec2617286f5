"""Activation the audit can see: a Schannel change waits for its reboot, and the audit says so.

Before the reboot the facts show the configured state (TLS 1.0/1.1 off on the server side) and
the prober the live one (still accepted); the audit reports `reboot_pending`, neither "fixed" nor
"broken". After the opt-in reboot the prober refuses TLS 1.0/1.1 and nothing is pending.
"""

from __future__ import annotations

import json
from pathlib import Path

from .ansible_run import REPO, run_playbook
from .test_probe_cli import lab_endpoint, probe_json
from .test_tls12 import TLS12

AUDIT = REPO / "playbooks" / "audit.yml"


def audit(lab, report_dir: Path) -> dict:
    proc, _recap = run_playbook(lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((report_dir / "report.json").read_text())


def finding_ids(report: dict, host: str) -> set[str]:
    return {f["id"] for h in report["hosts"] if h["name"] == host for f in h["findings"]}


def offered(lab, host: str, out: Path) -> dict[str, object]:
    _proc, result = probe_json(lab_endpoint(lab, host), out, "--mode", "tds")
    return result["protocols"]


def test_without_the_reboot_the_audit_reports_it_pending_and_clients_still_see_the_old_protocols(
    make_lab, tmp_path
) -> None:
    lab = make_lab("s5")  # 2016, TLS 1.0/1.1 on by default, a SQL build with TLS 1.2
    assert offered(lab, "s5", tmp_path / "before.json")["TLS 1.0"] is True

    proc, _recap = run_playbook(lab.inventory, TLS12)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "the Schannel changes take effect at the next reboot" in proc.stdout

    report = audit(lab, tmp_path / "pending")
    assert "reboot_pending" in finding_ids(report, "s5")
    assert offered(lab, "s5", tmp_path / "pending.json")["TLS 1.0"] is True  # the live state

    proc, _recap = run_playbook(lab.inventory, TLS12, "-e", "tls12_reboot=true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    protocols = offered(lab, "s5", tmp_path / "after.json")
    assert (protocols["TLS 1.0"], protocols["TLS 1.1"], protocols["TLS 1.2"]) == (False, False, True)
    assert "reboot_pending" not in finding_ids(audit(lab, tmp_path / "after"), "s5")
