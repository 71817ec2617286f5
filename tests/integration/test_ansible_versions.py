"""The collection on the oldest ansible-core it admits (2.16) and on 2.18, against the lab.

meta/runtime.yml says ``requires_ansible: ">=2.16.0"``; the project's venv has 2.19.
ansible-core 2.18's winrm plugin re-encodes the agent's command line (double
-EncodedCommand, reference/ansible-winrm-wire.md section 1), a path 2.19 never takes.
Each version gets its own venv under tests/output/compat (kept between runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .ansible_run import REPO, ansible_env

COMPAT = Path(__file__).parent / "compat"
VENVS = REPO / "tests" / "output" / "compat"


def compat_venv(version: str) -> Path:
    requirements = COMPAT / f"requirements-{version}.txt"
    venv = VENVS / version
    stamp = venv / ".installed"
    if not stamp.is_file() or stamp.read_text() != requirements.read_text():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(requirements)], check=True, capture_output=True)
        stamp.write_text(requirements.read_text())
    return venv / "bin"


@pytest.mark.parametrize("version", ["2.16", "2.18"])
def test_the_audit_finds_the_same_scenarios_on_older_ansible_core(lab, tmp_path: Path, version: str) -> None:
    bin_dir = compat_venv(version)
    lab.reset_stats()
    proc = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            "-i",
            str(lab.inventory),
            str(REPO / "playbooks" / "audit.yml"),
            "--check",
            "-e",
            f"mssql_tls_report_dir={tmp_path}",
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert (
        f"core {version}."
        in subprocess.run(
            [str(bin_dir / "ansible"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert {h["name"]: h["scenarios"] for h in report["hosts"]} == lab.expected_scenarios()
    assert {host: s["commands"] for host, s in lab.stats().items()} == {host: 1 for host in lab.hosts}
