"""The WinRM connection drops after op k of a write batch, for every k, in a real batch of each fix module,
of sql_service's restart, of reboot and of rollback's restore (issue 12, item 1).

Each case runs on its own copy of a lab profile, through the core the action plugins call
(fault_core.py), with the lab's ``drop_after_ops`` knob aimed at that module's batch: k ops run and
are saved, then the connection is reset before the reply. In every case:
- the batch fails with the adapter's message naming the batch's journal record, and is never sent
  again (one command on the host);
- the record holds, before anything ran, every target's prior value (nothing is lost) and says
  exactly which ops ran: ``applied`` 0..k-1, no ``done`` line; the host agrees (a fresh plan is the
  ops k..n-1, the same targets);
- running again converges (the plan after it is empty) and writes each value once over both runs;
- rollback (run until it finds nothing left) brings the whole host model back exactly.
tests/integration/test_fault_playbooks.py runs one such fault of each kind through ansible-playbook.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible_collections.mssql.tls.plugins.plugin_utils.activate import restart as rst
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.reboot import schedule, wait_for_new_boot
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import (
    batch_runner,
    gather_facts,
    poll_os_info,
)

from .fault_core import (
    Fleets,
    LabConnection,
    fix,
    pairs,
    planner,
    positions,
    roll_back,
    roll_back_everything,
    run_id,
    utc_now,
)
from .host_model import comparable, journal, record, writes_per_target


def replacement(facts: Mapping[str, Any]) -> dict[str, Any]:
    """s4-winrm-https: bind the SHA256 replacement in the store and force encryption (3 writes:
    the binding, the key's ACL for the service SID, ForceEncryption)."""
    (sha256,) = [c["thumbprint"] for c in facts["certificates"] if c["signature_hash"] == "sha256"]
    return {"certificate": sha256, "force_encryption": True}


@dataclass(frozen=True)
class Batch:
    module: str
    profile: str
    ops: int  # the batch's size for this profile, written by hand
    args: Callable[[Mapping[str, Any]], dict[str, Any]] = field(default=lambda _facts: {})

    def __str__(self) -> str:
        return f"{self.module}-{self.profile}"


APPLY = (
    Batch("schannel_protocols", "s5", 6),  # TLS 1.0/1.1 off on both sides, .NET, WinHTTP
    Batch("cipher_suites", "s5", 9),  # nine TLS_DHE suites disabled through the cmdlets
    Batch("certificate_purpose", "mixed-2012r2", 1),  # property 9 of the MD5 certificate
    Batch("sql_encryption", "s4-winrm-https", 3, replacement),
)
# The rollback of mixed-2012r2's remediation (tls12, cipher suites, certificate purpose) in one batch:
# property 9 cleared, 9 values removed, the 9 keys the writes created removed.
ROLLBACK_OPS = 19
COPIES = {"s5": 6 + 1 + 9 + 1 + 2, "mixed-2012r2": 1 + 1 + ROLLBACK_OPS + 1, "s4-winrm-https": 3 + 1 + 2}


@pytest.fixture(scope="module")
def fleets() -> Iterator[Fleets]:
    with ExitStack() as stack:
        yield Fleets(stack, COPIES)


def lost_record(failure: pytest.ExceptionInfo[AnsibleConnectionFailure]) -> str:
    text = str(failure.value)
    assert text.startswith("mssql.tls agent write batch lost its connection: ")
    assert "Some of its changes may have been applied" in text
    return re.search(r"journal record (\S+) on the host says which", text)[1]


def assert_cut_after(conn: LabConnection, record_id: str, k: int) -> None:
    cut = record(conn.state(), record_id)
    assert sorted(cut.applied) == list(range(k)) and cut.interrupted, (cut.applied, cut.done)


# ---- the four fix modules -----------------------------------------------------------------------


@pytest.mark.parametrize(("batch", "k"), [p for b in APPLY for p in pairs(b, positions(b.ops))], ids=str)
def test_an_apply_batch_cut_off_after_op_k_loses_nothing_and_recovers(fleets, batch: Batch, k: int) -> None:
    conn = fleets.host(batch.profile)
    original = comparable(conn.state())
    facts = gather_facts(conn)
    make_plan = planner(batch.module, **batch.args(facts))
    plan = make_plan(facts)
    assert len(plan.ops) == batch.ops, [p.change.target for p in plan.ops]

    first = run_id()
    conn.knobs(fault_journal_id=f".{batch.module}.", drop_after_ops=k)
    commands = conn.commands()
    with pytest.raises(AnsibleConnectionFailure) as lost:
        fix(conn, batch.module, make_plan, first, facts)
    record_id = lost_record(lost)
    assert record_id.startswith(f"{first}.{batch.module}.1-")
    assert conn.commands() == commands + 1  # the write batch went once; it is never re-sent
    assert_cut_after(conn, record_id, k)
    # The header was on the host before op 0 ran: every prior value, as the plan read it.
    assert record(conn.state(), record_id).ops == [p.journal_entry() for p in plan.ops]
    # Running again: the host agrees with the record (what is left is exactly the ops that did not
    # run, planned from a fresh gather), and those are applied.
    again = fix(conn, batch.module, make_plan, run_id())
    assert [p.target for p in again.plan.ops] == [p.target for p in plan.ops[k:]]
    assert again.error is None and sum(len(b.applied) for b in again.batches) == batch.ops - k
    assert make_plan(gather_facts(conn)).empty  # converged
    assert set(writes_per_target(journal(conn.state()), batch.module).values()) == {1}

    restored = roll_back_everything(conn)
    assert restored[-1] == first or k == 0
    assert comparable(conn.state()) == original


# ---- sql_service: the restart batch -------------------------------------------------------------


def next_second() -> None:
    """Wait until the clock's second changes (the lab host's clock is this machine's)."""
    start = utc_now().replace(microsecond=0)
    while utc_now().replace(microsecond=0) == start:
        time.sleep(0.02)


@pytest.mark.parametrize("k", [0, 1])
def test_a_restart_batch_cut_off_is_named_and_the_next_restart_loads_the_binding(fleets, k: int) -> None:
    conn = fleets.host("s4-winrm-https")
    original = comparable(conn.state())
    facts = gather_facts(conn)
    run = run_id()
    bound = fix(conn, "sql_encryption", planner("sql_encryption", **replacement(facts)), run, facts)
    assert bound.error is None and bound.changed
    chosen = replacement(facts)["certificate"].upper()
    served_before = conn.state()["sql_runtime"]["MSSQLSERVER"]["certificate"]

    facts = gather_facts(conn)
    (instance,) = [i for i in facts["sql"]["instances"] if i["name"] == "MSSQLSERVER"]
    steps, _skips = rst.restart_steps(facts, [instance], allow_primary_restart=False)
    host = rst.Host(run_batch=batch_runner(conn), run_id=run, now=utc_now)
    conn.knobs(fault_journal_id=".sql_service.", drop_after_ops=k)
    with pytest.raises(AnsibleConnectionFailure) as lost:
        rst.restart_one(host, facts, steps[0], timeout_s=30, binding_run=run)
    record_id = lost_record(lost)
    assert f"{run}.sql_service." in record_id
    assert_cut_after(conn, record_id, k)
    served = conn.state()["sql_runtime"]["MSSQLSERVER"]
    assert served["running"] and served["certificate"] == (chosen if k else served_before)

    # Running the restart again: SQL Server loads the new binding and is ready. (Readiness waits for
    # a new "loaded for encryption" line; the lab's ERRORLOG stamps whole seconds and starts at
    # once, where a real start takes seconds: the second start must not share the first's second.)
    next_second()
    facts = gather_facts(conn)
    (instance,) = [i for i in facts["sql"]["instances"] if i["name"] == "MSSQLSERVER"]
    steps, _skips = rst.restart_steps(facts, [instance], allow_primary_restart=False)
    done = rst.restart_one(host, facts, steps[0], timeout_s=30, binding_run=run)
    assert done.readiness.ready and done.readiness.loaded_thumbprint.upper() == chosen

    # Rollback restores the binding; the restart it asks for brings back what SQL Server served.
    assert roll_back_everything(conn) == [run]
    facts = gather_facts(conn)
    (instance,) = [i for i in facts["sql"]["instances"] if i["name"] == "MSSQLSERVER"]
    steps, _skips = rst.restart_steps(facts, [instance], allow_primary_restart=False)
    next_second()
    rst.restart_one(
        rst.Host(batch_runner(conn), run_id(), utc_now), facts, steps[0], timeout_s=30, binding_run=None
    )
    assert comparable(conn.state()) == original


# ---- reboot: the os.reboot batch ----------------------------------------------------------------


def reboot(conn: LabConnection, run: str) -> str:
    """mssql.tls.reboot's two steps; the new boot time."""
    previous, _record = schedule(
        batch_runner(conn), reason="mssql.tls fault test", delay_s=0, run_id=run, now=utc_now()
    )
    return wait_for_new_boot(poll_os_info(conn), previous, timeout_s=60, first_wait_s=0.2).boot_utc


@pytest.mark.parametrize("k", [0, 1])
def test_a_reboot_batch_cut_off_is_named_and_the_reboot_happens_once_asked_again(fleets, k: int) -> None:
    conn = fleets.host("s5")
    conn.knobs(reboot_down_s=0.3)
    original = comparable(conn.state())
    facts = gather_facts(conn)
    run = run_id()
    assert fix(conn, "schannel_protocols", planner("schannel_protocols"), run, facts).changed
    boot = conn.state()["boot"]["boot_utc"]

    conn.knobs(fault_journal_id=".reboot.", drop_after_ops=k)
    with pytest.raises(AnsibleConnectionFailure) as lost:
        schedule(batch_runner(conn), reason="mssql.tls fault test", delay_s=0, run_id=run, now=utc_now())
    record_id = lost_record(lost)
    assert f"{run}.reboot." in record_id
    assert_cut_after(conn, record_id, k)
    if k:  # the restart was scheduled before the reply was lost: the host goes and comes back
        wait_for_new_boot(poll_os_info(conn), boot, timeout_s=60, first_wait_s=0.2)
    facts = gather_facts(conn)
    assert facts["pending"]["reboot"] is (k == 0), facts["pending"]
    if facts["pending"]["reboot"]:
        reboot(conn, run)
        assert gather_facts(conn)["pending"]["reboot"] is False
    assert planner("schannel_protocols")(gather_facts(conn)).empty

    assert roll_back_everything(conn) == [run]
    reboot(conn, run_id())
    assert comparable(conn.state()) == original


# ---- rollback: the restore batch ----------------------------------------------------------------


@pytest.mark.parametrize("k", positions(ROLLBACK_OPS))
def test_a_rollback_batch_cut_off_after_op_k_is_finished_by_the_next_rollback(fleets, k: int) -> None:
    conn = fleets.host("mixed-2012r2")
    original = comparable(conn.state())
    run = run_id()
    facts = gather_facts(conn)  # the play's facts, shared by the three fixes
    for module in ("schannel_protocols", "cipher_suites", "certificate_purpose"):
        outcome = fix(conn, module, planner(module), run, facts)
        assert outcome.error is None and outcome.changed, module

    conn.knobs(fault_journal_id=".rollback.", drop_after_ops=k)
    with pytest.raises(AnsibleConnectionFailure) as lost:
        roll_back(conn)
    record_id = lost_record(lost)
    assert ".rollback.1-" in record_id
    cut = record(conn.state(), record_id)
    assert len(cut.ops) == ROLLBACK_OPS and cut.header["rolls_back"] == run
    assert_cut_after(conn, record_id, k)

    # The next rollback finishes the run (the cut one did not restore it), then finds nothing.
    assert roll_back_everything(conn) == [run]
    assert comparable(conn.state()) == original
