"""Check the collection artifact that `ansible-galaxy collection build` wrote.

    python .ci/check_artifact.py build/mssql-tls-<version>.tar.gz SOURCE_DIR

SOURCE_DIR is the tree it was built from (.ci/stage-collection).
- it carries the collection (plugins, meta/runtime.yml, docs, README, LICENSE,
  requirements.txt) and every file of the source's plugins, meta, docs, roles, playbooks;
- it carries none of the development tree (tests, lab, bench, venvs, CI, molecule,
  tool configs, caches);
- MANIFEST.json names mssql.tls at galaxy.yml's version;
- installed offline into an empty path, ansible-doc reads every module's docs from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent

REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "LICENSE", "requirements.txt", "meta/runtime.yml"]
REQUIRED_DIRS = ["plugins/", "docs/"]
SHIPPED_DIRS = ["plugins", "meta", "docs", "roles", "playbooks"]
FORBIDDEN_TOP = {
    "tests", "bench", "extensions", "build", "Makefile", "pyproject.toml", "requirements-dev.txt",
    "ansible.cfg", ".venv", ".ansible", ".ci", ".git", ".github", ".gitignore", ".lab",
    ".ansible-lint", ".yamllint",
}
FORBIDDEN_ANYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def shipped_files(source: Path) -> set[str]:
    return {
        path.relative_to(source).as_posix()
        for top in SHIPPED_DIRS
        for path in (source / top).rglob("*")
        if path.is_file()
    }


def content_problems(names: set[str], source: Path) -> list[str]:
    problems = [f"missing {name}" for name in REQUIRED if name not in names]
    problems += [f"nothing under {d}" for d in REQUIRED_DIRS if not any(n.startswith(d) for n in names)]
    for name in sorted(names):
        parts = name.split("/")
        if parts[0] in FORBIDDEN_TOP or FORBIDDEN_ANYWHERE.intersection(parts) or name.endswith(".pyc"):
            problems.append(f"must not ship {name}")
    problems += [f"{p} is not in the artifact" for p in sorted(shipped_files(source) - names)]
    return problems


def manifest_problems(tar: tarfile.TarFile, source: Path) -> list[str]:
    info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    galaxy = yaml.safe_load((source / "galaxy.yml").read_text())
    want = {k: galaxy[k] for k in ("namespace", "name", "version")}
    got = {k: info[k] for k in want}
    return [] if got == want else [f"MANIFEST.json says {got}, galaxy.yml says {want}"]


def install_problems(artifact: Path, modules: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        # only the installed copy is visible: no project ansible.cfg, no other collection path
        env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
        env["ANSIBLE_COLLECTIONS_PATH"] = tmp
        run = [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", tmp, str(artifact)]
        result = subprocess.run(run, env=env, cwd=tmp, capture_output=True, text=True, check=False)
        if result.returncode:
            return [f"ansible-galaxy collection install failed:\n{result.stdout}{result.stderr}"]
        if not modules:
            return []
        names = [f"mssql.tls.{m}" for m in modules]
        doc = [str(BIN / "ansible-doc"), "--json", "-t", "module", *names]
        result = subprocess.run(doc, env=env, cwd=tmp, capture_output=True, text=True, check=False)
        if result.returncode:
            return [f"ansible-doc failed on the installed artifact:\n{result.stderr}"]
        found = set(json.loads(result.stdout))
        return [f"ansible-doc found no docs for {name}" for name in names if name not in found]


def main() -> int:
    artifact, source = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with tarfile.open(artifact) as tar:
        names = {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}
        problems = content_problems(names, source) + manifest_problems(tar, source)
    modules = sorted(
        Path(n).stem for n in names if n.startswith("plugins/modules/") and n.endswith(".py")
        and not Path(n).name.startswith("_")
    )
    if not problems:
        problems = install_problems(artifact, modules)
    for problem in problems:
        print(f"FAIL: {artifact.name}: {problem}")
    if not problems:
        print(f"{artifact.name}: {len(names)} files, {len(modules)} module docs load after install: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
