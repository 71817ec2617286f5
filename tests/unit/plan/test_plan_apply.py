"""apply.converge: journal first, one batch, nothing in check mode, one re-gather and re-plan on conflict."""

from __future__ import annotations

import datetime as dt
import json

from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult, OpResult
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.apply import converge
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    plan_protocol_changes,
    protocol_policy,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.result import module_result
from ansible_collections.mssql.tls.tests.unit.facts.winhost import agent_results, compliant_2022_host
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import PreconditionFailed, RawHost

NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC)
RUN = "20261207T190000Z-ab12cd"
SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
POLICY = protocol_policy()


def record_of(journal_id: str) -> str:
    """The record id without its per-batch nonce (``<run>.<module>.<attempt>``)."""
    head, _dash, nonce = journal_id.rpartition("-")
    assert len(nonce) == 4 and int(nonce, 16) >= 0
    return head


class FakeHost:
    """The agent on a RawHost: applies writes with their preconditions, journals every batch."""

    def __init__(self, raw: RawHost):
        self.raw = raw
        self.batches: list[tuple[list, dict | None]] = []
        self.gathers = 0

    def run_batch(self, ops, journal):
        self.batches.append((ops, journal))
        results, stopped = [], False
        for op in ops:
            if stopped:
                results.append(OpResult(op["op"], False, error_kind="skipped", error_message="not run"))
                continue
            try:
                self.raw.apply(op)
                results.append(OpResult(op["op"], True, {}))
            except PreconditionFailed as exc:
                results.append(OpResult(op["op"], False, error_kind="conflict", error_message=str(exc)))
                stopped = True
        return BatchResult(results, journal_id=journal["id"] if journal else None)

    def gather(self):
        self.gathers += 1
        return self.raw.facts()


def make_plan(facts):
    return plan_protocol_changes(facts, POLICY)


def run(host: FakeHost, facts, check_mode=False):
    return converge(
        host.run_batch,
        host.gather,
        facts,
        make_plan,
        check_mode=check_mode,
        run_id=RUN,
        module="schannel_protocols",
        now=NOW,
    )


def test_one_batch_carries_the_journal_header_with_every_prior_value():
    host = FakeHost(RawHost(agent_results(compliant_2022_host())))
    outcome = run(host, host.raw.facts())
    ((ops, journal),) = host.batches
    header = json.loads(journal["line"])
    assert record_of(journal["id"]) == f"{RUN}.schannel_protocols.1"
    assert header["run"] == RUN and header["activations"] == ["reboot", "immediate"]
    assert [entry["op"] for entry in header["ops"]] == ops
    assert all("before" in entry and "target" in entry for entry in header["ops"])
    assert outcome.changed and outcome.error is None and host.gathers == 0


def test_check_mode_and_an_empty_plan_cost_no_round_trip():
    host = FakeHost(RawHost(agent_results(compliant_2022_host())))
    assert run(host, host.raw.facts(), check_mode=True).changed is False
    assert host.batches == []
    run(host, host.raw.facts())
    host.batches.clear()
    outcome = run(host, host.raw.facts())
    assert outcome.plan.empty and host.batches == [] and host.gathers == 0


def test_a_value_changed_since_the_gather_is_a_conflict_then_one_fresh_gather_and_plan():
    host = FakeHost(RawHost(agent_results(compliant_2022_host())))
    stale = host.raw.facts()
    # someone disables TLS 1.0 on the server side after our gather (Enabled only)
    host.raw.apply(
        {
            "op": "reg.write",
            "path": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders"
            "\\SCHANNEL\\Protocols\\TLS 1.0\\Server",
            "name": "Enabled",
            "type": "REG_DWORD",
            "value": {"data": 0},
        }
    )
    outcome = run(host, stale)
    assert host.gathers == 1 and outcome.regathered
    assert [record_of(j["id"]) for _ops, j in host.batches] == [
        f"{RUN}.schannel_protocols.1",
        f"{RUN}.schannel_protocols.2",
    ]
    assert outcome.error is None
    assert make_plan(host.raw.facts()).empty


def test_a_second_conflict_fails_with_the_reason_and_names_the_journal_record():
    host = FakeHost(RawHost(agent_results(compliant_2022_host())))
    stale = host.raw.facts()
    path = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.1\\Client"
    host.raw.apply(
        {"op": "reg.write", "path": path, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 7}}
    )

    def gather_and_change_again():
        facts = host.raw.facts()
        host.raw.apply(
            {"op": "reg.write", "path": path, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 8}}
        )
        return facts

    outcome = converge(
        host.run_batch,
        gather_and_change_again,
        stale,
        make_plan,
        check_mode=False,
        run_id=RUN,
        module="schannel_protocols",
        now=NOW,
    )
    assert outcome.error and "twice" in outcome.error and f"{RUN}.schannel_protocols.2-" in outcome.error
    result = module_result(outcome, check_mode=False, diff=False, lang="en", run_id=RUN, gathered=False)
    assert result["failed"] is True and result["msg"] == outcome.error


class DiskFullAfter(FakeHost):
    """The journal refuses its lines after ``ops_recorded`` writes (agent.ps1: the write that cannot
    be recorded stops the batch; its result is ok, later ops are skipped)."""

    def __init__(self, raw: RawHost, ops_recorded: int | None):
        super().__init__(raw)
        self.ops_recorded = ops_recorded

    def run_batch(self, ops, journal):
        self.batches.append((ops, journal))
        if self.ops_recorded is None:  # the header itself
            skipped = [OpResult(op["op"], False, error_kind="skipped") for op in ops]
            return BatchResult(skipped, journal_id=journal["id"], journal_error="disk full")
        done = self.ops_recorded + 1
        for op in ops[:done]:
            self.raw.apply(op)
        results = [OpResult(op["op"], True, {}) for op in ops[:done]]
        results += [OpResult(op["op"], False, error_kind="skipped") for op in ops[done:]]
        return BatchResult(results, journal_id=journal["id"], journal_error="disk full")


def test_a_journal_the_host_cannot_write_names_the_record_and_how_many_changes_ran():
    # issue 12: a refused header ran nothing; a refused progress line stopped the batch after a write
    for recorded, expected in ((None, "nothing after it was applied"), (2, "3 of ")):
        host = DiskFullAfter(RawHost(agent_results(compliant_2022_host())), recorded)
        path = f"{SCHANNEL}\\Protocols\\TLS 1.0\\Client"
        host.raw.apply(
            {"op": "reg.write", "path": path, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 1}}
        )
        for protocol in ("TLS 1.1", "SSL 3.0"):
            host.raw.apply(
                {
                    "op": "reg.write",
                    "path": path.replace("TLS 1.0", protocol),
                    "name": "Enabled",
                    "type": "REG_DWORD",
                    "value": {"data": 1},
                }
            )
        outcome = run(host, host.raw.facts())
        ((ops, journal),) = host.batches
        assert len(ops) > 3 and outcome.error and f"journal record {journal['id']}" in outcome.error
        assert expected in outcome.error and "disk full" in outcome.error, outcome.error
        if recorded is not None:
            assert f"3 of {len(ops)} change(s) were applied, nothing after them" in outcome.error


def test_module_result_reports_what_was_applied_and_its_activation():
    host = FakeHost(RawHost(agent_results(compliant_2022_host())))
    outcome = run(host, host.raw.facts())
    result = module_result(outcome, check_mode=False, diff=True, lang="ja", run_id=RUN, gathered=False)
    assert (
        result["changed"] and result["reboot_required"] and result["activations"] == ["reboot", "immediate"]
    )
    assert record_of(result["journal_id"]) == f"{RUN}.schannel_protocols.1"
    assert "再起動" in result["msg"]
    assert set(result["diff"]["after"]) == {c["target"] for c in result["plan"]["changes"]}
