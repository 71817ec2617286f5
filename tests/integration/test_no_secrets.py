"""No output of the collection carries the connection's credentials.

On a lab host, the audit (with its four report files), the tls12 role and the rollback run
with -vvv, as an operator debugging a run would. The lab's WinRM password (random per lab,
from its inventory) must then appear nowhere: not in ansible-playbook's stdout or stderr, not
in the reports, not in the host's state or the journal records the runs left on it. The
password is searched as written and in the forms it travels in (HTTP basic authorization,
UTF-16LE, PowerShell's base64 of it).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from winlab.testing import PROFILES_DIR, running_lab

from .ansible_run import REPO, run_playbook

AUDIT = REPO / "playbooks" / "audit.yml"
TLS12 = REPO / "tests" / "integration" / "playbooks" / "tls12.yml"
ROLLBACK = REPO / "playbooks" / "rollback.yml"
HOST = "s5"  # 2016 with TLS 1.0/1.1 on by default: tls12 changes it, rollback undoes it


def secret_forms(user: str, password: str) -> list[bytes]:
    return [
        password.encode(),
        password.encode("utf-16-le"),
        base64.b64encode(f"{user}:{password}".encode()),  # the basic auth header
        base64.b64encode(password.encode()),
        base64.b64encode(password.encode("utf-16-le")),
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("no-secrets-report")
    with running_lab([PROFILES_DIR / f"{HOST}.yml"]) as lab:
        connection = lab.windows_group()["vars"]
        outputs, changed = {}, {}
        for name, playbook, extra in (
            ("audit", AUDIT, ("--check", "-e", f"mssql_tls_report_dir={report_dir}")),
            ("tls12", TLS12, ()),
            ("rollback", ROLLBACK, ()),
        ):
            proc, recap = run_playbook(lab.inventory, playbook, "-vvv", *extra)
            assert proc.returncode == 0, (name, proc.stdout[-3000:])
            outputs[name] = (proc.stdout + proc.stderr).encode()
            changed[name] = recap[HOST]["changed"]
        state = json.dumps(lab.state(HOST), ensure_ascii=False).encode()
    files = {path.name: path.read_bytes() for path in Path(report_dir).iterdir()}
    return {
        "secrets": secret_forms(connection["ansible_user"], connection["ansible_password"]),
        "outputs": outputs,
        "changed": changed,
        "reports": files,
        "state": state,
    }


def test_the_runs_did_what_they_do(runs) -> None:
    assert sorted(runs["reports"]) == ["junit.xml", "report.html", "report.json", "report.md"]
    assert b"ESTABLISH WINRM CONNECTION" in runs["outputs"]["tls12"]  # -vvv shows the connection
    assert runs["changed"]["tls12"] == runs["changed"]["rollback"] == 1  # a write run and its undo
    # the journal records of the tls12 run and of its rollback are on the host
    assert runs["state"].count(b"mssql.tls\\\\journal\\\\") >= 2


@pytest.mark.parametrize("run", ["audit", "tls12", "rollback"])
def test_no_verbose_output_carries_the_password(runs, run) -> None:
    found = [form for form in runs["secrets"] if form in runs["outputs"][run]]
    assert found == [], f"{run}: the password appears in -vvv output"


def test_no_report_file_carries_the_password(runs) -> None:
    for name, content in runs["reports"].items():
        assert not [form for form in runs["secrets"] if form in content], name


def test_neither_the_host_state_nor_its_journal_carries_the_password(runs) -> None:
    assert not [form for form in runs["secrets"] if form in runs["state"]]
