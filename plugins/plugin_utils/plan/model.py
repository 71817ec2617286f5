"""What a plan is: ordered write ops with their preconditions, a human diff, activations, blockers.

A planner is a pure function ``(facts, policy) -> Plan`` (DESIGN.md "Remediation"). Every
planned op carries the agent op to send (with its ``expect`` precondition, compare-and-set)
and the ops that undo it (each expecting the value the op writes), so that the journal
record written before the batch is enough to roll it back. Nothing here knows about
Ansible; text is rendered where it is shown (``plan.render``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# How a change takes effect (DESIGN.md "Remediation", step 4).
REBOOT = "reboot"  # Schannel protocol keys, the Policy suite list (windows-schannel.md 1.2, 4)
IMMEDIATE = "immediate"  # the Local list through CNG, the TLS cmdlets (windows-schannel.md 4)
SERVICE_RESTART = (
    "service_restart"  # SQL Server reads its binding and certificate at start (sqlserver-tls.md 2, 3)
)
ACTIVATIONS = (REBOOT, IMMEDIATE, SERVICE_RESTART)


@dataclass(frozen=True)
class Change:
    """One line of the human diff: what changes, from what, to what."""

    target: str  # e.g. 'HKLM\\...\\Protocols\\TLS 1.0\\Server\\Enabled'
    before: Any  # display value; None = absent
    after: Any  # display value; None = absent (removed)
    activation: str
    # For SERVICE_RESTART: the instance ids whose next start picks the change up.
    instances: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "activation": self.activation,
        }
        if self.instances:
            out["instances"] = list(self.instances)
        return out


@dataclass(frozen=True)
class PlannedOp:
    """One agent write op, the diff line it stands for, and what rollback needs to undo it.

    ``target`` says what the op changes in a form rollback can read back (``journal.rollback``):
    ``{"kind": "reg_value", "path", "name"}``, ``{"kind": "reg_key", "path"}``,
    ``{"kind": "cert_prop", "store", "thumbprint", "prop_id"}``, ``{"kind": "key_acl", "store",
    "thumbprint"}``, ``{"kind": "suite", "name"}``. ``before`` and ``after`` are the state of
    the target in wire form (a registry value ``{"type", "data"}``, base64, SDDL, a suite's
    ``{"present", "position"}``, a key's subtree), ``None`` meaning absent.
    """

    op: Mapping[str, Any]
    change: Change
    target: Mapping[str, Any]
    before: Any
    after: Any
    # Keys the op will create, as far as the facts tell; the agent's progress line says exactly.
    creates_keys: tuple[str, ...] = ()

    def journal_entry(self) -> dict[str, Any]:
        return {
            "op": dict(self.op),
            "target": dict(self.target),
            "before": self.before,
            "after": self.after,
            "creates_keys": list(self.creates_keys),
            "change": self.change.as_dict(),
        }


@dataclass(frozen=True)
class Blocker:
    """Something that stops a change, or a scenario the plan cannot fix; ``code`` is catalog-keyed.

    ``clears_with`` names the upgrade or action that removes the blocker. A forced blocker
    was overridden by ``force: true`` and is reported as such; an unforceable one (leaving a
    side without any protocol) is never overridden.
    """

    code: str
    target: str
    data: Mapping[str, Any] = field(default_factory=dict)
    clears_with: str | None = None
    forceable: bool = True
    forced: bool = False
    # True when the plan did not even contain a change to refuse: the scenario stays
    # (e.g. TLS 1.0 already off and a SQL build without TLS 1.2).
    unfixable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "target": self.target,
            "data": dict(self.data),
            "clears_with": self.clears_with,
            "forced": self.forced,
            "unfixable": self.unfixable,
        }


@dataclass(frozen=True)
class PlanWarning:
    """A named condition the operator should know about; the change still happens."""

    code: str
    target: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "target": self.target, "data": dict(self.data)}


@dataclass(frozen=True)
class Plan:
    concern: str
    ops: tuple[PlannedOp, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    forced: bool = False

    @property
    def empty(self) -> bool:
        return not self.ops

    @property
    def activations(self) -> tuple[str, ...]:
        found = {p.change.activation for p in self.ops}
        return tuple(a for a in ACTIVATIONS if a in found)

    @property
    def reboot_required(self) -> bool:
        return REBOOT in self.activations

    @property
    def restart_instances(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.ops:
            if p.change.activation == SERVICE_RESTART:
                seen.update(dict.fromkeys(p.change.instances))
        return tuple(seen)

    @property
    def refusals(self) -> tuple[Blocker, ...]:
        """Blockers that stopped a change (not forced)."""
        return tuple(b for b in self.blockers if not b.forced)

    def write_ops(self) -> list[dict[str, Any]]:
        return [dict(p.op) for p in self.ops]

    def diff(self) -> dict[str, Any]:
        """Ansible's diff: before/after per target, in plan order."""
        return {
            "before": {p.change.target: p.change.before for p in self.ops},
            "after": {p.change.target: p.change.after for p in self.ops},
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "concern": self.concern,
            "changes": [p.change.as_dict() for p in self.ops],
            "ops": [dict(p.op) for p in self.ops],
            "activations": list(self.activations),
            "restart_instances": list(self.restart_instances),
            "blocked": [b.as_dict() for b in self.blockers],
            "warnings": [w.as_dict() for w in self.warnings],
            "forced": self.forced,
        }
