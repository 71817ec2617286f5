"""Fail when a pytest run did not really run the suites it was meant to.

    python .ci/check_junit.py REPORT.xml [--suite DIR ...] [--fail-on-skip]

REPORT.xml is pytest's --junitxml output in the xunit1 family (it carries each
test's file). Every suite directory (default: pyproject's pytest testpaths)
must have at least one test that ran: a missing, renamed or wholly skipped
suite is a failure, not a quiet success. With --fail-on-skip (CI, where every
tool the tests need is installed) a skipped test is a failure too; deselect
tests that cannot run here with a marker instead (see pyproject.toml).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent


def default_suites() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["tool"]["pytest"]["ini_options"]["testpaths"]


def skip_reason(case: ET.Element) -> str | None:
    """The skip message of a skipped test; None when it ran (an xfail ran)."""
    skipped = case.find("skipped")
    if skipped is None or skipped.get("type") == "pytest.xfail":
        return None
    return skipped.get("message", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--suite", action="append", dest="suites")
    parser.add_argument("--fail-on-skip", action="store_true")
    args = parser.parse_args()
    suites = args.suites or default_suites()

    if not args.report.is_file():
        print(f"FAIL: no report {args.report}: the run selected no test at all")
        return 1
    cases = list(ET.parse(args.report).getroot().iter("testcase"))
    if any(case.get("file") is None for case in cases):
        print(f"{args.report}: testcases carry no 'file' attribute; run pytest with -o junit_family=xunit1")
        return 1

    ran: Counter[str] = Counter()
    skipped = []
    for case in cases:
        suite = next((s for s in suites if PurePosixPath(case.get("file", "")).is_relative_to(s)), None)
        reason = skip_reason(case)
        if reason is not None:
            skipped.append(f"{case.get('file')}::{case.get('name')}: {reason}")
        elif suite:
            ran[suite] += 1

    problems = [f"suite {suite} ran no test" for suite in suites if not ran[suite]]
    for line in skipped:
        print(f"skipped: {line}")
    if skipped and args.fail_on_skip:
        problems.append(f"{len(skipped)} test(s) skipped (not allowed here: see above)")

    print("tests that ran per suite: " + ", ".join(f"{s}={ran[s]}" for s in suites))
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
