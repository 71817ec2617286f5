"""Which run a rollback restores: the given one, else the newest that changed something, not restored yet."""

from __future__ import annotations

import json

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import records_by_run
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.restore import NothingToRestore, choose_run

OLD, NEW, LATEST = "20261201T010000Z-aaaaaa", "20261205T010000Z-bbbbbb", "20261207T010000Z-cccccc"


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
