"""Profile YAML -> validated Profile dataclasses (the format is in tests/lab/README.md).

Only parsing and checking here; `build.py` turns a Profile into a host.
Every error names the field path, e.g. `s1.yml: sql_instances[0].port: expected an integer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from . import certs
from .registry import RAW_TYPES, REG_TYPES


class ProfileError(ValueError):
    """A profile that does not match the documented format."""


class _Reader:
    """Typed access to one mapping of the profile, with the field path for errors."""

    def __init__(self, doc: Any, where: str) -> None:
        if not isinstance(doc, dict):
            raise ProfileError(f"{where}: expected a mapping, got {type(doc).__name__}")
        self.doc = doc
        self.where = where
        self.seen: set[str] = set()

    def _get(self, key: str, kinds: tuple[type, ...], what: str, default: Any, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.doc or self.doc[key] is None:
            if required:
                raise ProfileError(f"{self.where}.{key}: required, expected {what}")
            return default
        value = self.doc[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ProfileError(f"{self.where}.{key}: expected {what}, got {value!r}")
        return value

    def str(self, key: str, default: str | None = None, required: bool = False) -> Any:
        value = self._get(key, (str, int, float), "a string", default, required)
        return value if value is None else str(value)

    def int(self, key: str, default: int | None = None, required: bool = False) -> Any:
        return self._get(key, (int,), "an integer", default, required)

    def bool(self, key: str, default: bool | None = None) -> Any:
        return self._get(key, (bool,), "true or false", default, False)

    def list(self, key: str, default: list | None = None, required: bool = False) -> Any:
        return self._get(key, (list,), "a list", [] if default is None else default, required)

    def map(self, key: str) -> dict:
        return self._get(key, (dict,), "a mapping", {}, False)

    def raw(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.doc.get(key, default)

    def sub(self, key: str) -> _Reader:
        return _Reader(self.map(key), f"{self.where}.{key}")

    def done(self) -> None:
        unknown = sorted(set(self.doc) - self.seen)
        if unknown:
            raise ProfileError(
                f"{self.where}: unknown field(s) {unknown}, expected some of {sorted(self.seen)}"
            )


@dataclass(frozen=True)
class OsProfile:
    build: int
    ubr: int
    product_name: str | None = None
    edition_id: str = "ServerDatacenter"
    installation_type: str = "Server"
    release_id: str | None = None
    display_version: str | None = None


@dataclass(frozen=True)
class CertProfile:
    name: str
    spec: certs.CertSpec
    has_private_key: bool = True
    key_provider: str = "Microsoft RSA SChannel Cryptographic Provider"
    key_spec: int = 1  # AT_KEYEXCHANGE
    eku_property: tuple[str, ...] | None = None  # property 9 OIDs; None = property absent
    friendly_name: str | None = None
    store: str = "My"
    shared_key: str | None = None  # same label on several hosts = the same key pair
    key_provider_type: int = 12  # property 2 dwProvType; 0 = a CNG key storage provider
    key_container: str | None = None  # property 2 container name (default: derived, stable)
    key_acl: str = "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"  # the private key's DACL (SDDL)
    key_acl_denied: bool = False  # the administrator cannot read the key's DACL


@dataclass(frozen=True)
class ErrorlogEntry:
    lines: tuple[str, ...]
    source: str = "Server"
    repeat: int = 1
    minutes_after_start: int = 1


@dataclass(frozen=True)
class SqlProfile:
    name: str
    id: str
    version: str
    edition: str = "Enterprise Edition"
    port: int = 1433
    certificate: str | None = None  # a profile certificate name
    certificate_thumbprint: str | None = None  # raw value, e.g. a certificate that is not in the store
    force_encryption: int = 0
    force_strict: int | None = None
    hadr: int = 0
    virtual_name: str | None = None  # FCI
    start_mode: str | None = None
    agent: bool = True
    agent_start_mode: str | None = None
    patch_level: str | None = None
    setup_version: str | None = None
    data_root: str | None = None
    errorlog_extra: tuple[ErrorlogEntry, ...] = ()


@dataclass(frozen=True)
class DriverProfile:
    kind: str  # odbc / oledb
    name: str  # ODBC driver name or OLE DB ProgID
    dll: str
    product_version: str
    file_version: str | None = None
    bits: str = "64"  # 64 / 32 / both
    clsid: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class EventProfile:
    log: str
    provider: str
    id: int
    hours_ago: float = 1
    count: int = 1


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    nodes: tuple[str, ...]
    owner: str
    # Always On availability groups: (group name, node where its resource is online = the primary)
    availability_groups: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HttpSysBinding:
    """One http.sys SSL binding (reference-windows-bindings.md 3): `<ip>:<port>` under
    SslBindingInfo, or `<host>:<port>` (kind sni) under SslSniBindingInfo."""

    endpoint: str
    certificate: str  # a profile certificate name
    app_id: str = "{afebb9ad-9b97-4a91-9ab5-daf4d59122f6}"  # WinRM's (section 2)
    kind: str = "ip"
    store: str | None = None  # SslCertStoreName; None = not written (= MY)


@dataclass(frozen=True)
class ExpectedPair:
    """A failing (client host, driver family, SQL Server instance) pair, written by hand in the
    client's profile; ``remains`` when remediation cannot clear it (an upgrade blocks it)."""

    server: str
    driver: str
    scenario: int
    instance: str = "MSSQLSERVER"
    remains: bool = False


@dataclass(frozen=True)
class RegistryOverride:
    path: str
    name: str | None = None
    type: str | None = None
    data: Any = None
    remove: bool = False
    raw: bytes | None = None  # stored bytes, for types .NET cannot read or data of the wrong length


@dataclass(frozen=True)
class Profile:
    name: str
    computer_name: str
    dns_domain: str
    os: OsProfile
    schannel: dict[str, Any]
    cipher_suites: dict[str, Any]
    dotnet: dict[str, Any]
    winhttp: dict[str, Any]
    fips: bool
    sql_instances: tuple[SqlProfile, ...]
    certificates: tuple[CertProfile, ...]
    drivers: tuple[DriverProfile, ...]
    windows_builtin_drivers: bool
    events: tuple[EventProfile, ...]
    cluster: ClusterProfile | None
    registry: tuple[RegistryOverride, ...]
    expect_scenarios: tuple[int, ...]
    uptime_hours: int = 72
    digest: str = ""
    denied_keys: tuple[str, ...] = ()
    read_only_keys: tuple[str, ...] = ()
    locked_files: tuple[str, ...] = ()
    service_states: tuple[tuple[str, str], ...] = ()
    utc_offset_minutes: int = 0
    time_zone: str = "UTC"
    # Fleet pairing, the inventory's side (nothing on the host): the Ansible groups and host
    # variables the lab writes for this host, the failing pairs expected of it as a client, and
    # the addresses its ERRORLOG placeholders {host:NAME} stand for (see resolve_hosts).
    groups: tuple[str, ...] = ()
    inventory_vars: dict[str, Any] | None = None
    expect_pairs: tuple[ExpectedPair, ...] = ()
    host_addresses: tuple[tuple[str, str], ...] = ()
    # Other users of certificates (reference-windows-bindings.md 1-3), by profile certificate name.
    rdp_certificate: str | None = None
    winrm_https_certificate: str | None = None
    http_sys_bindings: tuple[HttpSysBinding, ...] = ()


_START_MODES = ("Automatic", "Manual", "Disabled")
_SERVICE_STATES = (
    "Running",
    "Stopped",
    "StartPending",
    "StopPending",
    "Paused",
    "PausePending",
    "ContinuePending",
)
# dwProvType of the CSPs a certificate's key may live in (MicrosoftDocs/win32
# desktop-src/SecCrypto/cryptographic-provider-types.md: PROV_RSA_FULL 1, PROV_RSA_SCHANNEL 12,
# PROV_RSA_AES 24); key storage providers (CNG) are 0 (CRYPT_KEY_PROV_INFO, sdk-api).
_PROVIDER_TYPES = {
    "Microsoft RSA SChannel Cryptographic Provider": 12,
    "Microsoft Enhanced RSA and AES Cryptographic Provider": 24,
    "Microsoft Strong Cryptographic Provider": 1,
    "Microsoft Enhanced Cryptographic Provider v1.0": 1,
    "Microsoft Base Cryptographic Provider v1.0": 1,
}


def _os(r: _Reader) -> OsProfile:
    os_ = OsProfile(
        build=r.int("build", required=True),
        ubr=r.int("ubr", required=True),
        product_name=r.str("product_name"),
        edition_id=r.str("edition_id", "ServerDatacenter"),
        installation_type=r.str("installation_type", "Server"),
        release_id=r.str("release_id"),
        display_version=r.str("display_version"),
    )
    r.done()
    return os_


def _cert(r: _Reader) -> CertProfile:
    try:
        return _cert_fields(r)
    except certs.CertSpecError as exc:
        raise ProfileError(str(exc)) from exc


def _cert_fields(r: _Reader) -> CertProfile:
    key = r.sub("key")
    key_spec = certs.KeySpec(
        type=key.str("type", "rsa"), size=key.int("size", 2048), curve=key.str("curve", "P-256")
    )
    key.done()
    eku_raw = r.raw("eku", ["server_auth"])
    if eku_raw is not None and not isinstance(eku_raw, list):
        raise ProfileError(f"{r.where}.eku: expected a list of purposes or null (no extension)")
    eku = None if eku_raw is None else tuple(certs.eku_oid(str(e), f"{r.where}.eku") for e in eku_raw)
    prop_raw = r.raw("eku_property")
    if prop_raw is not None and not isinstance(prop_raw, list):
        raise ProfileError(f"{r.where}.eku_property: expected a list of purposes ([] = none) or absent")
    spec = certs.CertSpec(
        subject_cn=r.str("subject_cn", required=True),
        key=key_spec,
        sans=tuple(str(s) for s in r.list("sans")),
        signature_hash=r.str("signature_hash", "sha256"),
        not_before_days=r.int("not_before_days", -30),
        expires_in_days=r.int("expires_in_days", 365),
        eku=eku,
        key_usage=tuple(r.list("key_usage", ["digital_signature", "key_encipherment"])),
        issuer_cn=r.str("issuer_cn"),
        serial=r.int("serial", 0x1000),
    )
    spec.check(r.where)
    default_provider = (
        "Microsoft RSA SChannel Cryptographic Provider"
        if key_spec.type == "rsa"
        else "Microsoft Software Key Storage Provider"
    )
    provider = r.str("key_provider", default_provider)
    provider_type = r.int("key_provider_type", _PROVIDER_TYPES.get(provider, 0))
    cert = CertProfile(
        name=r.str("name", required=True),
        spec=spec,
        has_private_key=r.bool("private_key", True),
        key_provider=provider,
        key_spec=r.int("key_spec", 1 if key_spec.type == "rsa" else 0),
        key_provider_type=provider_type,
        key_container=r.str("key_container"),
        key_acl=r.str("key_acl", "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)"),
        key_acl_denied=r.bool("key_acl_denied", False),
        eku_property=None
        if prop_raw is None
        else tuple(certs.eku_oid(str(e), f"{r.where}.eku_property") for e in prop_raw),
        friendly_name=r.str("friendly_name"),
        store=r.str("store", "My"),
        shared_key=r.str("shared_key"),
    )
    r.done()
    return cert


def _errorlog(r: _Reader) -> ErrorlogEntry:
    lines = r.list("lines", required=True)
    entry = ErrorlogEntry(
        lines=tuple(str(x) for x in lines),
        source=r.str("source", "Server"),
        repeat=r.int("repeat", 1),
        minutes_after_start=r.int("minutes_after_start", 1),
    )
    r.done()
    return entry


def _start_mode(r: _Reader, key: str) -> str | None:
    mode = r.str(key)
    if mode is not None and mode not in _START_MODES:
        raise ProfileError(f"{r.where}.{key}: expected one of {list(_START_MODES)}, got {mode!r}")
    return mode


def _sql(r: _Reader) -> SqlProfile:
    version = r.str("version", required=True)
    if not all(p.isdigit() for p in version.split(".")) or version.count(".") != 3:
        raise ProfileError(
            f"{r.where}.version: expected four dotted numbers like 15.0.4345.5, got {version!r}"
        )
    sql = SqlProfile(
        name=r.str("name", required=True),
        id=r.str("id", required=True),
        version=version,
        edition=r.str("edition", "Enterprise Edition"),
        port=r.int("port", required=True),
        certificate=r.str("certificate"),
        certificate_thumbprint=r.str("certificate_thumbprint"),
        force_encryption=r.int("force_encryption", 0),
        force_strict=r.int("force_strict"),
        hadr=r.int("hadr", 0),
        virtual_name=r.str("virtual_name"),
        start_mode=_start_mode(r, "start_mode"),
        agent=r.bool("agent", True),
        agent_start_mode=_start_mode(r, "agent_start_mode"),
        patch_level=r.str("patch_level"),
        setup_version=r.str("setup_version"),
        data_root=r.str("data_root"),
        errorlog_extra=tuple(
            _errorlog(_Reader(e, f"{r.where}.errorlog_extra[{i}]"))
            for i, e in enumerate(r.list("errorlog_extra"))
        ),
    )
    r.done()
    return sql


def _driver(r: _Reader, kind: str) -> DriverProfile:
    bits = r.str("bits", "64")
    if bits not in ("64", "32", "both"):
        raise ProfileError(f"{r.where}.bits: expected 64, 32 or both, got {bits!r}")
    drv = DriverProfile(
        kind=kind,
        name=r.str("name" if kind == "odbc" else "prog_id", required=True),
        dll=r.str("dll", required=True),
        product_version=r.str("product_version", required=True),
        file_version=r.str("file_version"),
        bits=bits,
        clsid=r.str("clsid", required=kind == "oledb"),
        description=r.str("description"),
    )
    r.done()
    return drv


def _event(r: _Reader) -> EventProfile:
    ev = EventProfile(
        log=r.str("log", "System"),
        provider=r.str("provider", "Schannel"),
        id=r.int("id", required=True),
        hours_ago=r._get("hours_ago", (int, float), "a number", 1, False),
        count=r.int("count", 1),
    )
    r.done()
    return ev


def _override(r: _Reader) -> RegistryOverride:
    raw_text = r.str("raw")
    raw = None
    if raw_text is not None:
        try:
            raw = base64.b64decode(raw_text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProfileError(f"{r.where}.raw: expected base64") from exc
    ov = RegistryOverride(
        path=r.str("path", required=True),
        name=r.str("name"),
        type=r.str("type"),
        data=r.raw("data"),
        remove=r.bool("remove", False),
        raw=raw,
    )
    r.done()
    if raw is not None:
        if ov.name is None or ov.type not in RAW_TYPES or ov.data is not None:
            raise ProfileError(
                f"{r.where}.raw: expected with a value name and a type of {list(RAW_TYPES)}, without data"
            )
        return ov
    if not ov.remove and ov.name is not None and ov.type not in REG_TYPES:
        raise ProfileError(f"{r.where}.type: expected one of {list(REG_TYPES)}")
    return ov


def _http_sys(r: _Reader) -> HttpSysBinding:
    binding = HttpSysBinding(
        endpoint=r.str("endpoint", required=True),
        certificate=r.str("certificate", required=True),
        app_id=r.str("app_id", "{afebb9ad-9b97-4a91-9ab5-daf4d59122f6}"),
        kind=r.str("kind", "ip"),
        store=r.str("store"),
    )
    r.done()
    if binding.kind not in ("ip", "sni"):
        raise ProfileError(f"{r.where}.kind: expected ip or sni, got {binding.kind!r}")
    host, _sep, port = binding.endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ProfileError(f"{r.where}.endpoint: expected <address or host>:<port>, got {binding.endpoint!r}")
    return binding


# ---- fleet pairing: groups, inventory variables, expected pairs, other hosts' addresses ------

HOST_REFERENCE = re.compile(r"\{host:([A-Za-z0-9][A-Za-z0-9_.-]*)\}")
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_VARS = re.compile(r"^(ansible_|winlab_|mssql_tls_instances$)")


def _groups(r: _Reader) -> tuple[str, ...]:
    groups = r.list("groups")
    for i, group in enumerate(groups):
        if not isinstance(group, str) or not _GROUP_NAME.match(group):
            raise ProfileError(f"{r.where}.groups[{i}]: expected an Ansible group name, got {group!r}")
    return tuple(groups)


def _inventory_vars(r: _Reader) -> dict[str, Any] | None:
    found = r.map("inventory_vars")
    for name in found:
        if not isinstance(name, str) or not _GROUP_NAME.match(name) or _RESERVED_VARS.match(name):
            raise ProfileError(
                f"{r.where}.inventory_vars.{name}: expected a variable name the lab does not write itself"
            )
    return dict(found) or None


def _expected_pair(r: _Reader) -> ExpectedPair:
    pair = ExpectedPair(
        server=r.str("server", required=True),
        instance=r.str("instance", "MSSQLSERVER"),
        driver=r.str("driver", required=True),
        scenario=r.int("scenario", required=True),
        remains=r.bool("remains", False),
    )
    r.done()
    if pair.scenario not in (1, 2, 5):
        raise ProfileError(f"{r.where}.scenario: expected 1, 2 or 5 (the scenarios between two hosts)")
    return pair


def _check_host_references(profile: Profile, where: str) -> None:
    for i, sql in enumerate(profile.sql_instances):
        for j, entry in enumerate(sql.errorlog_extra):
            for k, line in enumerate(entry.lines):
                if line.count("{host:") != len(HOST_REFERENCE.findall(line)):
                    raise ProfileError(
                        f"{where}.sql_instances[{i}].errorlog_extra[{j}].lines[{k}]: "
                        "expected {host:NAME} with NAME a lab host name"
                    )


def host_references(profile: Profile) -> list[str]:
    """The lab hosts whose addresses the profile's ERRORLOG lines name ({host:NAME})."""
    return sorted(
        {
            name
            for sql in profile.sql_instances
            for entry in sql.errorlog_extra
            for line in entry.lines
            for name in HOST_REFERENCE.findall(line)
        }
    )


def outside_address(name: str) -> str:
    """Where a host that is not in the served fleet connects from: an address of TEST-NET-1
    (192.0.2.0/24, RFC 5737), stable per name, that no lab host has."""
    return f"192.0.2.{1 + int(hashlib.sha256(name.encode()).hexdigest(), 16) % 254}"


def resolve_hosts(profile: Profile, addresses: Mapping[str, str]) -> Profile:
    """The profile with its {host:NAME} placeholders bound to the fleet's addresses (a name the
    fleet lacks gets outside_address). The digest changes with the addresses, so a host whose
    clients moved is rebuilt; a profile without placeholders is returned as it is."""
    names = host_references(profile)
    if not names:
        return profile
    bound = tuple((name, addresses.get(name) or outside_address(name)) for name in names)
    base = profile.digest.split("+", 1)[0]
    tag = hashlib.sha256(json.dumps(bound).encode()).hexdigest()[:16]
    return replace(profile, host_addresses=bound, digest=f"{base}+{tag}")


def substitute_hosts(line: str, addresses: Mapping[str, str]) -> str:
    return HOST_REFERENCE.sub(lambda m: addresses.get(m[1]) or outside_address(m[1]), line)


def _paths(r: _Reader, key: str) -> tuple[str, ...]:
    items = r.list(key)
    if not all(isinstance(i, str) and i for i in items):
        raise ProfileError(f"{r.where}.{key}: expected a list of paths")
    return tuple(items)


def _service_states(r: _Reader) -> tuple[tuple[str, str], ...]:
    states = r.map("service_states")
    for name, state in states.items():
        if state not in _SERVICE_STATES:
            raise ProfileError(f"{r.where}.service_states.{name}: expected one of {list(_SERVICE_STATES)}")
    return tuple((str(n), str(s)) for n, s in states.items())


def parse_profile(doc: Any, where: str, digest: str = "") -> Profile:
    r = _Reader(doc, where)
    name = r.str("name", required=True)
    computer_name = r.str("computer_name", name.upper())
    fqdn = r.str("fqdn", f"{name}.lab.example.com")
    host, _sep, domain = fqdn.partition(".")
    if host.lower() != computer_name.lower():
        raise ProfileError(f"{where}.fqdn: expected it to start with the computer name {computer_name!r}")
    expect = r.list("expect_scenarios", required=True)
    if not all(isinstance(s, int) and 1 <= s <= 6 for s in expect):
        raise ProfileError(f"{where}.expect_scenarios: expected a list of scenario numbers 1..6")
    drivers = r.sub("drivers")
    driver_list = tuple(
        _driver(_Reader(d, f"{where}.drivers.{kind}[{i}]"), kind)
        for kind in ("odbc", "oledb")
        for i, d in enumerate(drivers.list(kind))
    )
    builtin = drivers.bool("windows_builtin", True)
    drivers.done()
    cluster = None
    if r.raw("cluster") is not None:
        c = r.sub("cluster")
        nodes = tuple(str(n) for n in c.list("nodes", required=True))
        groups = []
        for i, g in enumerate(c.list("availability_groups")):
            ag = _Reader(g, f"{where}.cluster.availability_groups[{i}]")
            groups.append((ag.str("name", required=True), ag.str("owner", nodes[0])))
            ag.done()
            if groups[-1][1].upper() not in (n.upper() for n in nodes):
                raise ProfileError(f"{ag.where}.owner: expected one of the nodes {list(nodes)}")
        cluster = ClusterProfile(
            name=c.str("name", required=True),
            nodes=nodes,
            owner=c.str("owner", nodes[0]),
            availability_groups=tuple(groups),
        )
        c.done()
        if computer_name.upper() not in (n.upper() for n in nodes):
            raise ProfileError(
                f"{where}.cluster.nodes: expected the computer name {computer_name!r} among them"
            )
    profile = Profile(
        name=name,
        computer_name=computer_name,
        dns_domain=domain,
        os=_os(r.sub("os")),
        schannel=r.map("schannel"),
        cipher_suites=r.map("cipher_suites"),
        dotnet=r.map("dotnet"),
        winhttp=r.map("winhttp"),
        fips=r.bool("fips", False),
        sql_instances=tuple(
            _sql(_Reader(s, f"{where}.sql_instances[{i}]")) for i, s in enumerate(r.list("sql_instances"))
        ),
        certificates=tuple(
            _cert(_Reader(c, f"{where}.certificates[{i}]")) for i, c in enumerate(r.list("certificates"))
        ),
        drivers=driver_list,
        windows_builtin_drivers=builtin,
        events=tuple(_event(_Reader(e, f"{where}.events[{i}]")) for i, e in enumerate(r.list("events"))),
        cluster=cluster,
        registry=tuple(
            _override(_Reader(o, f"{where}.registry[{i}]")) for i, o in enumerate(r.list("registry"))
        ),
        expect_scenarios=tuple(expect),
        uptime_hours=r.int("uptime_hours", 72),
        digest=digest,
        denied_keys=_paths(r, "denied_keys"),
        read_only_keys=_paths(r, "read_only_keys"),
        locked_files=_paths(r, "locked_files"),
        service_states=_service_states(r),
        utc_offset_minutes=r.int("utc_offset_minutes", 0),
        time_zone=r.str("time_zone", "UTC"),
        groups=_groups(r),
        inventory_vars=_inventory_vars(r),
        expect_pairs=tuple(
            _expected_pair(_Reader(e, f"{where}.expect_pairs[{i}]"))
            for i, e in enumerate(r.list("expect_pairs"))
        ),
        rdp_certificate=r.str("rdp_certificate"),
        winrm_https_certificate=r.str("winrm_https_certificate"),
        http_sys_bindings=tuple(
            _http_sys(_Reader(b, f"{where}.http_sys_bindings[{i}]"))
            for i, b in enumerate(r.list("http_sys_bindings"))
        ),
    )
    r.done()
    _check_host_references(profile, where)
    if not -720 <= profile.utc_offset_minutes <= 840:
        raise ProfileError(f"{where}.utc_offset_minutes: expected -720..840 (UTC-12:00 to UTC+14:00)")
    names = [c.name for c in profile.certificates]
    named = [
        ("rdp_certificate", profile.rdp_certificate),
        ("winrm_https_certificate", profile.winrm_https_certificate),
    ]
    named += [
        (f"http_sys_bindings[{i}].certificate", b.certificate)
        for i, b in enumerate(profile.http_sys_bindings)
    ]
    for field_name, cert_name in named:
        if cert_name is not None and cert_name not in names:
            raise ProfileError(f"{where}.{field_name}: expected one of the certificate names {names}")
    for i, sql in enumerate(profile.sql_instances):
        if sql.certificate is not None and sql.certificate not in names:
            raise ProfileError(
                f"{where}.sql_instances[{i}].certificate: expected one of the certificate names {names}"
            )
    return profile


def load_profile(path: Path) -> Profile:
    raw = path.read_bytes()
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_profile(doc, path.name, hashlib.sha256(raw).hexdigest())
