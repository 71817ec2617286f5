"""Probe the SQL Server endpoints of one host: which targets, which entry paths, which profiles.

The ``mssql.tls.tds_probe`` action plugin and the CLI hand their options to
these functions: targets come from the caller (``host:port`` strings or
``{host, port, name}`` mappings) or from the inventory's
``mssql_tls_instances`` (``[{name, port}]``) on the host's address; ``both``
probes the TDS 7.x and the TDS 8.0 strict path (reference/tds-tls-probing.md
section 1: a complete picture needs both). Every bad value raises
:class:`ProbeInputError` naming the field, before any packet is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ProbeInputError
from .probe import probe_many
from .profiles import PROFILES, profile_by_name
from .transport import DEFAULT_PORT, Endpoint, parse_target

# Entry paths probed per requested mode.
MODE_PATHS: dict[str, tuple[str, ...]] = {
    "tds": ("tds",),
    "strict": ("strict",),
    "tls": ("tls",),
    "both": ("tds", "strict"),
}

_TARGET_KEYS = frozenset({"host", "port", "name"})


@dataclass(frozen=True)
class ProbeTarget:
    endpoint: Endpoint
    instance: str | None = None  # SQL Server instance name, when the caller knows it


def targets_from_option(items: Any, field: str = "targets") -> list[ProbeTarget]:
    """``host[:port]`` strings and ``{host, port, name}`` mappings, in the given order."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise ProbeInputError(field, "a list of 'host:port' strings or {host, port, name} mappings", items)
    if not items:
        raise ProbeInputError(field, "at least one target", items)
    targets = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if isinstance(item, str):
            targets.append(ProbeTarget(_parse(item, where)))
        elif isinstance(item, Mapping):
            targets.append(_target_from_mapping(item, where, default_host=None))
        else:
            raise ProbeInputError(where, "a 'host:port' string or a {host, port, name} mapping", item)
    return targets


def targets_from_instances(
    instances: Any, default_host: str, field: str = "mssql_tls_instances"
) -> list[ProbeTarget]:
    """One target per ``{name, port}`` item on ``default_host`` (an item may name its own ``host``)."""
    if not isinstance(default_host, str) or not default_host:
        raise ProbeInputError("ansible_host", "the host's address", default_host)
    if not isinstance(instances, Sequence) or isinstance(instances, str | bytes):
        raise ProbeInputError(field, "a list of {name, port} mappings", instances)
    targets = []
    for index, item in enumerate(instances):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise ProbeInputError(where, "a {name, port} mapping", item)
        targets.append(_target_from_mapping(item, where, default_host=default_host))
    return targets


def _target_from_mapping(item: Mapping[str, Any], where: str, default_host: str | None) -> ProbeTarget:
    unknown = sorted(str(key) for key in item if key not in _TARGET_KEYS)
    if unknown:
        raise ProbeInputError(f"{where}.{unknown[0]}", f"only the keys {sorted(_TARGET_KEYS)}", unknown[0])
    host = item.get("host", default_host)
    if not isinstance(host, str) or not host:
        raise ProbeInputError(f"{where}.host", "a host name or address", host)
    port = item.get("port", DEFAULT_PORT)
    # INI inventories turn every host var into a string: accept "1433" as well as 1433.
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ProbeInputError(f"{where}.port", "an integer 1..65535", port)
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise ProbeInputError(f"{where}.name", "an instance name (string)", name)
    return ProbeTarget(_parse((host, port), where), name)


def _parse(target: str | tuple[str, int], where: str) -> Endpoint:
    try:
        return parse_target(target)
    except ProbeInputError:
        raise ProbeInputError(
            where, "'host', 'host:port' or '[ipv6]:port' with a port 1..65535", target
        ) from None


def profiles_by_path(mode: str, names: Sequence[str] | None) -> dict[str, tuple[str, ...] | None]:
    """The profiles to judge on each entry path of ``mode`` (None: the prober's default for the path).

    A profile is judged only on the path its driver uses: a TDS 8.0 client says
    nothing about the TDS 7.x path. Plain TLS is judged against every profile.
    """
    if mode not in MODE_PATHS:
        raise ProbeInputError("mode", f"one of {list(MODE_PATHS)}", mode)
    paths = MODE_PATHS[mode]
    if names is None:
        return dict.fromkeys(paths)
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ProbeInputError("profiles", "a list of client profile names", names)
    known = sorted(profile.name for profile in PROFILES)
    for index, name in enumerate(names):
        if name not in known:
            raise ProbeInputError(f"profiles[{index}]", f"one of {known}", name)
    profiles = [profile_by_name(name) for name in names]
    if mode == "tls":
        return {"tls": tuple(p.name for p in profiles)}
    for profile in profiles:
        if profile.path not in paths:
            raise ProbeInputError(
                "profiles",
                f"profiles that use the {' or '.join(paths)} entry path (use mode={profile.path} or both "
                f"to judge {profile.name})",
                profile.name,
            )
    return {path: tuple(p.name for p in profiles if p.path == path) for path in paths}


def probe_targets(
    targets: Sequence[ProbeTarget],
    mode: str = "tds",
    *,
    profiles: Sequence[str] | None = None,
    max_workers: int = 8,
    **options: Any,
) -> list[dict[str, Any]]:
    """Probe every target on every path of ``mode``, concurrently per path.

    Returns one probe result per (target, path), target by target, each with
    an ``instance`` key (the instance name or None) added to the prober's schema.
    """
    per_path = profiles_by_path(mode, profiles)
    endpoints = [target.endpoint for target in targets]
    by_path = {
        path: probe_many(endpoints, path, max_workers=max_workers, profiles=chosen, **options)
        for path, chosen in per_path.items()
    }
    results = []
    for index, target in enumerate(targets):
        for path in per_path:
            results.append({**by_path[path][index], "instance": target.instance})
    return results
