"""Fleets larger than the profile directory: N clones of each profile (``python -m winlab up --copies N``).

A copy is the same Windows host cloned: the profile's YAML with another inventory name
(``<name>-<k>``), the original's computer name and FQDN (so certificate names, the SQL
Server certificate choice and every expected scenario stay what the profile says), and
its certificates' key pairs shared between the copies of one profile (``shared_key``), so
a 500-host lab does not generate 500 sets of RSA keys. Each copy is its own host: its own
address, WinRM endpoint, state file and counters.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import LabError


def copy_profile(doc: dict[str, Any], index: int, copies: int) -> dict[str, Any]:
    """Copy ``index`` (1-based) of ``copies`` of a profile document."""
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise LabError("--copies: a profile without a name cannot be copied")
    width = len(str(copies))
    copy = dict(doc)
    copy["name"] = f"{name}-{index:0{width}d}"
    copy["computer_name"] = doc.get("computer_name", name.upper())
    copy["fqdn"] = doc.get("fqdn", f"{name}.lab.example.com")
    certificates = doc.get("certificates")
    if isinstance(certificates, list):
        copy["certificates"] = [
            {**cert, "shared_key": cert.get("shared_key") or f"copies-of-{name}--{cert.get('name')}"}
            if isinstance(cert, dict)
            else cert
            for cert in certificates
        ]
    return copy


def replicate_profiles(profiles: Sequence[Path], copies: int, out_dir: Path) -> list[Path]:
    """Write ``copies`` clones of every profile into ``out_dir`` (emptied first); returns their paths.

    ``copies`` 1 returns the profiles as they are.
    """
    if copies < 1:
        raise LabError(f"--copies: expected 1 or more, got {copies}")
    if copies == 1:
        return list(profiles)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    written = []
    for path in profiles:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise LabError(f"--copies: {path} is not a profile (a YAML mapping)")
        for index in range(1, copies + 1):
            copy = copy_profile(doc, index, copies)
            target = out_dir / f"{copy['name']}.yml"
            if target.exists():
                raise LabError(f"--copies: two profiles make the copy {copy['name']!r}")
            header = (
                f"# Copy {index} of {copies} of {Path(path).name} (python -m winlab up --copies): the same\n"
                "# host cloned, with its own inventory name and address; that profile says what is wrong.\n"
            )
            target.write_text(header + yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
            written.append(target)
    return written
