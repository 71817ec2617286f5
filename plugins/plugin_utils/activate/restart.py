"""Restart SQL Server instances safely, so that they load their configured certificate.

How (reference/sqlserver-tls.md 12):
- standalone: ``svc.restart`` with dependents. The agent stops the dependents that are not
  stopped (Agent, PolyBase, Launchpad ...), restarts the engine and starts again exactly the
  dependents it stopped (docs/agent-protocol.md "Services");
- failover cluster instance (section 11: ``R\\Cluster`` or ``ClusterState``): never the
  service; ``cluster.restart`` of its ``SQL Server`` resource, and only on the node that
  owns it (section 12). Other nodes skip it and say which node owns it;
- Always On replica (section 11; docs/reference-windows-bindings.md 8): the local replica is
  primary when this node owns an online ``SQL Server Availability Group`` resource. Secondaries
  (and instances of no group) restart first; a primary is restarted last and only with
  ``allow_primary_restart``. Restarting a primary replica takes its availability groups'
  primary role down with it: the cluster fails them over to a synchronized secondary where
  automatic failover is configured, and otherwise their databases are unavailable until the
  instance is back (section 12 "restarting the primary causes or requires failover", inference).

Readiness: activate/readiness.py. A start that fails after a binding change (26014/17182 in the
new ERRORLOG) is undone: the ``SuperSocketNetLib`` values this run wrote for that instance are
restored from the host's journal with the rollback machinery (journal/rollback.py, filtered to
the instance's key), the instance and the dependents that were running are started again, and
the task fails naming both facts. SQL Server is never left stopped by us.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agent.client import BatchResult
from ..agent.ops import op
from ..facts import errorlog
from ..facts.pending import JOURNAL_RECORDS
from ..i18n.catalog import message
from ..journal.record import journal_for, records_by_run
from ..journal.rollback import plan_rollback, probe_ops, restore_items
from ..plan.apply import apply_plan
from ..plan.certificate_choice import NextStart, next_start_certificate
from ..plan.model import Plan
from ..plan.sql_binding import engine_service, netlib_key
from . import readiness

RunBatch = Callable[[list[dict[str, Any]], Mapping[str, Any] | None], BatchResult]
MODULE = "sql_service"
AG_RESOURCE_TYPE = "SQL Server Availability Group"
SQL_RESOURCE_TYPE = "SQL Server"
SERVICE, CLUSTER = "service", "cluster_resource"
PRIMARY, SECONDARY = "primary", "secondary"


class RestartError(RuntimeError):
    """A restart failed; the message names what happened and what was done about it."""


@dataclass(frozen=True)
class Step:
    instance: Mapping[str, Any]
    method: str  # SERVICE | CLUSTER
    service: str
    resource: str | None = None
    ag_role: str | None = None
    availability_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    instance: str  # id
    code: str  # not_owner | primary_refused | cluster_resource_not_found | service_disabled
    data: Mapping[str, Any] = field(default_factory=dict)


def _same(a: Any, b: Any) -> bool:
    return str(a or "").casefold() == str(b or "").casefold()


def ag_role(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """(primary | secondary | None, the groups) of the local replica, from the cluster resources."""
    if not instance.get("hadr_enabled"):
        return None, ()
    local = (facts.get("host") or {}).get("computer_name")
    groups = [r for r in (facts.get("cluster") or {}).get("ag_resources") or [] if r.get("state") == "Online"]
    owned = tuple(r["name"] for r in groups if _same(r.get("owner_node"), local))
    if owned:
        return PRIMARY, owned
    return (SECONDARY, tuple(r["name"] for r in groups)) if groups else (None, ())


def _cluster_resource(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for resource in (facts.get("cluster") or {}).get("sql_resources") or []:
        private = resource.get("private") or {}
        if resource.get("type") == SQL_RESOURCE_TYPE and _same(private.get("InstanceName"), instance["name"]):
            return resource
    return None


def find_instances(
    facts: Mapping[str, Any], requested: Sequence[str]
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """(instances named by ``requested`` as names or ids, in host order; names not found)."""
    wanted = {str(r).casefold() for r in requested}
    found = [i for i in facts["sql"]["instances"] if {i["name"].casefold(), i["id"].casefold()} & wanted]
    known = {n for i in found for n in (i["name"].casefold(), i["id"].casefold())}
    return found, sorted(r for r in requested if str(r).casefold() not in known)


def restart_steps(
    facts: Mapping[str, Any], instances: Sequence[Mapping[str, Any]], *, allow_primary_restart: bool
) -> tuple[list[Step], list[Skip]]:
    """The restarts to do on this host, secondaries before primaries, and what is skipped and why."""
    local = (facts.get("host") or {}).get("computer_name")
    steps: list[Step] = []
    skips: list[Skip] = []
    for instance in instances:
        role, groups = ag_role(facts, instance)
        service = engine_service(instance)
        if role == PRIMARY and not allow_primary_restart:
            skips.append(Skip(instance["id"], "primary_refused", {"groups": list(groups)}))
            continue
        if instance.get("clustered"):
            resource = _cluster_resource(facts, instance)
            if resource is None:
                skips.append(Skip(instance["id"], "cluster_resource_not_found", {}))
            elif not _same(resource.get("owner_node"), local):
                skips.append(Skip(instance["id"], "not_owner", {"owner_node": resource.get("owner_node")}))
            else:
                steps.append(Step(instance, CLUSTER, service, resource["name"], role, groups))
            continue
        if (instance.get("service") or {}).get("start_mode") == "Disabled":
            skips.append(Skip(instance["id"], "service_disabled", {"service": service}))
            continue
        steps.append(Step(instance, SERVICE, service, None, role, groups))
    steps.sort(key=lambda s: s.ag_role == PRIMARY)  # stable: primaries last
    return steps, skips


# ---- running one restart ------------------------------------------------------------------


@dataclass
class Host:
    """What a restart needs from the host and the controller (plain callables; tests fake them)."""

    run_batch: RunBatch
    run_id: str
    now: Callable[[], dt.datetime]
    probe: readiness.ProbeCertificate | None = None
    address: str | None = None
    sleep: Callable[[float], None] | None = None
    monotonic: Callable[[], float] | None = None
    batches: int = 0

    def attempt(self) -> int:
        """Record ids must not repeat within a run (one file per record): seconds since the run
        started, then a counter."""
        self.batches += 1
        try:
            started = dt.datetime.strptime(self.run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
            seconds = max(0, int((self.now() - started).total_seconds()))
        except ValueError:
            seconds = 0
        return seconds * 100 + self.batches

    def read(self, ops: list[dict[str, Any]]) -> list[Any]:
        batch = self.run_batch(ops, None)
        return [r.data if r.ok else None for r in batch.results]

    def activation(self, ops: list[dict[str, Any]], **extra: Any) -> BatchResult:
        journal = journal_for(
            Plan(concern=MODULE),
            run_id=self.run_id,
            module=MODULE,
            now=self.now(),
            attempt=self.attempt(),
            kind="activation",
            **extra,
        )
        return self.run_batch(ops, journal)


@dataclass
class Restarted:
    instance: str
    method: str
    expected: NextStart
    readiness: readiness.Readiness | None = None
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    journal_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "method": self.method,
            "expected": self.expected.as_dict(),
            "readiness": self.readiness.as_dict() if self.readiness else None,
            "stopped": self.stopped,
            "started": self.started,
            "journal_ids": self.journal_ids,
        }


def _restart_op(step: Step, timeout_s: int) -> dict[str, Any]:
    if step.method == CLUSTER:
        return op("cluster.restart", resource=str(step.resource), timeout_s=timeout_s)
    return op("svc.restart", name=step.service, with_dependents=True, timeout_s=timeout_s)


def restart_one(
    host: Host,
    facts: Mapping[str, Any],
    step: Step,
    *,
    timeout_s: int,
    binding_run: str | None,
) -> Restarted:
    instance = step.instance
    expected = next_start_certificate(facts, instance)
    done = Restarted(instance["id"], step.method, expected)
    batch = host.activation([_restart_op(step, timeout_s)], instance=instance["id"], method=step.method)
    done.journal_ids.append(str(batch.journal_id))
    (result,) = batch.results
    if result.ok:
        data = result.data or {}
        done.stopped = list(data.get("stopped") or data.get("offline") or [])
        done.started = list(data.get("started") or data.get("online") or [])
        done.readiness = _wait(host, facts, step, expected, timeout_s)
        return done
    raise _failed_start(host, facts, step, result, timeout_s=timeout_s, binding_run=binding_run, done=done)


def _wait(
    host: Host,
    facts: Mapping[str, Any],
    step: Step,
    expected: NextStart | None,
    timeout_s: float,
    *,
    confirming: bool = False,
) -> readiness.Readiness:
    """Readiness of this start; ``confirming`` a start after a restore: service and ERRORLOG only."""
    instance = step.instance
    store = {c["thumbprint"] for c in facts.get("certificates") or [] if c.get("thumbprint")}
    options = {k: v for k, v in (("sleep", host.sleep), ("monotonic", host.monotonic)) if v is not None}
    target = (
        readiness.ProbeTarget(None, None, "tds", "confirming the start after the restore")
        if confirming
        else readiness.probe_target(facts, instance, host.address)
    )
    return readiness.wait_ready(
        host.read,
        instance,
        step.service,
        expected,
        instance["certificate"]["loaded"].get("line"),
        target,
        store,
        host.probe,
        timeout_s=timeout_s,
        **options,
    )


def _binding_items(records: Sequence[Any], instance: Mapping[str, Any]) -> list[Any]:
    key = netlib_key(instance).casefold()
    items = restore_items([r for r in records if r.header.get("module") != "rollback"])
    return [
        i for i in items if i.target.get("kind") == "reg_value" and str(i.target["path"]).casefold() == key
    ]


def _choose_binding_run(
    runs: Mapping[str, list[Any]], instance: Mapping[str, Any], run: str | None
) -> str | None:
    """This run when it changed the instance's binding; with no run given, the newest one that did."""
    touching = sorted(
        r for r, records in runs.items() if any(i.applied for i in _binding_items(records, instance))
    )
    if run is not None:
        return run if run in touching else None
    return touching[-1] if touching else None


def restore_binding(
    host: Host, instance: Mapping[str, Any], binding_run: str | None
) -> tuple[Plan | None, str | None, str | None]:
    """Put back the instance's ``SuperSocketNetLib`` values of ``binding_run`` from the journal.

    (the restore plan, its journal record id, the run restored); ``None`` when the journal holds
    no binding change of that run for this instance."""
    (journal,) = host.read([op("journal.read", last=JOURNAL_RECORDS)])
    runs = records_by_run((journal or {}).get("records") or [])
    run = _choose_binding_run(runs, instance, binding_run)
    if run is None:
        return None, None, None
    items = _binding_items(runs[run], instance)
    reads, keys = probe_ops(items)
    plan = plan_rollback(items, keys, host.read(reads))
    if plan.empty:
        return plan, None, run
    applied = apply_plan(
        host.run_batch,
        plan,
        run_id=host.run_id,
        module=MODULE,
        now=host.now(),
        attempt=host.attempt(),
        kind="restore",
        restores=run,
        instance=instance["id"],
    )
    if applied.failure is not None:
        index, kind, message = applied.failure
        raise RestartError(
            f"SQL Server {instance['name']} did not start, and restoring its binding failed "
            f"(op {index}: {kind}: {message}; journal record {applied.journal_id}). Start it by hand."
        )
    return plan, applied.journal_id, run


def _start_again_ops(step: Step, failure_detail: Mapping[str, Any], timeout_s: int) -> list[dict[str, Any]]:
    if step.method == CLUSTER:
        return [op("cluster.restart", resource=str(step.resource), timeout_s=timeout_s)]
    stopped = [s for s in failure_detail.get("stopped") or [] if not _same(s, step.service)]
    started = {str(s).casefold() for s in failure_detail.get("started") or []}
    dependents = [s for s in reversed(stopped) if str(s).casefold() not in started]
    return [op("svc.start", name=name, timeout_s=timeout_s) for name in [step.service, *dependents]]


def _restored_text(plan: Plan | None) -> str:
    if plan is None or plan.empty:
        return ""
    return "; ".join(
        f"{p.change.target.rsplit(chr(92), 1)[-1]} {p.change.before!r} -> {p.change.after!r}"
        for p in plan.ops
    )


def _failed_start(
    host: Host,
    facts: Mapping[str, Any],
    step: Step,
    result: Any,
    *,
    timeout_s: int,
    binding_run: str | None,
    done: Restarted,
) -> RestartError:
    """Undo this run's binding of the instance, start it (and the dependents that ran) again, and
    return the error that names the failed start and what was done about it."""
    instance = step.instance
    _state, lines = readiness.read_state(host.read(readiness.state_ops(instance, step.service)))
    failed_lines = [line for line in lines if _START_FAILURE_MARK in line or errorlog.load_problems([line])]
    first = f"{result.error_kind}: {result.error_message}; ERRORLOG: {readiness.quote(failed_lines or lines)}"
    plan, record, run = restore_binding(host, instance, binding_run)
    restored = _restored_text(plan)
    again = host.activation(
        _start_again_ops(step, result.error_detail or {}, timeout_s),
        instance=instance["id"],
        method=step.method,
    )
    done.journal_ids.append(str(again.journal_id))
    failure = next((r for r in again.results if not r.ok), None)
    if failure is not None:
        undone = (
            f"Restored its binding from the journal ({restored}; record {record}), but " if restored else ""
        )
        return RestartError(
            f"SQL Server {instance['name']} failed to start ({first}). {undone}starting it again failed too: "
            f"{failure.error_kind}: {failure.error_message}. Start it by hand."
        )
    try:
        back = _wait(host, facts, step, None, timeout_s, confirming=True)
        running = f"it runs again: {(back.loaded_line or '').rstrip('.')}"
    except readiness.NotReady as exc:
        running = f"its start is not confirmed: {exc}"
    if not restored:
        return RestartError(
            f"SQL Server {instance['name']} failed to start ({first}); the journal holds no binding change "
            f"of {'run ' + binding_run if binding_run else 'a run'} to undo. It was started again as it was; "
            f"{running}."
        )
    return RestartError(
        f"SQL Server {instance['name']} failed to start with the binding of run {run} ({first}). "
        f"The previous binding was restored from the journal ({restored}; record {record}) and the instance "
        f"was started again; {running}."
    )


# 26014/26015/26017 (sqlserver-tls.md 3), and 17182 with the 26xxx lines it follows.
_START_FAILURE_MARK = "Error: 2601"


# ---- the module's result ------------------------------------------------------------------


def skip_messages(skips: Sequence[Skip], facts: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    names = {i["id"]: i["name"] for i in facts["sql"]["instances"]}
    out = []
    for skip in skips:
        params = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in skip.data.items()}
        text = message(
            f"restart.skip.{skip.code}", lang, instance=names.get(skip.instance, skip.instance), **params
        )
        out.append({"instance": skip.instance, "code": skip.code, "data": dict(skip.data), "message": text})
    return out


def restarted_messages(done: Sequence[Restarted], steps: Sequence[Step], lang: str) -> list[str]:
    by_id = {s.instance["id"]: s for s in steps}
    lines = []
    for item in done:
        step = by_id[item.instance]
        if step.ag_role == PRIMARY:
            lines.append(
                message(
                    "restart.primary",
                    lang,
                    instance=step.instance["name"],
                    groups=", ".join(step.availability_groups),
                )
            )
        probe = item.readiness.probe if item.readiness else {}
        if probe and not probe.get("used"):
            lines.append(
                message(
                    "restart.probe_skipped", lang, instance=step.instance["name"], reason=probe.get("reason")
                )
            )
    return lines


def _loaded_text(thumbprint: str | None, self_generated: bool) -> str | None:
    return "self-generated" if self_generated else thumbprint


def restart_diff(
    facts: Mapping[str, Any], steps: Sequence[Step], done: Sequence[Restarted] | None = None
) -> dict[str, Any]:
    """Ansible's diff of a restart: per instance, the certificate served before and after (in check
    mode: what the next start is expected to load)."""
    before, after = {}, {}
    restarted = {d.instance: d for d in done or ()}
    for step in steps:
        instance = step.instance
        loaded = instance["certificate"]["loaded"]
        key = f"{instance['id']} certificate"
        before[key] = _loaded_text(loaded.get("thumbprint"), bool(loaded.get("self_generated")))
        if done is None:
            after[key] = readiness.describe_expected(next_start_certificate(facts, instance))
        elif instance["id"] in restarted and restarted[instance["id"]].readiness is not None:
            ready = restarted[instance["id"]].readiness
            after[key] = _loaded_text(ready.loaded_thumbprint, ready.self_generated)
    return {
        "before_header": "SQL Server certificate (before)",
        "after_header": "(after)",
        "before": before,
        "after": after,
    }
