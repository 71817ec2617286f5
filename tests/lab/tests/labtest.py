"""Helpers for winlab's own tests: import paths, hosts from inline profiles, agent batches.

The collection's client is imported only to *build* real agent batches; winlab
itself never imports the collection.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

LAB_DIR = Path(__file__).resolve().parents[1]
REPO = LAB_DIR.parents[1]
PROFILES = LAB_DIR / "profiles"
for extra in (LAB_DIR, REPO / ".ansible" / "collections"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ansible_collections.mssql.tls.plugins.plugin_utils.agent import client  # noqa: E402
from winlab import build, certs, journal  # noqa: E402
from winlab.host import LabHost, load_fleet  # noqa: E402
from winlab.model import HostState  # noqa: E402
from winlab.profiles import parse_profile  # noqa: E402
from winlab.runtime import CommandOutcome, Knobs  # noqa: E402
from winlab.sqlserver import LabClock  # noqa: E402

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
AGENT = b"# stand-in agent script for lab tests\n"

__all__ = ["NOW", "PROFILES", "Knobs", "LabHost", "build", "certs", "load_fleet"]


def base_profile(**overrides: Any) -> dict[str, Any]:
    """A small Server 2019 + SQL 2019 host; tests override what they examine."""
    doc: dict[str, Any] = {
        "name": "t1",
        "os": {"build": 17763, "ubr": 6893},
        "certificates": [
            {"name": "good", "subject_cn": "t1.lab.example.com", "sans": ["t1.lab.example.com"]}
        ],
        "sql_instances": [
            {
                "name": "MSSQLSERVER",
                "id": "MSSQL15.MSSQLSERVER",
                "version": "15.0.4395.2",
                "port": 1433,
                "certificate": "good",
            }
        ],
        "expect_scenarios": [],
    }
    doc.update(overrides)
    return doc


def make_state(doc: dict[str, Any], keys: certs.KeyCache, now: dt.datetime = NOW) -> HostState:
    return build.build_host(parse_profile(doc, "inline"), now, keys)


def clock(keys: certs.KeyCache, now: dt.datetime = NOW) -> LabClock:
    return LabClock(now=lambda: now, keys=keys)


def make_host(doc: dict[str, Any], state_dir: Path, keys: certs.KeyCache, now: dt.datetime = NOW) -> LabHost:
    profile = parse_profile(doc, "inline", digest="inline")
    return LabHost(profile, state_dir / "hosts" / f"{profile.name}.json", keys, now, clock=lambda: now)


def run(
    host: LabHost,
    ops: list[dict[str, Any]],
    journal_id: str | None = "rec-1",
    knobs: Knobs | None = None,
    raw: bool = False,
) -> tuple[CommandOutcome, dict[str, Any]]:
    """Run one batch built with the collection's client; returns (outcome, response JSON).

    A batch starts a new journal record (the agent refuses an existing one): when the record
    already exists on the host, the batch gets the next free ``<id>.<n>``.
    """
    if journal_id is not None:
        journal_id = _free_record(host, journal_id)
    if raw:
        request: dict[str, Any] = {"v": 1, "ops": ops}
        if journal_id:
            request["journal"] = {"id": journal_id, "line": '{"t":"test"}'}
    else:
        journal = None if journal_id is None else {"id": journal_id, "line": '{"t":"test"}'}
        request = client.build_request(ops, journal)
    command, stdin = client.build_command(request, script=AGENT)
    outcome = host.run_command(command, stdin, knobs or Knobs())
    doc = json.loads(outcome.stdout) if outcome.stdout else {}
    return outcome, doc


def _free_record(host: LabHost, record: str) -> str:
    if not journal.valid_record_id(record):
        return record  # a test of a malformed id: the lab must see it as it is
    candidate, n = record, 1
    while host.state.file(journal.record_path(host.state, candidate)) is not None:
        n += 1
        candidate = f"{record}.{n}"
    return candidate


def data(doc: dict[str, Any], index: int = 0) -> Any:
    result = doc["results"][index]
    assert result["ok"], result
    return result["data"]


def error_kind(doc: dict[str, Any], index: int) -> str:
    result = doc["results"][index]
    assert not result["ok"], result
    return result["error"]["kind"]


# ---- fixtures (imported by the test modules, so no conftest is needed) ----------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> certs.KeyCache:
    """One key cache for the whole session: RSA key generation is the slow part."""
    return certs.KeyCache(tmp_path_factory.mktemp("winlab-keys"))


@pytest.fixture
def host(tmp_path: Path, keys: certs.KeyCache) -> LabHost:
    return make_host(base_profile(), tmp_path, keys)
