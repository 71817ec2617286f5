"""Safe restarts (reference/sqlserver-tls.md 12): which way, in which order, readiness, and the undo of a
start that fails after a binding change. The host is a small fake agent that behaves as the lab does."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.activate import restart as rst
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.readiness import NotReady, probe_target
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult, OpResult
from ansible_collections.mssql.tls.tests.unit.facts.winhost import WS2012R2, Instance, facts_of, loaded_line
from ansible_collections.mssql.tls.tests.unit.plan.certhost import auto, bound, cert, host

RUN = "20261207T190000Z-ab12cd"
NETLIB = r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\MSSQL16.MSSQLSERVER\MSSQLServer\SuperSocketNetLib"
SELF = (
    "2026-12-07 19:00:05.00 Server      A self-generated certificate was successfully loaded for encryption."
)
FAILED = [
    "2026-12-07 19:00:05.00 Server      Error: 26014, Severity: 16, State: 1.",
    '2026-12-07 19:00:05.00 Server      Unable to load user-specified certificate [Cert Hash(sha1) "AB"].',
    "2026-12-07 19:00:05.00 Server      TDSSNIClient initialization failed with error 0x8009030d.",
]


class FakeAgent:
    """Services MSSQLSERVER (dependent SQLSERVERAGENT), one SuperSocketNetLib\\Certificate, an ERRORLOG,
    a journal. A start loads the bound certificate, or self-generates; a bound one in ``broken`` fails."""

    def __init__(self, certificate="", broken=(), loads=None):
        self.certificate = certificate
        self.broken = set(broken)
        self.loads = loads  # what a start loads when nothing is bound (None: self-generated)
        self.state = {"MSSQLSERVER": "Running", "SQLSERVERAGENT": "Running"}
        self.errorlog = ["old start"]
        self.journal: dict[str, list[str]] = {}
        self.sent: list[tuple[list[dict], dict | None]] = []
        self.starts = 0

    def _start(self, name):
        if name == "SQLSERVERAGENT":
            self.state[name] = "Running"
            return True
        self.starts += 1
        if self.certificate in self.broken:
            self.errorlog = list(FAILED)
            self.state[name] = "Stopped"
            return False
        line = (
            loaded_line(self.certificate)
            if self.certificate
            else (loaded_line(self.loads) if self.loads else SELF)
        )
        self.errorlog = [
            f"start {self.starts}",
            line.replace("2026-11-29 22:00:03.45", f"2026-12-07 19:0{self.starts}"),
        ]
        self.state[name] = "Running"
        return True

    def op(self, op):
        kind = op["op"]
        if kind == "svc.restart":
            self.state["SQLSERVERAGENT"] = self.state["MSSQLSERVER"] = "Stopped"
            if not self._start("MSSQLSERVER"):
                detail = {"state": "Stopped", "stopped": ["SQLSERVERAGENT", "MSSQLSERVER"], "started": []}
                return OpResult(
                    kind, False, error_kind="error", error_message="it is Stopped", error_detail=detail
                )
            self._start("SQLSERVERAGENT")
            return OpResult(
                kind,
                True,
                {"stopped": ["SQLSERVERAGENT", "MSSQLSERVER"], "started": ["MSSQLSERVER", "SQLSERVERAGENT"]},
            )
        if kind == "cluster.restart":
            ok = self._start("MSSQLSERVER")
            if ok:
                return OpResult(
                    kind, True, {"offline": [op["resource"]], "online": [op["resource"]], "state": "Online"}
                )
            return OpResult(kind, False, error_kind="error", error_message="resource failed")
        if kind == "svc.start":
            if self._start(op["name"]):
                return OpResult(kind, True, {"started": [op["name"]], "state": "Running"})
            return OpResult(kind, False, error_kind="error", error_message="it is Stopped")
        if kind == "svc.query":
            return OpResult(kind, True, [{"name": n, "state": self.state.get(n)} for n in op["names"]])
        if kind == "file.tail":
            return OpResult(kind, True, [{"path": "ERRORLOG", "exists": True, "lines": list(self.errorlog)}])
        if kind == "journal.read":
            records = [{"id": i, "created_utc": None, "lines": lines} for i, lines in self.journal.items()]
            return OpResult(kind, True, {"records": records})
        if kind == "reg.read":
            values = {"Certificate": {"type": "REG_SZ", "data": self.certificate}}
            return OpResult(kind, True, {"exists": True, "values": values, "subkeys": {}})
        if kind == "reg.write":
            assert op["expect"] == {"type": "REG_SZ", "data": self.certificate}, op
            self.certificate = op["value"]["data"]
            return OpResult(kind, True, {})
        raise AssertionError(f"fake agent: {kind}")

    def run_batch(self, ops, journal):
        self.sent.append((ops, journal))
        if journal is not None:
            self.journal[journal["id"]] = [journal["line"]]
        results = []
        for index, op in enumerate(ops):
            result = self.op(op)
            results.append(result)
            if journal is not None and result.ok:
                self.journal[journal["id"]].append(json.dumps({"applied": index}))
            if not result.ok and journal is not None:
                break
        return BatchResult(results, journal_id=journal["id"] if journal else None)

    def binding_change(self, run, before, after):
        """A journal record of sql_encryption that changed Certificate (as apply_plan writes it)."""
        entry = {
            "op": {},
            "target": {"kind": "reg_value", "path": NETLIB, "name": "Certificate"},
            "before": {"type": "REG_SZ", "data": before},
            "after": {"type": "REG_SZ", "data": after},
            "creates_keys": [],
            "change": {"target": f"{NETLIB}\\Certificate", "activation": "service_restart"},
        }
        head = {"v": 1, "kind": "apply", "run": run, "module": "sql_encryption", "ops": [entry]}
        self.journal[f"{run}.sql_encryption.1"] = [json.dumps(head), json.dumps({"applied": 0})]
        self.certificate = after


class Probe:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, address, port, mode):
        self.calls.append((address, port, mode))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_host(agent, probe=None):
    clock = {"t": 0.0}
    return rst.Host(
        run_batch=agent.run_batch,
        run_id=RUN,
        now=lambda: dt.datetime(2026, 12, 7, 19, 5, tzinfo=dt.UTC),
        probe=probe,
        address="10.0.0.5",
        sleep=lambda s: clock.__setitem__("t", clock["t"] + s),
        monotonic=lambda: clock["t"],
    )


def step_for(facts):
    steps, skips = rst.restart_steps(facts, facts["sql"]["instances"], allow_primary_restart=False)
    assert skips == []
    return steps[0]


# ---- which way and in which order -------------------------------------------------------------


def fci(owner: str, *, hadr=False, ag_owner=None):
    resources = [
        {
            "name": "SQL Server",
            "type": "SQL Server",
            "group": "G",
            "owner_node": owner,
            "state": "Online",
            "private": {"InstanceName": "MSSQLSERVER"},
        },
    ]
    if ag_owner:
        resources.append(
            {
                "name": "AG1",
                "type": "SQL Server Availability Group",
                "group": "AG1",
                "owner_node": ag_owner,
                "state": "Online",
                "private": {},
            }
        )
    return resources


def test_a_standalone_instance_restarts_its_service_with_dependents():
    facts = facts_of(host([], [auto(None)]))
    step = step_for(facts)
    assert (step.method, step.service, step.resource) == ("service", "MSSQLSERVER", None)
    assert rst._restart_op(step, 60) == {
        "op": "svc.restart",
        "name": "MSSQLSERVER",
        "with_dependents": True,
        "timeout_s": 60,
    }


def test_a_failover_cluster_instance_restarts_through_its_resource_on_the_owner_only():
    on_owner = facts_of(
        host([], [Instance(clustered=True)], cluster_node=True, cluster_resources=fci("SQL1"))
    )
    step = step_for(on_owner)
    assert (step.method, step.resource) == ("cluster_resource", "SQL Server")
    elsewhere = facts_of(
        host([], [Instance(clustered=True)], cluster_node=True, cluster_resources=fci("SQL2"))
    )
    steps, skips = rst.restart_steps(elsewhere, elsewhere["sql"]["instances"], allow_primary_restart=True)
    assert steps == [] and [(s.code, s.data) for s in skips] == [("not_owner", {"owner_node": "SQL2"})]
    lost = facts_of(host([], [Instance(clustered=True)], cluster_node=True))
    assert [
        s.code for s in rst.restart_steps(lost, lost["sql"]["instances"], allow_primary_restart=True)[1]
    ] == ["cluster_resource_not_found"]


def test_a_primary_replica_is_refused_unless_allowed_and_then_restarts_after_the_secondaries():
    resources = [
        {
            "name": "AG1",
            "type": "SQL Server Availability Group",
            "group": "AG1",
            "owner_node": "SQL1",
            "state": "Online",
            "private": {},
        },
    ]
    h = host(
        [], [auto(None, hadr=True), auto(None, name="HR")], cluster_node=True, cluster_resources=resources
    )
    facts = facts_of(h)
    steps, skips = rst.restart_steps(facts, facts["sql"]["instances"], allow_primary_restart=False)
    assert [s.instance["name"] for s in steps] == ["HR"]
    assert [(s.code, s.data) for s in skips] == [("primary_refused", {"groups": ["AG1"]})]
    steps, _refused = rst.restart_steps(facts, facts["sql"]["instances"], allow_primary_restart=True)
    assert [(s.instance["name"], s.ag_role) for s in steps] == [("HR", None), ("MSSQLSERVER", "primary")]
    resources[0]["owner_node"] = "SQL2"
    secondary = facts_of(h)
    steps, skips = rst.restart_steps(secondary, secondary["sql"]["instances"], allow_primary_restart=False)
    assert skips == [] and steps[1].ag_role == "secondary"


def test_unknown_instances_are_named():
    facts = facts_of(host([], [auto(None)]))
    found, unknown = rst.find_instances(facts, ["mssql16.mssqlserver", "PAYROLL"])
    assert [i["name"] for i in found] == ["MSSQLSERVER"] and unknown == ["PAYROLL"]


# ---- readiness --------------------------------------------------------------------------------


def test_ready_when_running_the_new_errorlog_line_and_the_prober_agree():
    tp, entry = cert("sha512")
    facts = facts_of(host([entry], [auto(tp)]))  # SQL would now pick it again: one candidate
    agent = FakeAgent(loads=tp)
    probe = Probe(RuntimeError("connection refused"), tp.upper())
    done = rst.restart_one(make_host(agent, probe), facts, step_for(facts), timeout_s=30, binding_run=None)
    assert done.readiness.ready and done.readiness.loaded_thumbprint == tp
    assert done.readiness.probe == {"used": True, "seen": tp, "address": "10.0.0.5", "port": 1433}
    assert probe.calls == [("10.0.0.5", 1433, "tds"), ("10.0.0.5", 1433, "tds")]
    (ops, journal), *_reads = agent.sent
    assert json.loads(journal["line"])["kind"] == "activation" and ops[0]["op"] == "svc.restart"


def test_the_self_generated_certificate_is_one_the_store_does_not_hold():
    tp, entry = cert("sha512", eku=("1.3.6.1.5.5.7.3.2",))
    facts = facts_of(host([entry], [auto(tp)]))
    done = rst.restart_one(
        make_host(FakeAgent(), Probe("ab" * 20)), facts, step_for(facts), timeout_s=30, binding_run=None
    )
    assert done.expected.kind == "self_generated" and done.readiness.self_generated
    with pytest.raises(NotReady, match="prober saw " + tp):
        rst.restart_one(
            make_host(FakeAgent(), Probe(tp)), facts, step_for(facts), timeout_s=5, binding_run=None
        )


def test_a_start_that_loaded_something_else_fails_at_once_quoting_the_errorlog():
    tp, entry = cert("sha256")
    facts = facts_of(host([entry], [bound(tp)]))
    agent = FakeAgent(certificate="")  # someone cleared the binding behind our back
    with pytest.raises(
        NotReady,
        match=rf"loaded the self-generated certificate, expected certificate {tp}\. ERRORLOG: start 1",
    ):
        rst.restart_one(make_host(agent), facts, step_for(facts), timeout_s=30, binding_run=None)


def test_no_handshake_possible_means_service_and_errorlog_alone():
    old = Instance(id="MSSQL12.MSSQLSERVER", version="12.0.4416.0")
    protocols = {p: {"Server": {"Enabled": 0, "DisabledByDefault": 1}} for p in ("TLS 1.0", "TLS 1.1")}
    facts = facts_of(host([], [old], version=WS2012R2, protocols=protocols))
    target = probe_target(facts, facts["sql"]["instances"][0], "10.0.0.5")
    assert target.skip_reason.startswith(
        "no TLS version in common: SQL Server 12.0.4416.0 speaks TLS 1.0, TLS 1.1,"
    )
    assert "(scenario 1)" in target.skip_reason
    probe = Probe("never")
    done = rst.restart_one(
        make_host(FakeAgent(), probe), facts, step_for(facts), timeout_s=30, binding_run=None
    )
    assert done.readiness.ready and done.readiness.probe["used"] is False and probe.calls == []


# ---- a start that fails -----------------------------------------------------------------------


def test_a_failed_start_after_a_binding_change_restores_the_binding_and_starts_again():
    old_tp, old = cert("sha512", serial=1)
    new_tp, new = cert("sha256", serial=2, has_private_key=False)
    agent = FakeAgent(broken={new_tp})
    agent.binding_change(RUN, old_tp, new_tp)
    facts = facts_of(host([old, new], [bound(new_tp)]))
    with pytest.raises(rst.RestartError) as failure:
        rst.restart_one(make_host(agent), facts, step_for(facts), timeout_s=30, binding_run=RUN)
    message = str(failure.value)
    assert f"failed to start with the binding of run {RUN}" in message
    assert "Error: 26014" in message and "Unable to load user-specified certificate" in message
    assert f"Certificate {new_tp!r} -> {old_tp!r}" in message and "it runs again" in message
    assert agent.certificate == old_tp
    assert agent.state == {"MSSQLSERVER": "Running", "SQLSERVERAGENT": "Running"}
    restore = [
        json.loads(lines[0]) for lines in agent.journal.values() if json.loads(lines[0])["kind"] == "restore"
    ]
    assert [(r["module"], r["restores"], r["instance"]) for r in restore] == [
        ("sql_service", RUN, "MSSQL16.MSSQLSERVER")
    ]
    start_again = agent.sent[-2][0]  # before the last read: svc.start of the engine, then the agent
    assert [o["name"] for o in start_again] == ["MSSQLSERVER", "SQLSERVERAGENT"]


def test_a_failed_start_without_a_binding_change_of_the_run_is_started_as_it_was():
    tp, entry = cert("sha256")
    agent = FakeAgent(certificate=tp, broken={tp})
    agent.binding_change("20261201T000000Z-000000", "", tp)  # another run: not ours to undo
    facts = facts_of(host([entry], [bound(tp)]))
    with pytest.raises(rst.RestartError, match="starting it again failed too") as failure:
        rst.restart_one(make_host(agent), facts, step_for(facts), timeout_s=30, binding_run=RUN)
    assert "Start it by hand" in str(failure.value) and agent.certificate == tp


def test_restore_without_a_run_given_undoes_the_newest_binding_change_still_in_place():
    old_tp, old = cert("sha512", serial=1)
    new_tp, new = cert("sha256", serial=2)
    agent = FakeAgent(broken={new_tp})
    agent.binding_change("20261201T000000Z-000000", "", old_tp)
    agent.binding_change("20261207T180000Z-000000", old_tp, new_tp)
    facts = facts_of(host([old, new], [bound(new_tp)]))
    with pytest.raises(rst.RestartError, match="binding of run 20261207T180000Z-000000"):
        rst.restart_one(make_host(agent), facts, step_for(facts), timeout_s=30, binding_run=None)
    assert agent.certificate == old_tp


def test_the_diff_shows_the_certificate_before_and_after():
    tp, entry = cert("sha512", eku=("1.3.6.1.5.5.7.3.2",))
    facts = facts_of(host([entry], [auto(tp)]))
    step = step_for(facts)
    key = "MSSQL16.MSSQLSERVER certificate"
    planned = rst.restart_diff(facts, [step])
    assert (planned["before"][key], planned["after"][key]) == (tp, "the self-generated certificate")
    done = rst.restart_one(make_host(FakeAgent()), facts, step, timeout_s=30, binding_run=None)
    assert rst.restart_diff(facts, [step], [done])["after"][key] == "self-generated"
