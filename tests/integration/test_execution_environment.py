"""`ansible-builder create` writes the build context of execution-environment.yml (AWX/AAP).

No container engine is needed (or used): `create` only writes the context. The collection comes
from a tarball built here from the checkout's files (the way .ci/stage-collection copies them),
so no Galaxy server is involved. ansible-builder is a pinned development requirement
(requirements-dev.txt): when it is missing the test fails, it is not skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = REPO / "execution-environment.yml"


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _tool(name: str) -> Path:
    path = BIN / name
    assert path.is_file(), f"{path} is missing: run `make setup` (requirements-dev.txt pins ansible-builder)"
    return path


@pytest.fixture(scope="module")
def galaxy() -> dict:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, galaxy: dict) -> Path:
    """The build context, from a copy of the EE definition next to a freshly built collection."""
    work = tmp_path_factory.mktemp("ee")
    stage = work / "src" / "ansible_collections" / galaxy["namespace"] / galaxy["name"]
    listed = _run("git", "ls-files", "-z", "-co", "--exclude-standard", cwd=REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, stage / name)
    project = work / "project"
    (project / "build").mkdir(parents=True)
    _run(_tool("ansible-galaxy"), "collection", "build", "--output-path", project / "build", stage, cwd=work)
    # The definition as it is, with the files it names at the same relative paths.
    shutil.copy2(EE_FILE, project / EE_FILE.name)
    shutil.copytree(REPO / "meta", project / "meta")
    out = work / "context"
    _run(
        _tool("ansible-builder"),
        "create",
        "--file",
        project / EE_FILE.name,
        "--context",
        out,
        "--output-filename",
        "Containerfile",
        cwd=project,
    )
    return out


def test_the_definition_is_version_3_and_names_the_collection_at_galaxys_version(galaxy: dict) -> None:
    definition = yaml.safe_load(EE_FILE.read_text())
    assert definition["version"] == 3
    tarball = f"mssql-tls-{galaxy['version']}.tar.gz"
    assert definition["additional_build_files"] == [{"src": f"build/{tarball}", "dest": "collections"}]
    assert definition["dependencies"]["galaxy"] == {
        "collections": [{"name": f"collections/{tarball}", "type": "file"}]
    }


def test_the_context_holds_the_collection_tarball(context: Path, galaxy: dict) -> None:
    tarball = context / "_build" / "collections" / f"mssql-tls-{galaxy['version']}.tar.gz"
    assert tarball.is_file()
    with tarfile.open(tarball) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        names = set(tar.getnames())
    assert (info["namespace"], info["name"], info["version"]) == ("mssql", "tls", galaxy["version"])
    assert {"plugins/plugin_utils/agent/agent.ps1", "meta/execution-environment.yml"} <= names
    assert {"meta/ee-requirements.txt", "meta/ee-bindep.txt"} <= names
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {
        "collections": [{"name": f"collections/mssql-tls-{galaxy['version']}.tar.gz", "type": "file"}]
    }


def test_the_context_holds_pywinrm_with_kerberos_and_credssp_and_their_system_packages(context: Path) -> None:
    python = (context / "_build" / "requirements.txt").read_text().splitlines()
    assert "pywinrm[kerberos,credssp]>=0.5.0" in python
    assert "cryptography>=41.0" in python
    system = (context / "_build" / "bindep.txt").read_text()
    assert "krb5-devel [compile platform:rpm]" in system and "krb5-libs [platform:rpm]" in system


def test_the_containerfile_installs_the_collection_and_ansible_core(context: Path) -> None:
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "ansible-core==2.19.14" in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    assert "introspect.py introspect" in containerfile


def test_ansible_builder_reads_the_same_requirements_from_the_installed_collection(
    context: Path, tmp_path: Path, galaxy: dict
) -> None:
    # What the builder stage does in the image: introspect the installed collections.
    tarball = context / "_build" / "collections" / f"mssql-tls-{galaxy['version']}.tar.gz"
    # --force: ansible-galaxy skips the install when mssql.tls of this version is already in any
    # configured collections path (another test may have put it there), leaving tmp_path empty.
    _run(
        _tool("ansible-galaxy"),
        "collection",
        "install",
        "--offline",
        "--force",
        "-p",
        tmp_path,
        tarball,
        cwd=tmp_path,
    )
    pip_out, bindep_out = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    _run(
        sys.executable,
        context / "_build" / "scripts" / "introspect.py",
        "introspect",
        tmp_path,
        "--write-pip",
        pip_out,
        "--write-bindep",
        bindep_out,
        cwd=tmp_path,
    )
    assert "pywinrm[kerberos,credssp]>=0.5.0  # from collection mssql.tls" in pip_out.read_text()
    assert "krb5-devel [compile platform:rpm]  # from collection mssql.tls" in bindep_out.read_text()
