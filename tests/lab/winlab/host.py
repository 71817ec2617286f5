"""LabHost: one simulated host behind the HostRuntime seam, and `load_fleet`.

State lives in <state_dir>/hosts/<name>.json, rewritten atomically after every
change; private keys are cached in <state_dir>/keys so rebuilding is quick.
A host whose profile file changed since its state was written is rebuilt.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import build, certs, executor, model, sqlserver, windows
from .profiles import Profile, host_references, load_profile, resolve_hosts
from .runtime import CommandOutcome, Knobs


@dataclass(frozen=True)
class SqlEndpoint:
    """What the inventory and the TDS endpoints need to know about one instance."""

    instance: str  # MSSQLSERVER or the named-instance name
    instance_id: str  # e.g. MSSQL15.MSSQLSERVER
    port: int
    service: str
    virtual_name: str | None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class LabHost:
    """A HostRuntime: thread-safe, persists its state after every change."""

    def __init__(
        self,
        profile: Profile,
        state_path: Path,
        keys: certs.KeyCache,
        now: dt.datetime,
        clock: Callable[[], dt.datetime] = _utcnow,
        addresses: Mapping[str, str] | None = None,
    ) -> None:
        self.profile = resolve_hosts(profile, addresses or {})
        self.name = profile.name
        self.expect_scenarios = list(profile.expect_scenarios)
        self.state_path = state_path
        self._keys = keys
        self._built_at = now
        self._clock = sqlserver.LabClock(now=clock, keys=keys)
        self._lock = threading.RLock()
        self.state = self._load_or_build()

    # -- HostRuntime ---------------------------------------------------------

    def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
        with self._lock:
            return executor.run_command(self.state, command_line, stdin, knobs, self._clock, self.save)

    def reboot(self) -> None:
        with self._lock:
            windows.boot(self.state, self._clock)
            self.save()

    def power_off(self) -> None:
        """The first half of a restart: every service stops (reboot() boots again)."""
        with self._lock:
            windows.shut_down(self.state)
            self.save()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return model.to_json(self.state)

    # -- lab controls ----------------------------------------------------------

    def reset(self, now: dt.datetime | None = None) -> None:
        """Back to the freshly built profile state (certificates re-issued relative to `now`)."""
        with self._lock:
            self._built_at = now or self._clock.now()
            self.state = build.build_host(self.profile, self._built_at, self._keys)
            self.save()

    # -- fleet pairing: what the inventory writes for this host ----------------------

    @property
    def groups(self) -> list[str]:
        return list(self.profile.groups)

    @property
    def inventory_vars(self) -> dict[str, Any]:
        return dict(self.profile.inventory_vars or {})

    @property
    def expect_pairs(self) -> list[dict[str, Any]]:
        return [
            {"server": p.server, "instance": p.instance, "driver": p.driver, "scenario": p.scenario}
            | ({"remains": True} if p.remains else {})
            for p in self.profile.expect_pairs
        ]

    def resolve_addresses(self, addresses: Mapping[str, str]) -> None:
        """Bind the profile's {host:NAME} ERRORLOG placeholders to the served fleet's addresses;
        the host is rebuilt when they differ from those its state was built with."""
        with self._lock:
            self.profile = resolve_hosts(self.profile, addresses)
            if self.state.profile_digest != self.profile.digest:
                self.state = build.build_host(self.profile, self._built_at, self._keys)
                self.save()

    def sql_endpoints(self) -> list[SqlEndpoint]:
        with self._lock:
            return [
                SqlEndpoint(i.name, i.id, i.port, i.service, i.virtual_name) for i in self.state.sql_instances
            ]

    def save(self) -> None:
        with self._lock:
            model.save(self.state, self.state_path)

    def _load_or_build(self) -> model.HostState:
        if self.state_path.exists():
            state = model.load(self.state_path)
            if state.profile_digest == self.profile.digest:
                return state
            base = self.profile.digest.split("+", 1)[0]
            if host_references(self.profile) and state.profile_digest.startswith(f"{base}+"):
                return state  # the same profile, bound to addresses: resolve_addresses decides
        state = build.build_host(self.profile, self._built_at, self._keys)
        model.save(state, self.state_path)
        return state


def load_fleet(
    profile_paths: Iterable[Path | str],
    state_dir: Path | str,
    now: dt.datetime | None = None,
    reset: bool = False,
    clock: Callable[[], dt.datetime] = _utcnow,
    addresses: Mapping[str, str] | None = None,
) -> dict[str, LabHost]:
    """Build or reload one LabHost per profile file, keyed by inventory name.

    `now` anchors certificate validity and event times of freshly built hosts
    (default: the current time); `reset=True` rebuilds even if state exists.
    `addresses` (host name -> address) binds {host:NAME} placeholders in ERRORLOG lines;
    the supervisor binds them once it has placed the hosts (LabHost.resolve_addresses).
    """
    state_dir = Path(state_dir)
    keys = certs.KeyCache(state_dir / "keys")
    start = now or clock()
    hosts: dict[str, LabHost] = {}
    for path in sorted(Path(p) for p in profile_paths):
        profile = load_profile(path)
        if profile.name in hosts:
            raise ValueError(f"{path.name}: field 'name': host {profile.name!r} is defined twice")
        host = LabHost(profile, state_dir / "hosts" / f"{profile.name}.json", keys, start, clock, addresses)
        if reset:
            host.reset(start)
        hosts[profile.name] = host
    return hosts


def profile_paths(directory: Path | str) -> list[Path]:
    return sorted(Path(directory).glob("*.yml"))
