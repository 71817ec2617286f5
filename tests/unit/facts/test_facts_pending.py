"""Pending reboots from the host's journal: our reboot-activated changes made after the last boot."""

from __future__ import annotations

import json

from ansible_collections.mssql.tls.plugins.plugin_utils.facts.pending import facts_after_reboot, pending_facts

BOOT = "2026-11-30T01:00:00Z"


def record(
    created,
    activations=("reboot",),
    lines=('{"applied":0}', '{"done":true,"stopped_at":null}'),
    module="schannel_protocols",
):
    header = {
        "v": 1,
        "run": "20261130T020000Z-ab12cd",
        "module": module,
        "activations": list(activations),
        "ops": [{}, {}],
    }
    return {
        "id": f"20261130T020000Z-ab12cd.{module}.1",
        "created_utc": created,
        "lines": [json.dumps(header), *lines],
    }


def test_a_schannel_change_after_the_last_boot_is_a_pending_reboot():
    found = pending_facts([record("2026-11-30T02:00:00Z")], BOOT)
    assert found["reboot"] is True
    assert found["reboot_records"] == [
        {
            "journal_id": "20261130T020000Z-ab12cd.schannel_protocols.1",
            "run": "20261130T020000Z-ab12cd",
            "module": "schannel_protocols",
            "created_utc": "2026-11-30T02:00:00Z",
            "changes": 1,
        }
    ]


def test_a_change_made_before_the_last_boot_is_in_effect():
    assert pending_facts([record("2026-11-30T00:30:00Z")], BOOT)["reboot"] is False


def test_an_immediate_change_needs_no_reboot():
    assert (
        pending_facts([record("2026-11-30T02:00:00Z", activations=("immediate",))], BOOT)["reboot"] is False
    )


def test_a_batch_that_applied_nothing_leaves_nothing_pending():
    stopped = record("2026-11-30T02:00:00Z", lines=('{"done":true,"stopped_at":0}',))
    assert pending_facts([stopped], BOOT)["reboot"] is False


def test_a_batch_cut_off_before_its_end_line_counts_as_pending():
    # The first write may have landed before the progress line: assume it did.
    cut = record("2026-11-30T02:00:00Z", lines=())
    assert pending_facts([cut], BOOT)["reboot"] is True


def test_records_that_are_not_ours_and_no_journal_are_ignored():
    foreign = {"id": "x", "created_utc": "2026-11-30T02:00:00Z", "lines": ["not json"]}
    assert pending_facts([foreign], BOOT)["reboot"] is False
    assert pending_facts(None, BOOT) == {
        "read": False,
        "reboot": False,
        "reboot_records": [],
        "since_boot_utc": BOOT,
    }


def test_after_a_reboot_nothing_of_ours_is_pending_and_the_boot_time_is_new():
    facts = {
        "host": {"last_boot_utc": BOOT, "fqdn": "sql1"},
        "pending": pending_facts([record("2026-11-30T02:00:00Z")], BOOT),
    }
    after = facts_after_reboot(facts, "2026-11-30T03:00:00Z")
    assert after["pending"]["reboot"] is False and after["pending"]["reboot_records"] == []
    assert after["host"] == {"last_boot_utc": "2026-11-30T03:00:00Z", "fqdn": "sql1"}
    assert facts["pending"]["reboot"] is True  # the input is left as it was
