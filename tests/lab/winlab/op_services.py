"""svc.query / svc.restart / svc.start / cluster.query / cluster.restart."""

from __future__ import annotations

from typing import Any

from . import windows
from .opcore import OpContext, OpError, invalid, ordinal_ignore_case


def _service_entry(name: str, svc: Any) -> dict[str, Any]:
    if svc is None:
        return {
            "name": name,
            "exists": False,
            "display_name": None,
            "state": None,
            "start_mode": None,
            "dependents": [],
        }
    return {
        "name": svc.name,
        "exists": True,
        "display_name": svc.display_name,
        "state": svc.state,
        "start_mode": svc.start_mode,
        "dependents": list(svc.dependents),
    }


def svc_query(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    """Literal names first, in order; then, per prefix, the matching services by name, sorted
    ordinally without case (StringComparer.OrdinalIgnoreCase, as the agent sorts)."""
    out = [_service_entry(name, ctx.state.service(name)) for name in op["names"]]
    listed = {entry["name"].lower() for entry in out}
    for prefix in op.get("prefixes") or []:
        for svc in sorted(ctx.state.services.values(), key=lambda s: ordinal_ignore_case(s.name)):
            if svc.name.lower().startswith(prefix.lower()) and svc.name.lower() not in listed:
                listed.add(svc.name.lower())
                out.append(_service_entry(svc.name, svc))
    return out


def _timeout(op: dict[str, Any]) -> None:
    if op.get("timeout_s", 120) <= 0:
        raise invalid("field 'timeout_s': expected a positive number of seconds")


def svc_restart(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    _timeout(op)
    try:
        result = windows.restart_service(ctx.state, op["name"], op.get("with_dependents", True), ctx.clock)
    except windows.ServiceError as exc:
        raise OpError(exc.kind, str(exc), exc.detail) from exc
    return {"stopped": result.stopped, "started": result.started, "state": result.state}


def svc_start(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    """Start one service, its dependencies first (as StartService does)."""
    _timeout(op)
    try:
        started = windows.start_service(ctx.state, op["name"], ctx.clock)
    except windows.ServiceError as exc:
        raise OpError(exc.kind, str(exc), exc.detail) from exc
    svc = ctx.state.service(op["name"])
    return {"started": started, "state": svc.state if svc else None}


def cluster_query(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    cluster = ctx.state.cluster
    if cluster is None:
        return {"is_node": False, "cluster_name": None, "nodes": [], "resources": []}
    return {
        "is_node": True,
        "cluster_name": cluster.name,
        "nodes": [dict(n) for n in cluster.nodes],
        "resources": [
            {
                "name": r.name,
                "type": r.type,
                "group": r.group,
                "owner_node": r.owner_node,
                "state": r.state,
                "private": dict(r.private),
            }
            for r in cluster.resources
        ],
    }


def cluster_restart(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    _timeout(op)
    if ctx.state.cluster is None:
        raise OpError("not_found", "this computer is not a cluster node")
    try:
        return windows.restart_cluster_resource(ctx.state, op["resource"], ctx.clock)
    except windows.ServiceError as exc:
        raise OpError(exc.kind, str(exc)) from exc
