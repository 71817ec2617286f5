"""SQL Server versions and the KB3135244 TLS 1.2 verdict, branch-aware.

A plain ``build >= threshold`` per major.minor is wrong for 2012 and 2014: GDR and
CU builds interleave (2014 SP1 CU1 12.0.4416 is above the SP1 GDR threshold but
has no TLS 1.2). Each build is first placed in its servicing branch, then compared
with that branch's first TLS 1.2 build (reference/sqlserver-tls.md 7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SqlVersion = tuple[int, int, int, int]

# ASCII digits, at most 9 per part: a part of thousands of digits (int() refuses more than 4300)
# is not a version.
_VERSION = re.compile(r"^\s*([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})(?![0-9])(?:\.([0-9]{1,9})(?![0-9]))?")


def parse_version(text: str | None) -> SqlVersion | None:
    match = _VERSION.match(text or "")
    if not match:
        return None
    return int(match[1]), int(match[2]), int(match[3]), int(match[4] or 0)


def normalise_setup_version(text: str | None) -> SqlVersion | None:
    """``Setup\\PatchLevel`` with the minor part rounded down to a multiple of ten, as
    dbatools does before a lookup (``12.1.4100.1`` -> ``12.0.4100.1``; section 1)."""
    version = parse_version(text)
    if version is None:
        return None
    major, minor, build, revision = version
    return major, minor - minor % 10, build, revision


def version_text(version: SqlVersion | None) -> str | None:
    return ".".join(str(p) for p in version) if version else None


@dataclass(frozen=True)
class Branch:
    name: str
    low: tuple[int, int]  # first build, revision of the branch (inclusive)
    high: tuple[int, int]  # first build of the next branch (exclusive)
    first_tls12: tuple[int, int] | None  # None: no TLS 1.2 build exists in this branch


# (major, minor) -> branches. Server 2012 R2 and later never run on IA-64, so the
# IA-64 rows of KB3135244 are left out (inference).
_BRANCHES: dict[tuple[int, int], tuple[Branch, ...]] = {
    (12, 0): (
        Branch("2014 RTM GDR", (2000, 0), (2300, 0), (2271, 0)),
        Branch("2014 RTM CU", (2300, 0), (3000, 0), (2564, 0)),
        Branch("2014 SP1 GDR", (4100, 0), (4400, 0), (4219, 0)),
        Branch("2014 SP1 CU", (4400, 0), (5000, 0), (4439, 1)),
        Branch("2014 SP2 and later", (5000, 0), (1 << 30, 0), (5000, 0)),
    ),
    (11, 0): (
        Branch("2012 RTM/SP1", (0, 0), (5000, 0), None),
        Branch("2012 SP2 GDR", (5000, 0), (5500, 0), (5352, 0)),
        Branch("2012 SP2 CU", (5500, 0), (6000, 0), (5644, 2)),
        Branch("2012 SP3 GDR", (6000, 0), (6500, 0), (6216, 27)),
        Branch("2012 SP3 CU", (6500, 0), (7001, 0), (6518, 0)),
        Branch("2012 SP4 and later", (7001, 0), (1 << 30, 0), (7001, 0)),
    ),
    (10, 50): (
        Branch("2008 R2 before SP3", (0, 0), (6000, 0), None),
        Branch("2008 R2 SP3", (6000, 0), (1 << 30, 0), (6542, 0)),
    ),
    (10, 0): (
        Branch("2008 before SP4", (0, 0), (6000, 0), None),
        Branch("2008 SP4", (6000, 0), (1 << 30, 0), (6547, 0)),
    ),
}


def tls12_verdict(version: SqlVersion | None) -> dict[str, Any]:
    """{supported: bool|None, branch, reason, first_tls12_build} for a SQL Server build."""

    def verdict(supported: bool | None, branch: str | None, reason: str, first: str | None = None) -> dict:
        return {"supported": supported, "branch": branch, "reason": reason, "first_tls12_build": first}

    if version is None:
        return verdict(None, None, "unknown_version")
    major, minor, build, revision = version
    if major >= 13:
        return verdict(True, None, "supported_from_rtm")
    if major < 10:
        return verdict(False, None, "before_sql_2008")
    branches = _BRANCHES.get((major, minor))
    if branches is None:
        return verdict(False, None, "unknown_branch")
    for branch in branches:
        if branch.low <= (build, revision) < branch.high:
            if branch.first_tls12 is None:
                return verdict(False, branch.name, "no_tls12_build_in_branch")
            first = f"{major}.{minor}.{branch.first_tls12[0]}.{branch.first_tls12[1]}"
            ok = (build, revision) >= branch.first_tls12
            return verdict(ok, branch.name, "build_has_tls12" if ok else "build_below_branch_minimum", first)
    return verdict(False, None, "unknown_branch")
