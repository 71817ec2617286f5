"""What a running lab serves and where: the manifest in the state directory, and the Ansible inventory.

The supervisor writes the manifest (``lab.json``) once every listener is up;
the CLI reads it to find the hosts and renders the inventory from it. Both are
plain data built by pure functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from .runtime import HostRuntime
from .server import HostAddress

MANIFEST_NAME = "lab.json"
INVENTORY_GROUPS = ("windows", "mssql_tls_lab")


@dataclass(frozen=True)
class SqlEndpoint:
    name: str  # instance name: MSSQLSERVER or the named instance
    port: int  # its TDS port on the host's address


@dataclass(frozen=True)
class LabHost:
    address: HostAddress
    instances: tuple[SqlEndpoint, ...]
    expect_scenarios: tuple[int, ...]
    # Fleet pairing: extra Ansible groups, host variables, the hand-written failing pairs.
    groups: tuple[str, ...] = ()
    inventory_vars: Mapping[str, Any] | None = None
    expect_pairs: tuple[Mapping[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.address.name


@dataclass(frozen=True)
class Manifest:
    pid: int
    username: str
    hosts: tuple[LabHost, ...]


def describe_host(runtime: HostRuntime, address: HostAddress) -> LabHost:
    """The runtime's inventory facts: its SQL instances with TDS ports and the profile's expected scenarios.

    Runtimes expose ``expect_scenarios`` (list of ints) and ``sql_endpoints()``
    (items with ``instance`` and ``port``, as attributes or mapping keys), as
    host.LabHost does.
    """
    endpoints = getattr(runtime, "sql_endpoints", None)
    instances = []
    for index, item in enumerate(endpoints() if callable(endpoints) else ()):
        name, port = _field(item, "instance"), _field(item, "port")
        if not isinstance(name, str) or not isinstance(port, int) or isinstance(port, bool):
            raise ValueError(
                f"host {runtime.name}: sql_endpoints()[{index}]: expected an instance (str) "
                f"and a port (int), got instance={name!r} port={port!r}"
            )
        instances.append(SqlEndpoint(name, port))
    scenarios = getattr(runtime, "expect_scenarios", None) or ()
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in scenarios):
        raise ValueError(
            f"host {runtime.name}: expect_scenarios: expected a list of integers, got {scenarios!r}"
        )
    return LabHost(
        address,
        tuple(instances),
        tuple(scenarios),
        groups=tuple(getattr(runtime, "groups", None) or ()),
        inventory_vars=dict(getattr(runtime, "inventory_vars", None) or {}) or None,
        expect_pairs=tuple(getattr(runtime, "expect_pairs", None) or ()),
    )


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    return asdict(manifest)


def manifest_from_json(doc: Mapping[str, Any]) -> Manifest:
    hosts = tuple(
        LabHost(
            address=HostAddress(**h["address"]),
            instances=tuple(SqlEndpoint(**i) for i in h["instances"]),
            expect_scenarios=tuple(h["expect_scenarios"]),
            groups=tuple(h.get("groups") or ()),
            inventory_vars=h.get("inventory_vars"),
            expect_pairs=tuple(h.get("expect_pairs") or ()),
        )
        for h in doc["hosts"]
    )
    return Manifest(pid=int(doc["pid"]), username=str(doc["username"]), hosts=hosts)


def write_manifest(state_dir: Path, manifest: Manifest) -> None:
    write_private(Path(state_dir) / MANIFEST_NAME, json.dumps(manifest_json(manifest), indent=2) + "\n")


def read_manifest(state_dir: Path) -> Manifest:
    path = Path(state_dir) / MANIFEST_NAME
    try:
        return manifest_from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no lab manifest; is a lab running in {state_dir}?") from None


def inventory_document(
    manifest: Manifest, password: str, ca_trust_path: Path | None = None
) -> dict[str, Any]:
    """An Ansible YAML inventory: every host in ``windows`` and ``mssql_tls_lab``, reached over WinRM.

    A host's profile may add groups (``mssql_tls_clients`` for the fleet pairing) and host
    variables; its hand-written failing pairs are ``winlab_expect_pairs``.

    Connection settings follow reference/ansible-winrm-wire.md section 4.1:
    an explicit scheme and basic auth, as a fake endpoint needs.
    """
    scheme = {h.address.scheme for h in manifest.hosts} or {"http"}
    if len(scheme) != 1:
        raise ValueError(f"all hosts of one lab share a scheme, got {sorted(scheme)}")
    connection: dict[str, Any] = {
        "ansible_connection": "winrm",
        "ansible_winrm_scheme": scheme.pop(),
        "ansible_winrm_transport": "basic",
        "ansible_user": manifest.username,
        "ansible_password": password,
    }
    if connection["ansible_winrm_scheme"] == "https":
        # Validation stays on, as it must against real hosts: the lab's self-signed
        # certificate (with every host's address as a SAN) is the trust anchor.
        if ca_trust_path is None:
            raise ValueError("an HTTPS lab needs ca_trust_path: the certificate its endpoints present")
        connection["ansible_winrm_ca_trust_path"] = str(ca_trust_path)
    hosts = {
        host.name: {
            "ansible_host": host.address.address,
            "ansible_port": host.address.port,
            "mssql_tls_instances": [asdict(i) for i in host.instances],
            "winlab_expect_scenarios": list(host.expect_scenarios),
            **({"winlab_expect_pairs": [dict(p) for p in host.expect_pairs]} if host.expect_pairs else {}),
            **dict(host.inventory_vars or {}),
        }
        for host in manifest.hosts
    }
    children: dict[str, Any] = {
        "windows": {"hosts": hosts, "vars": connection},
        "mssql_tls_lab": {"hosts": {name: None for name in hosts}},
    }
    for host in manifest.hosts:
        for group in host.groups:
            children.setdefault(group, {"hosts": {}})["hosts"][host.name] = None
    return {"all": {"children": children}}


def write_inventory(path: Path, manifest: Manifest, password: str, ca_trust_path: Path | None = None) -> None:
    text = "# Written by `python -m winlab up`; rewritten at every start of the lab.\n" + yaml.safe_dump(
        inventory_document(manifest, password, ca_trust_path), sort_keys=False, default_flow_style=False
    )
    write_private(Path(path), text)


def write_private(path: Path, content: str | bytes) -> None:
    """Write atomically with mode 0600: the inventory, the password and the TLS key are secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    os.replace(tmp, path)
