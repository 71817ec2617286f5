"""The one module of the core that imports Ansible.

Action plugins hand `connection_executor(self._connection)` to the core, which
only ever sees a plain ``Execute`` callable: (command line, stdin) -> (rc, stdout, stderr).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

from .agent.client import (
    AgentProtocolError,
    BatchResult,
    Execute,
    build_command,
    build_request,
    parse_response,
)
from .agent.ops import op
from .facts.build import SCHEMA_VERSION, build_facts
from .facts.gather import gather_ops
from .journal.record import JournalError, check_run_id, new_run_id
from .plan.apply import Outcome, converge
from .plan.model import Plan
from .plan.result import module_result

# A dropped connection is retried once, after a short pause, and only for
# read-only batches: a write batch may have been applied, and the journal on
# the host is what tells; re-sending it blindly could apply it twice.
_READ_RETRIES = 1
_RETRY_PAUSE_S = 2.0


def connection_executor(connection: Any) -> Execute:
    def execute(command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        rc, stdout, stderr = connection.exec_command(command, in_data=stdin, sudoable=False)
        return rc, to_bytes(stdout), to_bytes(stderr)

    return execute


def run_agent_batch(
    connection: Any,
    ops: list[Mapping[str, Any]],
    journal: Mapping[str, Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Run one agent batch through the task's connection, mapping failures to Ansible errors."""
    try:
        request = build_request(ops, journal)
    except ValueError as exc:  # a bad op or journal is a bug or bad input, never a transport problem
        raise AnsibleActionFail(f"mssql.tls agent request: {exc}") from None
    command, stdin = build_command(request)
    execute = connection_executor(connection)
    retries_left = 0 if journal is not None else _READ_RETRIES
    while True:
        try:
            rc, stdout, stderr = execute(command, stdin)
            break
        except Exception as exc:  # AnsibleConnectionFailure, or requests/pywinrm errors as they are
            if retries_left == 0:
                raise AnsibleConnectionFailure(_lost_message(exc, journal)) from None
            retries_left -= 1
            _reset(connection)
            sleep(_RETRY_PAUSE_S)
    try:
        return parse_response(stdout, stderr, rc, request)
    except AgentProtocolError as exc:
        # `from None`: ansible-core 2.19 appends a chained exception's text to the message.
        raise AnsibleActionFail(f"mssql.tls agent: {exc}") from None


def _reset(connection: Any) -> None:
    reset = getattr(connection, "reset", None)
    if callable(reset):
        reset()


def _lost_message(exc: Exception, journal: Mapping[str, Any] | None) -> str:
    if journal is None:
        return f"mssql.tls agent batch failed: {exc}"
    return (
        f"mssql.tls agent write batch lost its connection: {exc}. Some of its changes may have been "
        f"applied; journal record {journal['id']} on the host says which (journal.read)."
    )


def batch_runner(connection: Any) -> Callable[[list[dict[str, Any]], Mapping[str, Any] | None], BatchResult]:
    """The ``run_batch`` callable of plan/apply.py for this task's connection."""

    def run(ops: list[dict[str, Any]], journal: Mapping[str, Any] | None) -> BatchResult:
        return run_agent_batch(connection, ops, journal)

    return run


def gather_facts(connection: Any, now: Callable[[], dt.datetime] | None = None) -> dict[str, Any]:
    """The mssql_tls facts of the host: the audit's one gather batch, normalised."""
    batch = run_agent_batch(connection, gather_ops())
    try:
        return build_facts(batch, now=(now or _utc_now)())
    except ValueError as exc:  # the message names what could not be read
        raise AnsibleActionFail(f"mssql.tls facts: {exc}") from None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# The sections of the facts the fix modules read, with their types (docs/facts-schema.md).
_DICT_SECTIONS = ("host", "os", "schannel", "cipher_suites", "dotnet", "winhttp", "fips", "sql", "cluster")
FACT_SECTIONS: dict[str, type] = {
    **dict.fromkeys((*_DICT_SECTIONS, "registry", "bindings", "pending"), Mapping),
    "certificates": list,
    "drivers": list,
}


def known_facts(args: Mapping[str, Any], task_vars: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Facts passed as the ``facts`` argument, else those the play already gathered, else None."""
    if args.get("facts") is not None:
        facts = args["facts"]
    else:
        facts = ((task_vars or {}).get("ansible_facts") or {}).get("mssql_tls")
    if facts is None:
        return None
    if not isinstance(facts, Mapping) or facts.get("schema_version") != SCHEMA_VERSION:
        raise AnsibleActionFail(
            f"facts: expected mssql_tls facts of schema_version {SCHEMA_VERSION} (from mssql.tls.tls_facts), "
            f"got {type(facts).__name__} with schema_version "
            f"{facts.get('schema_version') if isinstance(facts, Mapping) else None!r}"
        )
    if any(name not in facts for name in FACT_SECTIONS):
        return None  # gathered by an older version of the collection: gather again
    for name, kind in FACT_SECTIONS.items():
        if not isinstance(facts[name], kind):
            raise AnsibleActionFail(
                f"facts.{name}: expected {'a list' if kind is list else 'a dict'} as mssql.tls.tls_facts "
                f"returns it, got {type(facts[name]).__name__}"
            )
    return dict(facts)


def converge_on(
    connection: Any,
    facts: Mapping[str, Any],
    make_plan: Callable[[Mapping[str, Any]], Any],
    *,
    check_mode: bool,
    run_id: str,
    module: str,
    now: dt.datetime,
) -> Outcome:
    """``plan.apply.converge`` over this connection: its write batches, a fresh gather on conflict."""
    return converge(
        batch_runner(connection),
        lambda: gather_facts(connection),
        facts,
        make_plan,
        check_mode=check_mode,
        run_id=run_id,
        module=module,
        now=now,
    )


def run_fix(
    connection: Any,
    args: Mapping[str, Any],
    task_vars: Mapping[str, Any] | None,
    *,
    module: str,
    make_plan: Callable[[Mapping[str, Any]], Plan],
    check_mode: bool,
    diff: bool,
    extend: Callable[[Outcome, bool], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The shared run of every fix module: facts, plan, apply (or not), result.

    Facts come from the ``facts`` argument or ``ansible_facts.mssql_tls``; only when neither
    exists does the module gather (one batch). An empty plan costs no further round trip.
    ``extend(outcome, check_mode)`` adds module-specific fields to the result (pure, no round trip).
    """
    now = _utc_now()
    try:
        run_id = check_run_id(args["run_id"]) if args.get("run_id") else new_run_id(now)
    except JournalError as exc:
        raise AnsibleActionFail(str(exc)) from None
    facts = known_facts(args, task_vars)
    gathered = facts is None
    if facts is None:
        facts = gather_facts(connection)
    outcome = converge_on(
        connection, facts, make_plan, check_mode=check_mode, run_id=run_id, module=module, now=now
    )
    result = module_result(
        outcome,
        check_mode=check_mode,
        diff=diff,
        lang=args.get("lang") or "en",
        run_id=run_id,
        gathered=gathered,
    )
    if extend is not None:
        result.update(extend(outcome, check_mode))
    return result


def poll_os_info(connection: Any) -> Callable[[], Mapping[str, Any]]:
    """One read-only ``os.info`` batch per call, on a fresh connection (the host may have rebooted)."""

    def poll() -> Mapping[str, Any]:
        _reset(connection)
        batch = run_agent_batch(connection, [op("os.info")], sleep=lambda _s: None)
        (result,) = batch.results
        if not result.ok:
            raise AnsibleActionFail(f"os.info: {result.error_kind}: {result.error_message}")
        return result.data or {}

    return poll


Extend = Callable[[Outcome, bool], Mapping[str, Any]]


class FixAction(ActionBase):
    """The action plugin of every fix module: validated arguments -> planner -> ``run_fix``.

    A subclass names its ``MODULE``, its ``ARGUMENT_SPEC``, the exceptions its policy
    validation raises (``INPUT_ERRORS``, each naming the bad field) and ``planner(args)``,
    which returns the pure ``make_plan(facts)`` and, optionally, an ``extend`` hook.
    """

    _supports_check_mode = True
    _supports_async = False
    MODULE = ""
    ARGUMENT_SPEC: dict[str, Any] = {}
    INPUT_ERRORS: tuple[type[Exception], ...] = ()

    def planner(self, args: Mapping[str, Any]) -> tuple[Callable[[Mapping[str, Any]], Plan], Extend | None]:
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        del tmp
        result = super().run(task_vars=task_vars)
        args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]
        try:
            make_plan, extend = self.planner(args)
        except self.INPUT_ERRORS as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(
            run_fix(
                self._connection,
                args,
                task_vars,
                module=self.MODULE,
                make_plan=make_plan,
                check_mode=self._task.check_mode,
                diff=self._task.diff,
                extend=extend,
            )
        )
        return result
