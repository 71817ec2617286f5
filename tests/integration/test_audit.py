"""The audit playbook on the whole lab fleet, in check mode, as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .ansible_run import REPO, run_playbook

AUDIT = REPO / "playbooks" / "audit.yml"
GATHER_OPS_PER_HOST = 1


def audit(lab, report_dir: Path, *extra: str):
    return run_playbook(lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}", *extra)


@pytest.fixture(scope="module")
def english_audit(lab, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("report-en")
    states_before = {host: lab.state(host) for host in lab.hosts}
    lab.reset_stats()
    proc, recap = audit(lab, report_dir)
    return {
        "proc": proc,
        "recap": recap,
        "dir": report_dir,
        "report": json.loads((report_dir / "report.json").read_text()),
        "stats": lab.stats(),
        "states_before": states_before,
    }


def test_check_mode_audit_writes_all_four_report_files(english_audit) -> None:
    assert english_audit["proc"].returncode == 0, english_audit["proc"].stdout[-4000:]
    written = sorted(p.name for p in english_audit["dir"].iterdir())
    assert written == ["junit.xml", "report.html", "report.json", "report.md"]


def test_every_profile_yields_exactly_its_expected_scenarios(lab, english_audit) -> None:
    found = {h["name"]: h["scenarios"] for h in english_audit["report"]["hosts"]}
    assert found == lab.expected_scenarios()


def test_the_compliant_host_has_no_finding_at_all(english_audit) -> None:
    compliant = next(h for h in english_audit["report"]["hosts"] if h["name"] == "compliant")
    assert compliant["findings"] == [] and compliant["error"] is None


def test_findings_carry_the_machine_fields(english_audit) -> None:
    for host in english_audit["report"]["hosts"]:
        for finding in host["findings"]:
            assert finding["severity"] in ("info", "low", "medium", "high")
            assert finding["scenario"] in (None, 1, 2, 3, 4, 5, 6)
            assert finding["id"] in english_audit["report"]["checks"]


def test_the_audit_costs_one_winrm_command_per_host(lab, english_audit) -> None:
    for host in lab.hosts:
        assert english_audit["stats"][host]["commands"] == GATHER_OPS_PER_HOST, host
        assert len(english_audit["stats"][host]["batches"]) == 1, host


def test_the_audit_changes_nothing_on_any_host(lab, english_audit) -> None:
    for host, before in english_audit["states_before"].items():
        assert lab.state(host) == before, host
    # The only change of a first audit is the new report on the controller (one run_once task).
    assert sum(counts["changed"] for counts in english_audit["recap"].values()) == 1


def test_a_second_audit_of_an_unchanged_fleet_reports_nothing_changed(lab, english_audit) -> None:
    proc, recap = audit(lab, english_audit["dir"])
    assert proc.returncode == 0
    assert {counts["changed"] for counts in recap.values()} == {0}


def test_fail_on_high_fails_the_play_after_writing_the_report(lab, tmp_path) -> None:
    proc, recap = audit(lab, tmp_path, "-e", "mssql_tls_audit_fail_on=high", "--limit", "s4,compliant")
    assert proc.returncode != 0
    assert "mssql_tls_audit_fail_on" in proc.stdout
    assert (tmp_path / "report.json").is_file()
    assert sum(c["failed"] for c in recap.values()) == 1


def test_fail_on_is_not_triggered_below_the_threshold(lab, tmp_path) -> None:
    proc, _recap = audit(lab, tmp_path, "-e", "mssql_tls_audit_fail_on=high", "--limit", "compliant")
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_an_unreachable_host_is_reported_with_its_error(lab, tmp_path) -> None:
    proc, _recap = audit(lab, tmp_path, "--limit", "s3", "-e", "ansible_password=wrong-password")
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    (s3,) = report["hosts"]
    assert s3["error"] and s3["findings"] == []
    assert report["summary"]["unreachable"] == 1


def test_japanese_report_keeps_ids_and_scenarios_and_uses_the_article_terms(
    lab, english_audit, tmp_path
) -> None:
    proc, _recap = audit(lab, tmp_path, "-e", "mssql_tls_report_lang=ja")
    assert proc.returncode == 0, proc.stdout[-3000:]
    ja = json.loads((tmp_path / "report.json").read_text())

    def machine_view(report):
        return {
            h["name"]: sorted((f["id"], f["scenario"], f["severity"]) for f in h["findings"])
            for h in report["hosts"]
        }

    assert machine_view(ja) == machine_view(english_audit["report"])
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "シナリオ 1: クライアントとサーバーの間に一致する TLS プロトコルが存在しない" in md
    assert "暗号スイート" in md
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in html and "シナリオ" in html
