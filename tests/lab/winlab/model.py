"""The state of one simulated Windows host, as JSON-persistable dataclasses.

Everything a host "is" lives here as plain data; behaviour (boot, service
start, agent ops) lives in functions of other modules that take a HostState.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import registry as regmod
from .certs import thumbprint


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


@dataclass
class OsInfo:
    major: int
    minor: int
    build: int
    ubr: int
    product_name: str
    installation_type: str = "Server"
    ps_version: str = "5.1"

    @property
    def version(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.build, self.ubr)


@dataclass
class StoredCert:
    """One entry of a LocalMachine certificate store."""

    name: str  # the profile's name for it (not a Windows concept)
    der: bytes
    key_pem: str | None  # kept so the lab's TDS endpoints can serve the certificate
    has_private_key: bool
    key_provider: str | None
    key_spec: int | None
    properties: dict[int, bytes] = field(default_factory=dict)
    # The rest of property 2 (CERT_KEY_PROV_INFO_PROP_ID): the key container and the provider
    # type (0 = a CNG key storage provider); None when there is no private key.
    key_provider_type: int | None = None
    key_container: str | None = None
    # The private key's DACL as SDDL ('D:...'), and a knob: the administrator cannot read it.
    key_acl: str | None = None
    key_acl_denied: bool = False

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.der)


@dataclass
class Service:
    name: str
    display_name: str
    state: str = "Running"  # Running / Stopped / StartPending / StopPending / Paused
    start_mode: str = "Automatic"  # Automatic / Manual / Disabled
    dependents: list[str] = field(default_factory=list)
    # Win32_Service ExitCode / ServiceSpecificExitCode after the last start or stop, and the
    # states the last start went through (e.g. StartPending, Stopped).
    exit_code: int = 0
    service_specific_exit_code: int = 0
    last_start_states: list[str] = field(default_factory=list)


@dataclass
class SqlInstance:
    """Install-time facts of one Database Engine instance (what setup wrote)."""

    name: str  # MSSQLSERVER or the named-instance name
    id: str  # e.g. MSSQL15.MSSQLSERVER
    version: str  # sqlservr.exe ProductVersion, e.g. 15.0.4345.5
    port: int
    service: str  # MSSQLSERVER or MSSQL$<name>
    agent_service: str | None
    errorlog: str  # path of the current ERRORLOG (SQLArg -e)
    virtual_name: str | None = None  # FCI virtual server name

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def registry_root(self) -> str:
        return f"HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\{self.id}"


@dataclass
class SelfGeneratedCert:
    der: bytes
    key_pem: str
    signature_hash: str

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.der)


@dataclass
class SqlRuntime:
    """What an instance loaded at its last service start (sqlserver-tls.md sections 2, 3)."""

    running: bool = False
    certificate: str | None = None  # thumbprint loaded from LocalMachine\My
    certificate_configured: bool = False  # loaded because SuperSocketNetLib\Certificate named it
    self_generated: SelfGeneratedCert | None = None
    force_encryption: bool = False
    force_strict: bool = False
    started_utc: str | None = None
    last_start_error: str | None = None


@dataclass
class FileEntry:
    path: str
    product_version: str | None = None
    file_version: str | None = None
    text: str | None = None
    encoding: str = "utf-8"  # utf-8 / utf-8-bom / utf-16le / utf-16be (the latter two with BOM)
    created_seq: int = 0
    created_utc: str | None = None  # file creation time (host clock), when the lab knows it

    def raw_bytes(self) -> bytes:
        text = self.text or ""
        if self.encoding == "utf-16le":
            return b"\xff\xfe" + text.encode("utf-16-le")
        if self.encoding == "utf-16be":
            return b"\xfe\xff" + text.encode("utf-16-be")
        if self.encoding == "utf-8-bom":
            return b"\xef\xbb\xbf" + text.encode("utf-8")
        return text.encode("utf-8")


@dataclass
class Event:
    log: str
    provider: str
    id: int
    time_utc: str


@dataclass
class ClusterResource:
    name: str
    type: str
    group: str
    owner_node: str
    state: str = "Online"
    private: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Cluster:
    name: str
    nodes: list[dict[str, str]]  # [{"name", "state"}]
    resources: list[ClusterResource] = field(default_factory=list)


@dataclass
class BootState:
    """What took effect at the last boot (windows-schannel.md sections 1.2 and 4)."""

    boot_utc: str
    # registry subtrees captured at boot, keyed by key path; None = key absent then
    snapshot: dict[str, Any] = field(default_factory=dict)


@dataclass
class HostState:
    name: str  # inventory host name
    computer_name: str
    dns_domain: str
    os: OsInfo
    env: dict[str, str]
    registry: regmod.Registry
    cert_stores: dict[str, list[StoredCert]]
    services: dict[str, Service]  # keyed by lower-case name
    sql_instances: list[SqlInstance]
    sql_runtime: dict[str, SqlRuntime]  # keyed by instance name
    files: dict[str, FileEntry]  # keyed by lower-case path
    events: list[Event]
    cluster: Cluster | None
    boot: BootState
    expect_scenarios: list[int] = field(default_factory=list)
    profile_digest: str = ""
    file_seq: int = 0
    # Knobs of the lab's Windows (profile fields): registry keys the administrator cannot
    # open, keys it can read but not write (TrustedInstaller-owned), files another process
    # holds open without sharing. Paths as written in the profile, compared case-insensitively.
    denied_keys: list[str] = field(default_factory=list)
    read_only_keys: list[str] = field(default_factory=list)
    locked_files: list[str] = field(default_factory=list)
    utc_offset_minutes: int = 0
    time_zone: str = "UTC"

    @property
    def fqdn(self) -> str:
        return f"{self.computer_name}.{self.dns_domain}".lower() if self.dns_domain else self.computer_name

    def service(self, name: str) -> Service | None:
        return self.services.get(name.lower())

    def file(self, path: str) -> FileEntry | None:
        return self.files.get(path.lower())

    def put_file(self, entry: FileEntry) -> FileEntry:
        existing = self.files.get(entry.path.lower())
        if existing is None:
            self.file_seq += 1
            entry.created_seq = self.file_seq
        else:
            entry.created_seq = existing.created_seq
        self.files[entry.path.lower()] = entry
        return entry

    def instance(self, name: str) -> SqlInstance | None:
        for inst in self.sql_instances:
            if name.lower() in (inst.name.lower(), inst.id.lower(), inst.service.lower()):
                return inst
        return None


# ---- JSON -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _cert_to_json(c: StoredCert) -> dict[str, Any]:
    doc = asdict(c)
    doc["der"] = _b64(c.der)
    doc["thumbprint"] = c.thumbprint  # for people reading the state file
    doc["properties"] = {str(k): _b64(v) for k, v in c.properties.items()}
    return doc


def _cert_from_json(doc: dict[str, Any]) -> StoredCert:
    return StoredCert(
        name=doc["name"],
        der=_unb64(doc["der"]),
        key_pem=doc["key_pem"],
        has_private_key=doc["has_private_key"],
        key_provider=doc["key_provider"],
        key_spec=doc["key_spec"],
        properties={int(k): _unb64(v) for k, v in doc["properties"].items()},
        key_provider_type=doc.get("key_provider_type"),
        key_container=doc.get("key_container"),
        key_acl=doc.get("key_acl"),
        key_acl_denied=doc.get("key_acl_denied", False),
    )


def _runtime_to_json(r: SqlRuntime) -> dict[str, Any]:
    doc = asdict(r)
    if r.self_generated is not None:
        doc["self_generated"] = {
            "der": _b64(r.self_generated.der),
            "key_pem": r.self_generated.key_pem,
            "signature_hash": r.self_generated.signature_hash,
            "thumbprint": r.self_generated.thumbprint,
        }
    return doc


def _runtime_from_json(doc: dict[str, Any]) -> SqlRuntime:
    sg = doc.pop("self_generated", None)
    runtime = SqlRuntime(**doc)
    if sg is not None:
        runtime.self_generated = SelfGeneratedCert(_unb64(sg["der"]), sg["key_pem"], sg["signature_hash"])
    return runtime


def to_json(state: HostState) -> dict[str, Any]:
    return {
        "name": state.name,
        "computer_name": state.computer_name,
        "dns_domain": state.dns_domain,
        "os": asdict(state.os),
        "env": state.env,
        "registry": regmod.registry_to_json(state.registry),
        "cert_stores": {s: [_cert_to_json(c) for c in certs] for s, certs in state.cert_stores.items()},
        "services": [asdict(s) for s in state.services.values()],
        "sql_instances": [asdict(i) for i in state.sql_instances],
        "sql_runtime": {n: _runtime_to_json(r) for n, r in state.sql_runtime.items()},
        "files": [asdict(f) for f in state.files.values()],
        "events": [asdict(e) for e in state.events],
        "cluster": None if state.cluster is None else asdict(state.cluster),
        "boot": asdict(state.boot),
        "expect_scenarios": state.expect_scenarios,
        "profile_digest": state.profile_digest,
        "file_seq": state.file_seq,
        "denied_keys": state.denied_keys,
        "read_only_keys": state.read_only_keys,
        "locked_files": state.locked_files,
        "utc_offset_minutes": state.utc_offset_minutes,
        "time_zone": state.time_zone,
    }


def from_json(doc: dict[str, Any]) -> HostState:
    cluster = doc["cluster"]
    return HostState(
        name=doc["name"],
        computer_name=doc["computer_name"],
        dns_domain=doc["dns_domain"],
        os=OsInfo(**doc["os"]),
        env=dict(doc["env"]),
        registry=regmod.registry_from_json(doc["registry"]),
        cert_stores={s: [_cert_from_json(c) for c in certs] for s, certs in doc["cert_stores"].items()},
        services={s["name"].lower(): Service(**s) for s in doc["services"]},
        sql_instances=[SqlInstance(**i) for i in doc["sql_instances"]],
        sql_runtime={n: _runtime_from_json(dict(r)) for n, r in doc["sql_runtime"].items()},
        files={f["path"].lower(): FileEntry(**f) for f in doc["files"]},
        events=[Event(**e) for e in doc["events"]],
        cluster=None
        if cluster is None
        else Cluster(
            name=cluster["name"],
            nodes=cluster["nodes"],
            resources=[ClusterResource(**r) for r in cluster["resources"]],
        ),
        boot=BootState(**doc["boot"]),
        expect_scenarios=list(doc["expect_scenarios"]),
        profile_digest=doc["profile_digest"],
        file_seq=doc["file_seq"],
        denied_keys=list(doc.get("denied_keys", [])),
        read_only_keys=list(doc.get("read_only_keys", [])),
        locked_files=list(doc.get("locked_files", [])),
        utc_offset_minutes=doc.get("utc_offset_minutes", 0),
        time_zone=doc.get("time_zone", "UTC"),
    )


def save(state: HostState, path: Path) -> None:
    """Write the state atomically (temp file + rename) so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(to_json(state), indent=1, sort_keys=False), "utf-8")
    os.replace(tmp, path)


def load(path: Path) -> HostState:
    return from_json(json.loads(path.read_text("utf-8")))
