"""The other faults of issue 12, item 1, in a real batch of each fix module and of rollback.

test_fault_drop.py cuts the connection after every op k of these batches. Here, each batch meets
each other fault, through the core the action plugins call (fault_core.py), on its own copy of a
lab profile:
- the host restarts in the middle of the batch (after op 0, half-way, after the last op);
- the journal write is cut off, at every line of the record (its header, each progress line, the
  line that closes it);
- the host answers past the client's read timeout (the batch ran; its reply is late);
- two controllers run the same batch at the same time, from the same facts.
In every case: the failure names the batch's journal record; the record holds every prior value;
running again converges, writing each value once; rollback (until it finds nothing left) restores
the whole host model exactly. tests/integration/test_fault_playbooks.py runs one fault of each kind
through ansible-playbook, with other hosts that go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.reboot import wait_for_new_boot
from ansible_collections.mssql.tls.plugins.plugin_utils.ansible_adapter import gather_facts, poll_os_info
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.restore import Restore
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.apply import Outcome

from .fault_core import (
    Fleets,
    LabConnection,
    fix,
    marked,
    pairs,
    planner,
    roll_back,
    roll_back_everything,
    run_id,
)
from .host_model import comparable, journal, journal_files, record, writes_per_target
from .test_fault_drop import APPLY, ROLLBACK_OPS, Batch, assert_cut_after, lost_record, reboot

ROLLBACK_PROFILE = "mixed-2012r2"
OPS = {b.module: b.ops for b in APPLY} | {"rollback": ROLLBACK_OPS}
# After op 0, half-way, after the last op (half-way: make test-all only).
RESTART_AT = {m: marked(sorted({0, n // 2, n}), {0, n}) for m, n in OPS.items()}
# The record's lines: the header (0), one per op, the closing line (ops + 1). Every line of the
# apply batches, the rollback batch's first, middle and last ones; make test cuts the header,
# the first and last progress lines and the closing line.
JOURNAL_CUT_AT = {m: marked(range(n + 2), {0, 1, n, n + 1}) for m, n in OPS.items() if m != "rollback"}
JOURNAL_CUT_AT["rollback"] = marked(
    [0, 1, ROLLBACK_OPS // 2, ROLLBACK_OPS, ROLLBACK_OPS + 1], {0, 1, ROLLBACK_OPS, ROLLBACK_OPS + 1}
)


PROFILE = {b.module: b.profile for b in APPLY} | {"rollback": ROLLBACK_PROFILE}
MODULES = list(PROFILE)


@pytest.fixture(scope="module")
def fleets() -> Iterator[Fleets]:
    """A fresh host per case: restarts, journal cuts, the late reply and the concurrent run."""
    copies: dict[str, int] = {}
    for module, profile in PROFILE.items():
        copies[profile] = copies.get(profile, 0) + len(RESTART_AT[module]) + len(JOURNAL_CUT_AT[module]) + 2
    with ExitStack() as stack:
        yield Fleets(stack, copies)


@dataclass
class Case:
    """One host, the batch the fault is aimed at and how to run it (again)."""

    conn: LabConnection
    module: str
    ops: int
    run: Callable[[LabConnection], Outcome | Restore]
    original: dict[str, Any]  # the host model before anything ran (before the remediation, for rollback)
    remediated: str | None = None  # rollback cases: the run the batch rolls back


def remediate(conn: LabConnection) -> str:
    """mixed-2012r2's remediation (tls12, cipher suites, certificate purpose): the run rollback restores."""
    run = run_id()
    facts = gather_facts(conn)
    for module in ("schannel_protocols", "cipher_suites", "certificate_purpose"):
        outcome = fix(conn, module, planner(module), run, facts)
        assert outcome.error is None and outcome.changed, module
    return run


def case(fleets: Fleets, module: str) -> Case:
    conn = fleets.host(PROFILE[module])
    conn.knobs(reboot_down_s=0.3)  # a restart takes 0.3 s here (3 s by default)
    if module == "rollback":
        original = comparable(conn.state())
        return Case(conn, module, ROLLBACK_OPS, roll_back, original, remediated=remediate(conn))
    batch: Batch = next(b for b in APPLY if b.module == module)
    make_plan = planner(module, **batch.args(gather_facts(conn)))
    return Case(
        conn, module, batch.ops, lambda c: fix(c, module, make_plan, run_id()), comparable(conn.state())
    )


def outcome_of(result: Outcome | Restore) -> Outcome:
    return result.outcome if isinstance(result, Restore) else result


def converges_and_restores(case: Case) -> None:
    """Running again leaves nothing to do, no value was written twice, rollback restores exactly."""
    result = case.run(case.conn)
    again = outcome_of(result)
    assert again.error is None, again.error
    if case.module == "rollback":
        assert result.run == case.remediated  # the faulty rollback did not count: this one finishes it
        assert roll_back_everything(case.conn) == []
    else:
        assert outcome_of(case.run(case.conn)).plan.empty  # converged
        assert set(writes_per_target(journal(case.conn.state()), case.module).values()) <= {1}
        roll_back_everything(case.conn)
    restored_exactly(case)


def restored_exactly(case: Case) -> None:
    reboot(case.conn, run_id())  # what SQL Server serves comes from the configuration again
    assert comparable(case.conn.state()) == case.original


# ---- the host restarts in the middle of the batch -----------------------------------------------


@pytest.mark.parametrize(("module", "k"), [p for m in MODULES for p in pairs(m, RESTART_AT[m])], ids=str)
def test_a_host_that_restarts_after_op_k_loses_nothing_and_the_next_run_finishes(fleets, module, k) -> None:
    case_ = case(fleets, module)
    conn = case_.conn
    boot = conn.state()["boot"]["boot_utc"]
    conn.knobs(fault_journal_id=f".{module}.", drop_after_ops=k, reboot_on_drop=True)
    with pytest.raises(AnsibleConnectionFailure) as lost:
        case_.run(conn)
    record_id = lost_record(lost)
    wait_for_new_boot(poll_os_info(conn), boot, timeout_s=60, first_wait_s=0.2)
    assert_cut_after(conn, record_id, k)  # what ran before the restart is saved and journaled
    cut = record(conn.state(), record_id)
    assert len(cut.ops) == case_.ops and cut.header.get("rolls_back") == case_.remediated
    converges_and_restores(case_)


# ---- the journal write is cut off ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "line"), [p for m in MODULES for p in pairs(m, JOURNAL_CUT_AT[m])], ids=str
)
def test_a_journal_cut_off_at_any_line_stops_the_batch_names_the_record_and_loses_nothing(
    fleets, module, line
) -> None:
    case_ = case(fleets, module)
    conn, n = case_.conn, case_.ops
    before = comparable(conn.state())
    conn.knobs(fault_journal_id=f".{module}.", journal_fail_after_lines=line)
    outcome = outcome_of(case_.run(conn))
    assert outcome.error is not None and len(outcome.batches) == 1
    (batch,) = outcome.batches
    assert batch.journal_id in outcome.error and "There is not enough space on the disk." in outcome.error
    ran = min(line, n)  # the op whose progress line is cut has run; nothing after it runs
    assert len(batch.applied) == ran
    if line == 0:
        assert comparable(conn.state()) == before  # nothing ran without its record
        (half,) = [f for f in journal_files(conn.state()) if f["id"] == batch.journal_id]
        assert len(half["lines"]) <= 1 and record_or_none(conn, batch.journal_id) is None
    else:
        cut = record(conn.state(), batch.journal_id)
        assert cut.ops == [p.journal_entry() for p in batch.plan.ops]  # every prior value
        assert sorted(cut.applied) == list(range(min(line - 1, n))) and cut.interrupted
    converges_and_restores(case_)


def record_or_none(conn: LabConnection, record_id: str):
    found = [r for r in journal(conn.state()) if r.id == record_id]
    return found[0] if found else None


# ---- the host answers past the read timeout -----------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_a_batch_answered_past_the_read_timeout_is_named_never_sent_again_and_recoverable(
    fleets, module
) -> None:
    case_ = case(fleets, module)
    impatient = LabConnection(case_.conn.lab, case_.conn.host, read_timeout_sec=3, operation_timeout_sec=2)
    impatient.knobs(fault_journal_id=f".{module}.", reply_delay_s=5)
    commands = impatient.commands()
    with pytest.raises(AnsibleConnectionFailure) as lost:
        case_.run(impatient)
    record_id = lost_record(lost)
    # the reads before the batch (gather; rollback: the journal and the current values), then the
    # write batch once: a lost write batch is never sent again
    assert impatient.commands() - commands == (3 if module == "rollback" else 2)
    done = record(impatient.state(), record_id)
    assert done.done and sorted(done.applied) == list(range(case_.ops))  # it ran whole; the reply was late
    if module == "rollback":
        assert roll_back_everything(case_.conn) == []  # the late rollback did restore the run
    else:
        assert outcome_of(case_.run(case_.conn)).plan.empty  # the next run finds it done
        assert set(writes_per_target(journal(case_.conn.state()), module).values()) == {1}
        roll_back_everything(case_.conn)
    restored_exactly(case_)


# ---- two controllers at once --------------------------------------------------------------------


class GatedConnection(LabConnection):
    """A controller that, after ``reads`` commands, waits at ``gate`` until the other is there too."""

    def __init__(self, lab, host: str, gate: threading.Barrier, reads: int) -> None:
        super().__init__(lab, host)
        self._gate, self._before = gate, reads

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False):
        if self._before == 0:
            self._gate.wait(timeout=60)
        self._before -= 1
        return super().exec_command(cmd, in_data, sudoable)


@pytest.mark.parametrize("module", MODULES)
def test_two_controllers_running_the_same_batch_at_once_write_each_value_once(fleets, module) -> None:
    case_ = case(fleets, module)
    host = case_.conn
    # Each controller reads what it needs, then waits for the other before its write batch
    # (rollback: the journal and the current values; a fix: its facts, read once for both).
    gate = threading.Barrier(2)
    reads = 2 if module == "rollback" else 0
    controllers = [GatedConnection(host.lab, host.host, gate, reads) for _controller in range(2)]
    results: list[Outcome | Restore | BaseException] = [None, None]  # type: ignore[list-item]

    if module == "rollback":
        runs = [roll_back, roll_back]
    else:
        batch = next(b for b in APPLY if b.module == module)
        facts = gather_facts(host)  # both plan from the same state: the race is certain
        make_plan = planner(module, **batch.args(facts))
        ids = [run_id(), run_id()]
        runs = [lambda c, r=r: fix(c, module, make_plan, r, facts) for r in ids]

    def go(i: int) -> None:
        try:
            results[i] = runs[i](controllers[i])
        except BaseException as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    outcomes = [outcome_of(r) for r in results if not isinstance(r, BaseException)]
    assert len(outcomes) == 2, results
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
    # compare-and-set: one wrote the batch, the other stopped at its first op with conflict, applied
    # nothing, looked again and found nothing left to do
    writers = [o for o in outcomes if o.changed]
    stopped = [o for o in outcomes if o.batches and o.batches[0].conflict]
    assert len(writers) == 1 and len(stopped) == 1 and stopped[0] is not writers[0], outcomes
    (loser,) = stopped
    assert loser.batches[0].failure[0] == 0 and not loser.batches[0].applied and loser.plan.empty
    state = host.state()
    applied = [r for r in journal(state) if r.header.get("module") == module and r.applied]
    assert sum(len(r.applied) for r in applied) == case_.ops and len(applied) == 1
    if module == "rollback":
        assert roll_back_everything(host) == []
    else:
        assert set(writes_per_target(journal(state), module).values()) == {1}
        assert outcome_of(case_.run(host)).plan.empty
        roll_back_everything(host)
    restored_exactly(case_)
