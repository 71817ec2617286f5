"""Rollback from the journal: restore every prior value exactly, leave later changes alone unless forced."""

from __future__ import annotations

import copy
import datetime as dt
import json

from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import journal_for, parse_record
from ansible_collections.mssql.tls.plugins.plugin_utils.journal.rollback import (
    plan_rollback,
    probe_ops,
    restore_items,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    plan_protocol_changes,
    protocol_policy,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import WS2019, agent_results, compliant_2022_host
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost
from ansible_collections.mssql.tls.tests.unit.plan.test_plan_property import POLICY, hosts
from hypothesis import given, settings

NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC)
RUN = "20261207T190000Z-ab12cd"


def remediate(raw: RawHost, policy=None):
    """Apply a tls12 plan as the agent would and return the journal record the host keeps."""
    plan = plan_protocol_changes(raw.facts(), policy or protocol_policy())
    journal = journal_for(plan, run_id=RUN, module="schannel_protocols", now=NOW)
    lines = [journal["line"]]
    for index, op in enumerate(plan.write_ops()):
        raw.apply(op)
        lines.append(json.dumps({"applied": index}))
    lines.append(json.dumps({"done": True, "stopped_at": None}))
    return parse_record({"id": journal["id"], "lines": lines, "created_utc": "2026-12-07T19:00:01Z"})


def rollback(raw: RawHost, records, force=False):
    items = restore_items(records)
    reads, keys = probe_ops(items)
    plan = plan_rollback(items, keys, [raw.read(op) for op in reads], force=force)
    raw.apply_all(plan.write_ops())
    return plan


def registry_state(raw: RawHost):
    """The raw results, with ``exists: true`` dropped below the top (winhost writes it on every node)."""

    def strip(node, top):
        if isinstance(node, dict):
            return {k: strip(v, False) for k, v in node.items() if top or not (k == "exists" and v is True)}
        if isinstance(node, list):
            return [strip(v, False) for v in node]
        return node

    return [{"ok": r["ok"], "data": strip(copy.deepcopy(r.get("data")), True)} for r in raw.results]


def test_rollback_restores_every_value_and_removes_the_keys_the_run_created():
    raw = RawHost(agent_results(compliant_2022_host()))
    original = registry_state(raw)
    record = remediate(raw)
    assert registry_state(raw) != original
    plan = rollback(raw, [record])
    assert plan.blockers == ()
    assert registry_state(raw) == original


def test_rollback_rebuilds_a_removed_tls13_subtree():
    host = compliant_2022_host(
        version=WS2019, protocols={"TLS 1.3": {"Server": {"Enabled": 1}, "Client": {}}}
    )
    raw = RawHost(agent_results(host))
    original = registry_state(raw)
    rollback(raw, [remediate(raw)])
    assert registry_state(raw) == original


def test_a_value_changed_after_our_run_is_a_conflict_left_alone_unless_forced():
    raw = RawHost(agent_results(compliant_2022_host()))
    record = remediate(raw)
    path = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.0\\Server"
    raw.apply({"op": "reg.write", "path": path, "name": "Enabled", "type": "REG_DWORD", "value": {"data": 5}})
    plan = rollback(raw, [record])
    (conflict,) = plan.blockers
    assert (
        conflict.code == "rollback_conflict"
        and conflict.data["found"] == 5
        and conflict.data["expected"] == 0
    )
    assert raw.value(path, "Enabled") == {"type": "REG_DWORD", "data": 5}
    assert raw.value(path, "DisabledByDefault") is None  # the rest was restored
    forced = rollback(raw, [record], force=True)
    assert forced.forced and raw.value(path, "Enabled") is None


def test_rolling_back_twice_changes_nothing_the_second_time():
    raw = RawHost(agent_results(compliant_2022_host()))
    record = remediate(raw)
    rollback(raw, [record])
    assert rollback(raw, [record]).ops == ()


@settings(max_examples=150, deadline=None)
@given(host=hosts(), args=POLICY)
def test_remediate_then_rollback_returns_any_host_to_its_original_registry(host, args):
    raw = RawHost(agent_results(host))
    original = registry_state(raw)
    rollback(raw, [remediate(raw, protocol_policy(**args))])
    assert registry_state(raw) == original
