"""Root conftest: what every test run needs, under plain pytest and under ansible-test units.

- ``ansible_collections.mssql.tls`` importable: ``make setup`` links this
  checkout as ``.ansible/collections/ansible_collections/mssql/tls``. Under
  ``ansible-test units`` that directory is absent from the staged copy and
  ansible-test's own collection loader provides the package instead.
- ``winlab`` (the simulated fleet, tests/lab/winlab) importable, and its
  pytest plugin (the ``lab`` fixtures) loaded.
- markers: ``ansible-test units`` runs pytest with its own ini file and
  ``--strict-markers``, so the markers declared in pyproject.toml are declared
  again here when that file was not the one pytest read.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

for _path in (ROOT / ".ansible" / "collections", ROOT / "tests" / "lab"):
    if _path.is_dir() and str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The lab engineer's plugin; the guard keeps the suite importable until it lands.
pytest_plugins = ["winlab.pytest_plugin"] if (ROOT / "tests/lab/winlab/pytest_plugin.py").is_file() else []


def pytest_configure(config):
    pyproject = ROOT / "pyproject.toml"
    if config.inipath == pyproject:
        return
    with pyproject.open("rb") as f:
        markers = tomllib.load(f)["tool"]["pytest"]["ini_options"].get("markers", [])
    for marker in markers:
        config.addinivalue_line("markers", marker)
