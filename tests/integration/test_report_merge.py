"""Job slicing: the audits of three slices of the lab, merged by audit_report, are the single run's report.

The pairing fleet (client hosts and the SQL Servers they connect to) is left out: fleet pairing
needs every host's facts in one run, and a slice only sees its own hosts (docs/scaling.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .ansible_run import REPO, run_playbook

AUDIT = REPO / "playbooks" / "audit.yml"

MERGE = """\
- name: Merge the slices' reports
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Merge
      mssql.tls.audit_report:
        merge_reports: "{{ slices }}"
        dest: "{{ fleet_dir }}"
        lang: "{{ lang | default('en') }}"
      register: merged

    - name: Show the result
      ansible.builtin.debug:
        msg: "{{ merged | to_json }}"
"""


def audit(lab, report_dir: Path, *extra: str) -> None:
    proc, _recap = run_playbook(
        lab.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}", *extra
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def merge(lab, tmp: Path, slices: list[Path], fleet_dir: Path, *extra: str):
    playbook = tmp / "merge.yml"
    playbook.write_text(MERGE)
    extra_vars = json.dumps({"slices": [str(s) for s in slices], "fleet_dir": str(fleet_dir)})
    return run_playbook(lab.inventory, playbook, "-e", extra_vars, *extra)


# Clients and the servers they pair with (tests/lab/profiles, groups / expect_pairs).
PAIRING_FLEET = {"app2012r2", "app2016old", "sql2019dhe", "sql2022gcm"}


def without_time(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "generated_utc"}


@pytest.fixture(scope="module")
def runs(lab, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("merge")
    single = tmp / "single"
    names = sorted(set(lab.hosts) - PAIRING_FLEET)
    audit(lab, single, "--limit", ",".join(names))
    slices = []
    for index in range(3):
        part = names[index::3]
        slices.append(tmp / f"slice-{index + 1}")
        audit(lab, slices[-1], "--limit", ",".join(part))
    fleet = tmp / "fleet"
    proc, recap = merge(lab, tmp, [slices[0], slices[1] / "report.json", slices[2]], fleet)
    return {"tmp": tmp, "single": single, "slices": slices, "fleet": fleet, "proc": proc, "recap": recap}


def test_three_slices_merge_into_the_report_of_one_run(runs) -> None:
    assert runs["proc"].returncode == 0, runs["proc"].stdout[-3000:]
    single = json.loads((runs["single"] / "report.json").read_text())
    parts = [json.loads((s / "report.json").read_text()) for s in runs["slices"]]
    merged = json.loads((runs["fleet"] / "report.json").read_text())
    assert all(0 < p["summary"]["hosts"] < single["summary"]["hosts"] for p in parts)
    assert without_time(merged) == without_time(single)
    assert merged["generated_utc"] == max(p["generated_utc"] for p in parts)
    assert sorted(p.name for p in runs["fleet"].iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]


def test_merging_again_changes_nothing(lab, runs) -> None:
    proc, recap = merge(lab, runs["tmp"], runs["slices"], runs["fleet"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap["localhost"]["changed"] == 0


def test_a_slice_missing_or_in_another_language_is_refused(lab, runs) -> None:
    proc, _recap = merge(lab, runs["tmp"], [*runs["slices"], runs["tmp"] / "nowhere"], runs["tmp"] / "x")
    assert proc.returncode != 0 and "merge_reports: cannot read" in proc.stdout
    proc, _recap = merge(lab, runs["tmp"], runs["slices"], runs["tmp"] / "y", "-e", "lang=ja")
    assert proc.returncode != 0 and "the slices' reports are in 'en'" in proc.stdout
