"""svc.query / svc.restart / cluster.query / cluster.restart."""

from __future__ import annotations

from typing import Any

from . import windows
from .opcore import OpContext, OpError, invalid


def svc_query(ctx: OpContext, op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in op["names"]:
        svc = ctx.state.service(name)
        if svc is None:
            out.append(
                {
                    "name": name,
                    "exists": False,
                    "display_name": None,
                    "state": None,
                    "start_mode": None,
                    "dependents": [],
                }
            )
        else:
            out.append(
                {
                    "name": svc.name,
                    "exists": True,
                    "display_name": svc.display_name,
                    "state": svc.state,
                    "start_mode": svc.start_mode,
                    "dependents": list(svc.dependents),
                }
            )
    return out


def _timeout(op: dict[str, Any]) -> None:
    if op.get("timeout_s", 120) <= 0:
        raise invalid("field 'timeout_s': expected a positive number of seconds")


def svc_restart(ctx: OpContext, op: dict[str, Any]) -> dict[str, Any]:
    _timeout(op)
    try:
        result = windows.restart_service(ctx.state, op["name"], op.get("with_dependents", True), ctx.clock)
    except windows.ServiceError as exc:
        raise OpError(exc.kind, str(exc)) from exc
    return {"stopped": result.stopped, "started": result.started, "state": result.state}


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
