"""The facts as they will be once some planned ops are applied, without asking the host again.

Two uses: a plan says what SQL Server will load at its next start once it is applied
(``certificate_choice.next_start_certificate`` over these facts), and a fix module hands the
next module of the play facts that already show its own writes (``ansible_facts.mssql_tls``),
so that the next plan carries the right ``expect`` values and sees, say, a cleared binding.

Only the targets the certificate modules write are folded in: ``SuperSocketNetLib`` values
(the raw ``registry`` node and the instance's ``certificate.bound``, ``force_encryption``,
``force_strict``), certificate property 9 (the purposes, facts/certs.py) and a private key's
DACL. The same readers as the gather derive the fields (facts/sql.py, facts/certs.py,
facts/build.py), so the overlay cannot read a value differently from a fresh gather.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from ..facts import registry as reg
from ..facts.build import link_certificates
from ..facts.certs import purpose_fields
from ..facts.sql import SQL_ROOT_KEY, netlib_settings
from .apply import Outcome
from .certificate_choice import next_start_certificate, restart_changes_certificate
from .model import SERVICE_RESTART, PlannedOp


def _split(path: str) -> list[str]:
    return [p for p in path.split("\\") if p]


def _set_raw(roots: dict[str, Any], path: str, name: str, value: Mapping[str, Any] | None) -> None:
    parts = _split(path)
    for root_path, node in roots.items():
        root = _split(root_path)
        if [p.casefold() for p in parts[: len(root)]] != [p.casefold() for p in root]:
            continue
        if node.get("exists") is False:
            node.update(exists=True, values={}, subkeys={})
        for part in parts[len(root) :]:
            subkeys = node.setdefault("subkeys", {})
            found = next((k for k in subkeys if k.casefold() == part.casefold()), None)
            if found is None or subkeys[found] is None:
                found = found or part
                subkeys[found] = {"values": {}, "subkeys": {}}
            node = subkeys[found]
        values = node.setdefault("values", {})
        existing = next((k for k in values if k.casefold() == name.casefold()), None)
        if value is None:
            values.pop(existing, None)
        else:
            values[existing or name] = dict(value)
        return


def _instance_netlib(facts: Mapping[str, Any], instance: Mapping[str, Any]) -> reg.Node | None:
    tree = (facts.get("registry") or {}).get(SQL_ROOT_KEY)
    return reg.subkey(tree, instance["id"], "MSSQLServer", "SuperSocketNetLib")


def _netlib_of(path: str) -> str | None:
    """The instance id when ``path`` is ``<SQL root>\\<id>\\MSSQLServer\\SuperSocketNetLib``."""
    parts, root = _split(path), _split(SQL_ROOT_KEY)
    tail = parts[len(root) :]
    if [p.casefold() for p in parts[: len(root)]] != [p.casefold() for p in root] or len(tail) != 3:
        return None
    if [p.casefold() for p in tail[1:]] != ["mssqlserver", "supersocketnetlib"]:
        return None
    return tail[0]


def facts_after(facts: Mapping[str, Any], ops: Iterable[PlannedOp]) -> dict[str, Any]:
    """A copy of ``facts`` with the effect of ``ops`` on SQL bindings, property 9 and key DACLs."""
    out = copy.deepcopy(dict(facts))
    certs = {c.get("thumbprint"): c for c in out.get("certificates") or []}
    touched_netlib = False
    for planned in ops:
        target = planned.target
        kind = target.get("kind")
        if kind == "reg_value" and _netlib_of(target["path"]) is not None:
            _set_raw(out.setdefault("registry", {}), target["path"], target["name"], planned.after)
            touched_netlib = True
        elif kind == "cert_prop" and int(target.get("prop_id", 0)) == 9:
            cert = certs.get(str(target["thumbprint"]).lower())
            if cert is not None and not cert.get("parse_error"):
                cert.update(
                    purpose_fields(
                        cert.get("eku_extension"),
                        planned.after,
                        bool(cert.get("has_private_key")),
                        bool(cert.get("valid_now")),
                    )
                )
        elif kind == "key_acl":
            cert = certs.get(str(target["thumbprint"]).lower())
            if cert is not None:
                previous = cert.get("key_acl") or {}
                cert["key_acl"] = {"kind": previous.get("kind"), "sddl": planned.after}
                cert["key_acl_error"] = None
    instances = (out.get("sql") or {}).get("instances") or []
    if touched_netlib:
        for instance in instances:
            settings = netlib_settings(_instance_netlib(out, instance))
            instance["certificate"]["bound"] = settings["bound"]
            instance["force_encryption"] = settings["force_encryption"]
            instance["force_strict"] = settings["force_strict"]
    link_certificates(instances, out.get("certificates") or [])
    return out


def applied_ops(outcome: Outcome) -> list[PlannedOp]:
    return [batch.plan.ops[i] for batch in outcome.batches for i in batch.applied]


def certificate_extras(outcome: Outcome, check_mode: bool, scope: Iterable[str]) -> dict[str, Any]:
    """Result fields of the certificate modules, computed from the facts and the plan (no round trip).

    - ``next_start``: per instance in ``scope`` (ids), the certificate its next start loads once the
      plan is applied (in check mode: would be);
    - ``restart_pending_instances``: those whose next start loads something else than their last
      start did (ERRORLOG), or fails: what a restart would change. It includes instances whose
      change was made by an earlier run and that were never restarted since;
    - ``ansible_facts.mssql_tls``: the facts with the writes folded in (in check mode: the writes it
      would make), so that the next module of the play plans against the host as it is now (or
      would be): the roles chain sql_encryption and certificate_purpose on them.
    """
    done = outcome.plan.ops if check_mode else applied_ops(outcome)
    after = facts_after(outcome.facts, done)
    wanted = set(scope) | set(outcome.plan.restart_instances)
    changed = [i for p in done if p.change.activation == SERVICE_RESTART for i in p.change.instances]
    next_start, pending = {}, list(dict.fromkeys(changed))
    for instance in (after.get("sql") or {}).get("instances") or []:
        if instance["id"] not in wanted:
            continue
        next_start[instance["id"]] = {
            "instance": instance["name"],
            **next_start_certificate(after, instance).as_dict(),
        }
        if restart_changes_certificate(after, instance) and instance["id"] not in pending:
            pending.append(instance["id"])
    extras: dict[str, Any] = {"next_start": next_start, "restart_pending_instances": pending}
    if done or outcome.regathered:
        extras["ansible_facts"] = {"mssql_tls": after}
    return extras
