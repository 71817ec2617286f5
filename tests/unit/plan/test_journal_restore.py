"""Which run a rollback restores: the given one, else the newest that changed something, not restored yet."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult, OpResult
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import records_by_run
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.restore import (
    NothingToRestore,
    choose_run,
    restore_run,
)

OLD, NEW, LATEST = "20261201T010000Z-aaaaaa", "20261205T010000Z-bbbbbb", "20261207T010000Z-cccccc"
NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC)


def raw(run, module="schannel_protocols", applied=True, **header):
    head = {"v": 1, "run": run, "module": module, "ops": [{}], **header}
    lines = [json.dumps(head), *(['{"applied":0}'] if applied else []), '{"done":true,"stopped_at":null}']
    return {"id": f"{run}.{module}.1", "lines": lines}


def test_the_newest_run_that_changed_something_is_chosen():
    runs = records_by_run([raw(OLD), raw(NEW), raw(LATEST, applied=False)])
    assert choose_run(runs, None) == NEW


def test_a_run_already_rolled_back_is_skipped():
    runs = records_by_run([raw(OLD), raw(NEW), raw(LATEST, module="rollback", rolls_back=NEW)])
    assert choose_run(runs, None) == OLD


def test_a_given_run_must_exist_on_the_host():
    runs = records_by_run([raw(OLD)])
    assert choose_run(runs, OLD) == OLD
    with pytest.raises(NothingToRestore, match=f"no journal records of run {NEW}.*{OLD}"):
        choose_run(runs, NEW)


def test_nothing_to_roll_back_is_a_clear_error():
    with pytest.raises(NothingToRestore, match=r"no run of mssql\.tls changed anything"):
        choose_run(records_by_run([raw(OLD, applied=False)]), None)


def cut(run, module="rollback", done=None, **header):
    """A record whose batch was cut off (no "done" line) or stopped at op ``done``'s index."""
    head = {"v": 1, "run": run, "module": module, "ops": [{}, {}], **header}
    end = [] if done is None else [json.dumps({"done": True, "stopped_at": done})]
    return {"id": f"{run}.{module}.1", "lines": [json.dumps(head), '{"applied":0}', *end]}


def test_a_rollback_cut_off_or_stopped_leaves_its_run_to_the_next_rollback():
    # issue 12: the connection dropped in the restore batch (no "done" line), or an op failed in it
    for rollback in (cut(LATEST, rolls_back=NEW), cut(LATEST, done=1, rolls_back=NEW)):
        assert choose_run(records_by_run([raw(OLD), raw(NEW), rollback]), None) == NEW


def test_activation_and_restore_records_do_not_make_a_run_to_roll_back():
    # rollback.yml's own reboot and restart, under the rollback's run id, and sql_service's undo of
    # a binding that failed to start: none changed a setting, so the older run is the one chosen
    runs = records_by_run(
        [
            raw(OLD),
            raw(NEW, module="reboot", kind="activation"),
            raw(NEW, module="sql_service", kind="activation"),
            raw(LATEST, module="sql_service", kind="restore", restores=OLD),
        ]
    )
    assert choose_run(runs, None) == OLD


NETLIB = (
    "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL14.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib"
)


def binding_entry(before: str, after: str) -> dict:
    target = {"kind": "reg_value", "path": NETLIB, "name": "Certificate"}
    return {
        "op": {
            "op": "reg.write",
            "path": NETLIB,
            "name": "Certificate",
            "type": "REG_SZ",
            "value": {"data": after},
        },
        "target": target,
        "before": {"type": "REG_SZ", "data": before},
        "after": {"type": "REG_SZ", "data": after},
        "creates_keys": [],
        "change": {
            "target": f"{NETLIB}\\Certificate",
            "before": before,
            "after": after,
            "activation": "immediate",
        },
    }


def test_rolling_back_a_run_whose_binding_failed_to_start_never_writes_that_binding_again():
    # The run bound 'nokey' (apply record); SQL Server did not start, and sql_service put '' back
    # (its restore record). The binding is as before the run: the rollback writes nothing at all,
    # and records that the run is rolled back.
    bound = {
        "v": 1,
        "kind": "apply",
        "run": OLD,
        "module": "sql_encryption",
        "ops": [binding_entry("", "nokey")],
    }
    undone = {
        "v": 1,
        "kind": "restore",
        "run": OLD,
        "module": "sql_service",
        "restores": OLD,
        "ops": [binding_entry("nokey", "")],
    }
    done = ['{"applied":0}', '{"done":true,"stopped_at":null}']
    records = [
        {"id": f"{OLD}.sql_encryption.1-aaaa", "lines": [json.dumps(bound), *done]},
        {"id": f"{OLD}.sql_service.2-bbbb", "lines": [json.dumps(undone), *done]},
    ]
    sent = []

    def run_batch(ops, journal):
        sent.append((ops, journal))
        results = []
        for o in ops:
            if o["op"] == "journal.read":
                data = {"records": records}
            elif o["op"] == "reg.read":
                data = {
                    "exists": True,
                    "values": {"Certificate": {"type": "REG_SZ", "data": ""}},
                    "subkeys": {},
                }
            else:
                raise AssertionError(f"the rollback wrote {o}")
            results.append(OpResult(o["op"], True, data))
        return BatchResult(results, journal_id=journal["id"] if journal else None)

    restore = restore_run(run_batch, run_id=None, new_run_id=LATEST, force=False, check_mode=False, now=NOW)
    assert restore.run == OLD and restore.outcome.error is None and restore.outcome.plan.empty
    ops, journal = sent[-1]
    assert ops == [] and json.loads(journal["line"])["rolls_back"] == OLD  # a record without ops
