"""Boot and service-control semantics of the simulated host.

- reboot: a new boot snapshot (Schannel keys, Policy suite list, FIPS take effect,
  windows-schannel.md 1.2 and 4), then services with start mode Automatic start;
  on a cluster node the SQL resources this node owns come online.
- starting the SQL engine service re-runs SQL's start sequence (certificate,
  ForceEncryption, ForceStrict are read then, sqlserver-tls.md sections 2 and 3).
- restart with dependents: stop the dependents that are not stopped, then the service;
  start the service, then those dependents (sqlserver-tls.md section 12). Like
  ServiceController.Stop(), which stops every dependent that is not Stopped
  (microsoft/referencesource System.ServiceProcess/ServiceController.cs), a dependent on its way
  to Running (Running, StartPending, ContinuePending) is stopped and started again; a Paused one
  cannot be brought back to Paused, so the restart is refused before anything stops.
- a start that fails does not fail at once: the service goes StartPending, then Stopped, and
  Win32_Service reports ExitCode 1066 (ERROR_SERVICE_SPECIFIC_ERROR: the SqlService WMI class's
  ExitCode is "set to ERROR_SERVICE_SPECIFIC_ERROR (1066) when the error is unique to the
  service", MicrosoftDocs/sql-docs exitcode-property-sqlservice-class.md) with the failure's
  code as ServiceSpecificExitCode. Which code SQL Server puts there is not documented in the
  sources at hand; the lab uses the error code of its 17182 line (e.g. 0x80092004, "Cannot
  find object or property."), as a uint32 (inference).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from . import schannel, sqlserver
from .model import BootState, ClusterResource, HostState, Service, SqlInstance, iso


class ServiceError(RuntimeError):
    """A service operation Windows would refuse or that failed; `kind` is the agent error kind,
    `detail` the structured facts of a failed start (state and exit codes)."""

    def __init__(self, kind: str, message: str, detail: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail


ERROR_SERVICE_SPECIFIC_ERROR = 1066
ERROR_SERVICE_DEPENDENCY_FAIL = 1068
RESTARTED_DEPENDENT_STATES = ("Running", "StartPending", "ContinuePending")
UNRESTORABLE_DEPENDENT_STATES = ("Paused", "PausePending")


def start_failure_detail(svc: Service) -> dict[str, object]:
    return {
        "state": svc.state,
        "exit_code": svc.exit_code,
        "service_specific_exit_code": svc.service_specific_exit_code,
    }


def _require(state: HostState, name: str) -> Service:
    svc = state.service(name)
    if svc is None:
        raise ServiceError("not_found", f"Cannot find any service with service name '{name}'.")
    return svc


def _engine_instance(state: HostState, svc: Service) -> SqlInstance | None:
    for inst in state.sql_instances:
        if inst.service.lower() == svc.name.lower():
            return inst
    return None


def dependencies(state: HostState, svc: Service) -> list[Service]:
    """Services that list `svc` among their dependents (its DependOnService)."""
    return [s for s in state.services.values() if svc.name.lower() in (d.lower() for d in s.dependents)]


def start_service(state: HostState, name: str, clock: sqlserver.LabClock) -> list[str]:
    """StartService: dependencies first; a failed dependency fails this one (error 1068).

    Returns the services it started, dependencies first. A service whose own start fails
    goes StartPending, then Stopped, with its exit codes set (see the module docstring).
    """
    svc = _require(state, name)
    if svc.state == "Running":
        return []
    if svc.start_mode == "Disabled":
        raise ServiceError(
            "error",
            f"Service '{svc.display_name} ({svc.name})' cannot be started due to the following error: "
            f"Cannot start service {svc.name} on computer '.'.",
            start_failure_detail(svc),
        )
    started: list[str] = []
    for dependency in dependencies(state, svc):
        try:
            started += start_service(state, dependency.name, clock)
        except ServiceError as exc:
            raise ServiceError(
                "error",
                f"Failed to start service '{svc.display_name} ({svc.name})': the dependency service "
                f"'{dependency.name}' failed to start (error {ERROR_SERVICE_DEPENDENCY_FAIL}).",
                start_failure_detail(svc),
            ) from exc
    svc.state = "StartPending"
    svc.last_start_states = ["StartPending"]
    svc.exit_code = 0
    svc.service_specific_exit_code = 0
    inst = _engine_instance(state, svc)
    if inst is not None:
        try:
            sqlserver.start_instance(state, inst, clock)
        except sqlserver.StartFailed as exc:
            svc.state = "Stopped"
            svc.last_start_states.append("Stopped")
            svc.exit_code = ERROR_SERVICE_SPECIFIC_ERROR
            svc.service_specific_exit_code = exc.code
            raise ServiceError(
                "error",
                f"service '{svc.name}' failed to start: it is Stopped (exit code {svc.exit_code}, "
                f"service-specific exit code {svc.service_specific_exit_code}). {exc}",
                start_failure_detail(svc),
            ) from exc
    svc.state = "Running"
    svc.last_start_states.append("Running")
    return [*started, svc.name]


def stop_service(state: HostState, name: str) -> None:
    svc = _require(state, name)
    svc.state = "Stopped"
    inst = _engine_instance(state, svc)
    if inst is not None:
        sqlserver.stop_instance(state, inst)


@dataclass
class RestartResult:
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    state: str = "Running"


def _all_dependents(state: HostState, svc: Service) -> list[Service]:
    """Every direct and indirect dependent, deepest first (the order they must stop in)."""
    order: list[Service] = []
    for dep_name in svc.dependents:
        dep = state.service(dep_name)
        if dep is None:
            continue
        for inner in [*_all_dependents(state, dep), dep]:
            if inner not in order:
                order.append(inner)
    return order


def _dependents_to_restart(state: HostState, svc: Service) -> list[str]:
    """Dependents a restart stops and starts again, in stop order; refuses a Paused one."""
    dependents = _all_dependents(state, svc)
    paused = [f"{d.name} ({d.state})" for d in dependents if d.state in UNRESTORABLE_DEPENDENT_STATES]
    if paused:
        raise ServiceError(
            "error",
            f"service '{svc.name}' has dependents a restart cannot bring back to their state: "
            f"{', '.join(paused)}; resume or stop them first",
        )
    for dep in dependents:
        if dep.state == "StopPending":
            dep.state = "Stopped"  # already stopping: waited for, not started again
    return [d.name for d in dependents if d.state in RESTARTED_DEPENDENT_STATES]


def restart_service(
    state: HostState, name: str, with_dependents: bool, clock: sqlserver.LabClock
) -> RestartResult:
    svc = _require(state, name)
    if svc.start_mode == "Disabled":
        raise ServiceError("error", f"Service '{svc.name}' is disabled and cannot be restarted.")
    dependents = _dependents_to_restart(state, svc)
    if dependents and not with_dependents:
        raise ServiceError(
            "error",
            f"Cannot stop service '{svc.display_name} ({svc.name})' because it has dependent services. "
            "It can only be stopped if the Force flag is set.",
        )
    result = RestartResult()
    try:
        for dep in dependents:
            stop_service(state, dep)
            result.stopped.append(dep)
        if svc.state != "Stopped":
            stop_service(state, svc.name)
            result.stopped.append(svc.name)
        start_service(state, svc.name, clock)  # a failed start raises; dependents stay stopped
        result.started.append(svc.name)
        for dep in reversed(dependents):
            start_service(state, dep, clock)
            result.started.append(dep)
    except ServiceError as exc:
        detail = dict(exc.detail or {})
        detail.update(stopped=list(result.stopped), started=list(result.started))
        raise ServiceError(
            exc.kind,
            f"{exc} (stopped: [{', '.join(result.stopped)}]; started: [{', '.join(result.started)}])",
            detail,
        ) from exc
    result.state = svc.state
    return result


def shut_down(state: HostState) -> None:
    """Windows shutting down: every service stops (the TDS endpoints follow)."""
    for svc in state.services.values():
        stop_service(state, svc.name)


# ---- cluster ----------------------------------------------------------------------


def _resource(state: HostState, name: str) -> ClusterResource:
    for res in state.cluster.resources if state.cluster else []:
        if res.name.lower() == name.lower():
            return res
    raise ServiceError("not_found", f"The cluster resource '{name}' could not be found.")


def _resource_service(state: HostState, res: ClusterResource) -> str | None:
    """The Windows service behind an FCI resource (section 11: types 'SQL Server', 'SQL Server Agent')."""
    instance = str(res.private.get("InstanceName", ""))
    inst = state.instance(instance) if instance else None
    if inst is None:
        return None
    if res.type == "SQL Server":
        return inst.service
    if res.type == "SQL Server Agent":
        return inst.agent_service
    return None


def _is_local_owner(state: HostState, res: ClusterResource) -> bool:
    return res.owner_node.lower() == state.computer_name.lower()


def _dependents_of(state: HostState, res: ClusterResource) -> list[ClusterResource]:
    assert state.cluster is not None
    direct = [r for r in state.cluster.resources if res.name in r.depends_on]
    order: list[ClusterResource] = []
    for dep in direct:
        for inner in [*_dependents_of(state, dep), dep]:
            if inner not in order:
                order.append(inner)
    return order


def _online(state: HostState, res: ClusterResource, clock: sqlserver.LabClock) -> None:
    service = _resource_service(state, res) if _is_local_owner(state, res) else None
    if service is not None:
        try:
            start_service(state, service, clock)
        except ServiceError:
            res.state = "Failed"
            raise
    res.state = "Online"


def _offline(state: HostState, res: ClusterResource) -> None:
    service = _resource_service(state, res) if _is_local_owner(state, res) else None
    if service is not None:
        stop_service(state, service)
    res.state = "Offline"


def restart_cluster_resource(state: HostState, name: str, clock: sqlserver.LabClock) -> dict[str, object]:
    """Offline (dependents first) and online again, then dependents (sqlserver-tls.md section 12).

    Only services of this host follow the resource: each lab host keeps its own
    copy of the cluster, so a resource owned by another node just changes state.
    """
    res = _resource(state, name)
    dependents = [d for d in _dependents_of(state, res) if d.state == "Online"]
    offline, online = [], []
    for dep in dependents:
        _offline(state, dep)
        offline.append(dep.name)
    _offline(state, res)
    offline.append(res.name)
    _online(state, res, clock)
    online.append(res.name)
    for dep in reversed(dependents):
        _online(state, dep, clock)
        online.append(dep.name)
    return {"offline": offline, "online": online, "state": res.state}


# ---- boot -------------------------------------------------------------------------


def _start_order(state: HostState) -> list[Service]:
    """Services a dependent relies on start before it."""
    dependents = {d.lower() for s in state.services.values() for d in s.dependents}
    roots = [s for s in state.services.values() if s.name.lower() not in dependents]
    rest = [s for s in state.services.values() if s.name.lower() in dependents]
    return roots + rest


def boot(state: HostState, clock: sqlserver.LabClock) -> None:
    """Power on: snapshot what Schannel reads at boot, then start services."""
    state.boot = BootState(boot_utc=iso(clock.now()), snapshot=schannel.take_boot_snapshot(state))
    for svc in state.services.values():
        stop_service(state, svc.name)
    failed: set[str] = set()
    for svc in _start_order(state):
        if svc.start_mode != "Automatic":
            continue
        if any(d.name in failed for d in dependencies(state, svc)):
            failed.add(svc.name)  # the SCM does not retry a failed dependency at boot
            continue
        try:
            start_service(state, svc.name, clock)
        except ServiceError:
            failed.add(svc.name)  # as on Windows: it stays Stopped and the ERRORLOG says why
    if state.cluster is not None:
        for res in state.cluster.resources:
            if res.state == "Online" and _is_local_owner(state, res):
                with contextlib.suppress(ServiceError):  # a failed start leaves the resource Failed
                    _online(state, res, clock)
