"""Raw agent results for the gather batch, built from a short description of a host.

Tests describe a host the way an engineer would ("Server 2016 at 14393.3541, DHE in the
local list, SQL 2014 SP1 CU1") and get back exactly what the agent would answer to
``gather_ops()`` (docs/agent-protocol.md): typed registry nodes, file rows, service
rows. The hand-written JSON fixtures in ``fixtures/`` have the same shape.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS, gather_ops
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import default_suites
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert, thumbprint

NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
SQL_ROOT = r"HKLM\SOFTWARE\Microsoft\Microsoft SQL Server"

WS2012R2 = (6, 3, 9600, 20000)
WS2016 = (10, 0, 14393, 3542)
WS2019 = (10, 0, 17763, 5000)
WS2022 = (10, 0, 20348, 2700)

# A 2022 list without TLS_DHE (the shape a compliant host has after the cipher_suites role).
NO_DHE_2022 = [
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
]


SELF_GENERATED_LINE = (
    "2026-11-29 22:00:03.45 Server      A self-generated certificate was successfully loaded for encryption."
)


def loaded_line(thumbprint: str) -> str:
    """The ERRORLOG line (26013) of a start that loaded this certificate."""
    return (
        f'2026-11-29 22:00:03.45 Server      The certificate [Cert Hash(sha1) "{thumbprint.upper()}"] '
        "was successfully loaded for encryption."
    )


def login_error_lines(
    total: int = 0,
    enqueued: int = 0,
    ssl: int = 0,
    *,
    network_reads: int = 0,
    sspi: int = 0,
    during_ssl: dict[str, int] | None = None,
    code: str = "0x2746",
    client: str = "10.0.0.21",
) -> list[str]:
    """One ERRORLOG 17830 event (header and message, reference 14a). ``during_ssl`` (keys
    ``reads``, ``writes``, ``secure_calls``, ``enqueued``) selects the extended form of
    newer builds, which also splits the SSL and SSPI time."""
    at = "2026-11-29 14:02:11.41 Logon       "
    ssl_split = ""
    sspi_split = ""
    if during_ssl is not None:
        ssl_split = (
            f"network reads during SSL {during_ssl.get('reads', 0)} ms, "
            f"network writes during SSL {during_ssl.get('writes', 0)} ms, "
            f"secure calls during SSL {during_ssl.get('secure_calls', 0)} ms, "
            f"enqueued during SSL {during_ssl.get('enqueued', 0)} ms, "
        )
        sspi_split = (
            "network reads during SSPI 0 ms, network writes during SSPI 0 ms, "
            "secure calls during SSPI 0 ms, enqueued during SSPI 0 ms, "
        )
    return [
        f"{at}Error: 17830, Severity: 20, State: 11.",
        f"{at}Network error code {code} occurred while establishing a connection; the connection has been "
        "closed. This may have been caused by client or server login timeout expiration. Time spent during "
        f"login: total {total} ms, enqueued {enqueued} ms, network writes 0 ms, "
        f"network reads {network_reads} ms, establishing SSL {ssl} ms, {ssl_split}"
        f"negotiating SSPI {sspi} ms, {sspi_split}validating login 0 ms, "
        f"including user-defined login processing 0 ms. [CLIENT: {client}]",
    ]


# --- typed registry values and nodes ------------------------------------------------------------
def dword(value: int) -> dict[str, Any]:
    """As the agent sends it: signed 32-bit (0xffffffff -> -1)."""
    return {"type": "REG_DWORD", "data": value - (1 << 32) if value >= 1 << 31 else value}


def sz(value: str) -> dict[str, Any]:
    return {"type": "REG_SZ", "data": value}


def multi_sz(values: list[str]) -> dict[str, Any]:
    return {"type": "REG_MULTI_SZ", "data": list(values)}


def key(values: dict[str, Any] | None = None, subkeys: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"exists": True, "values": dict(values or {}), "subkeys": dict(subkeys or {})}


MISSING = {"exists": False, "values": {}, "subkeys": {}}


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def failed(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "message": message}}


# --- host description ---------------------------------------------------------------------------
@dataclass
class Instance:
    name: str = "MSSQLSERVER"
    id: str = "MSSQL16.MSSQLSERVER"
    version: str | None = "16.0.4135.4"  # sqlservr.exe ProductVersion; None = binary not found
    patch_level: str | None = None
    edition: str = "Enterprise Edition: Core-based Licensing"
    certificate: str | None = None  # thumbprint as the registry holds it
    force_encryption: int = 0
    force_strict: int | None = None
    port: str = "1433"
    errorlog: list[str] = field(default_factory=list)
    errorlog_previous: list[str] = field(default_factory=list)
    clustered: bool = False
    hadr: bool = False
    state: str = "Running"

    @property
    def log_dir(self) -> str:
        return rf"C:\Program Files\Microsoft SQL Server\{self.id}\MSSQL\Log"


@dataclass
class Host:
    version: tuple[int, int, int, int] = WS2022
    product_name: str = "Windows Server 2022 Datacenter"
    installation_type: str = "Server"
    computer_name: str = "SQL1"
    dns_domain: str = "lab.local"
    # {"TLS 1.0": {"Server": {"Enabled": 0, "DisabledByDefault": 1}}}
    protocols: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    schannel_subkeys: dict[str, Any] = field(default_factory=dict)  # Ciphers, KeyExchangeAlgorithms...
    local_suites: list[str] | None = field(default_factory=lambda: list(NO_DHE_2022))
    policy_suites: str | None = None
    policy_type: str = "REG_SZ"
    cmdlet: bool | None = None  # None: available from 2016 on, like Windows
    dotnet_strong_crypto: dict[str, int | None] = field(default_factory=lambda: {"v4": 1, "v4_wow64": 1})
    fips: int | None = None
    instances: list[Instance] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    # (ODBC name, DLL file name, product version, bitness)
    odbc: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (DLL path, product version)
    dlls: list[tuple[str, str]] = field(default_factory=list)
    events: dict[int, int] = field(default_factory=dict)
    cluster_node: bool = False
    cluster_resources: list[dict[str, Any]] = field(default_factory=list)
    # Other users of certificates (docs/reference-windows-bindings.md 1-3): thumbprints, upper case.
    rdp_certificate: str | None = None  # None: the self-signed one (no SSLCertificateSHA1Hash)
    winrm_https_certificate: str | None = None  # None: no HTTPS listener
    http_sys: dict[str, str] = field(default_factory=dict)  # "0.0.0.0:443" -> thumbprint
    journal_records: list[dict[str, Any]] = field(default_factory=list)  # journal.read records


def compliant_2022_host(**changes: Any) -> Host:
    """Server 2022, SQL 2022 with a SHA256 certificate bound and loaded, no DHE, modern drivers."""
    der = make_cert("sql1.lab.local", sans=("sql1.lab.local", "sql1"))
    tp = thumbprint(der).lower()
    host = Host(
        instances=[
            Instance(
                certificate=tp,
                force_encryption=1,
                errorlog=[
                    "2026-11-29 22:00:01.12 Server      Registry startup parameters: ",
                    loaded_line(tp),
                ],
            )
        ],
        certificates=[cert_entry(der)],
        odbc=[
            ("SQL Server", "SQLSRV32.dll", "10.0.20348.1", 64),
            ("ODBC Driver 18 for SQL Server", "msodbcsql18.dll", "18.3.2.1", 64),
        ],
        dlls=[
            (r"%SystemRoot%\System32\sqloledb.dll", "10.0.20348.1"),
            (r"%SystemRoot%\System32\msoledbsql19.dll", "19.3.2.0"),
        ],
    )
    for name, value in changes.items():
        setattr(host, name, value)
    return host


# --- one result per gather op -------------------------------------------------------------------
def _current_version(h: Host) -> dict[str, Any]:
    major, minor, build, ubr = h.version
    values = {
        "ProductName": sz(h.product_name),
        "InstallationType": sz(h.installation_type),
        "CurrentVersion": sz("6.3"),
        "CurrentBuild": sz(str(build)),
        "CurrentBuildNumber": sz(str(build)),
        "UBR": dword(ubr),
        "EditionID": sz("ServerDatacenter"),
    }
    if major >= 10:  # absent on 2012 R2 (windows-schannel.md 9)
        values.update(CurrentMajorVersionNumber=dword(major), CurrentMinorVersionNumber=dword(minor))
        values["ReleaseId"] = sz({14393: "1607", 17763: "1809"}.get(build, "2009"))
    return key(values, {"Accessibility": None, "AppCompatFlags": None})


def _schannel(h: Host) -> dict[str, Any]:
    protocols = {
        name: key({}, {side: key({n: dword(v) for n, v in values.items()}) for side, values in sides.items()})
        for name, sides in h.protocols.items()
    }
    subkeys = {"Protocols": key({}, protocols), "CipherSuites": key(), **h.schannel_subkeys}
    return key({"EventLogging": dword(1)}, subkeys)


def _suites_cmdlet(h: Host) -> dict[str, Any]:
    available = h.cmdlet if h.cmdlet is not None else h.version >= WS2016
    if not available:
        return failed("unsupported", "The TLS module is not available on this host")
    names = h.local_suites
    if names is None:
        names = list(default_suites(h.version)[1])
    return ok(
        [
            {
                "name": n,
                "protocols": [771],
                "cipher": "AES",
                "exchange": "ECDH",
                "hash": "",
                "certificate": "RSA",
            }
            for n in names
        ]
    )


def _sql_tree(h: Host) -> dict[str, Any]:
    if not h.instances:
        return MISSING
    subkeys: dict[str, Any] = {
        "Instance Names": key({}, {"SQL": key({i.name: sz(i.id) for i in h.instances})}),
        "160": key({}, {"Tools": None}),
    }
    for i in h.instances:
        netlib = {
            "Certificate": sz(i.certificate or ""),
            "ForceEncryption": dword(i.force_encryption),
            "HideInstance": dword(0),
        }
        if i.force_strict is not None:
            netlib["ForceStrict"] = dword(i.force_strict)
        mssqlserver = {
            "SuperSocketNetLib": key(
                netlib,
                {
                    "Tcp": key(
                        {"Enabled": dword(1)},
                        {
                            "IPAll": key({"TcpPort": sz(i.port), "TcpDynamicPorts": sz("")}),
                            "IP1": key({"IpAddress": sz("10.0.0.5")}),
                        },
                    ),
                    "Np": key({"Enabled": dword(0)}),
                },
            ),
            "Parameters": key(
                {
                    "SQLArg0": sz(rf"-dC:\Program Files\Microsoft SQL Server\{i.id}\MSSQL\DATA\master.mdf"),
                    "SQLArg1": sz(rf"-e{i.log_dir}\ERRORLOG"),
                    "SQLArg2": sz(rf"-lC:\Program Files\Microsoft SQL Server\{i.id}\MSSQL\DATA\mastlog.ldf"),
                }
            ),
            "CurrentVersion": key({"CurrentVersion": sz(i.version or "")}),
        }
        if i.hadr:
            mssqlserver["HADR"] = key({"HADR_Enabled": dword(1)})
        setup = {
            "Edition": sz(i.edition),
            "SQLBinRoot": sz(rf"C:\Program Files\Microsoft SQL Server\{i.id}\MSSQL\Binn"),
        }
        if i.patch_level:
            setup["PatchLevel"] = sz(i.patch_level)
        elif i.version:
            setup["PatchLevel"] = sz(i.version)
        instance_keys = {"Setup": key(setup), "MSSQLServer": key({}, mssqlserver)}
        if i.clustered:
            instance_keys["Cluster"] = key({"ClusterName": sz(f"{i.name}-VS")})
        subkeys[i.id] = key({"": sz(i.name)}, instance_keys)
    return key({}, subkeys)


def _setup_key(i: Instance, tail: str) -> str:
    return f"{SQL_ROOT}\\{i.id}\\{tail}"


def _binaries(h: Host) -> list[dict[str, Any]]:
    rows = []
    for i in h.instances:
        path = rf"C:\Program Files\Microsoft SQL Server\{i.id}\MSSQL\Binn\sqlservr.exe"
        rows.append(
            {
                "path": path,
                "exists": i.version is not None,
                "product_version": i.version,
                "file_version": "2022.160.4135.4" if i.version else None,
                "source_key": _setup_key(i, "Setup"),
            }
        )
    return rows


def _tail(h: Host, patterns: list[str], max_lines: int) -> list[dict[str, Any]]:
    """file.tail with `patterns`: per file, the last max_lines lines matching each pattern."""
    keep = [re.compile(pattern) for pattern in patterns]
    rows = []
    for i in h.instances:
        for suffix, lines in (("", i.errorlog), (".1", i.errorlog_previous)):
            rows.append(
                {
                    "path": rf"{i.log_dir}\ERRORLOG{suffix}",
                    "exists": bool(lines) or suffix == "",
                    "encoding": "utf-16le",
                    "lines": [],
                    "matches": [[line for line in lines if k.search(line)][-max_lines:] for k in keep],
                    "source_key": _setup_key(i, r"MSSQLServer\Parameters"),
                }
            )
    return rows


def _services(h: Host, names: list[str], prefixes: list[str]) -> list[dict[str, Any]]:
    """svc.query: the names asked for, in order (literal lookup), then the prefix matches by name."""
    installed = {}
    for i in h.instances:
        default = i.name == "MSSQLSERVER"
        engine, agent = (
            ("MSSQLSERVER", "SQLSERVERAGENT") if default else (f"MSSQL${i.name}", f"SQLAgent${i.name}")
        )
        installed[engine.lower()] = {
            "name": engine,
            "exists": True,
            "display_name": f"SQL Server ({i.name})",
            "state": i.state,
            "start_mode": "Automatic",
            "dependents": [agent],
        }
        installed[agent.lower()] = {
            "name": agent,
            "exists": True,
            "display_name": f"SQL Server Agent ({i.name})",
            "state": "Running",
            "start_mode": "Automatic",
            "dependents": [],
        }
    absent = {"exists": False, "display_name": None, "state": None, "start_mode": None, "dependents": []}
    rows = [installed.get(n.lower(), {"name": n, **absent}) for n in names]
    listed = {n.lower() for n in names}
    for prefix in prefixes:
        for key in sorted(installed):
            if key.startswith(prefix.lower()) and key not in listed:
                listed.add(key)
                rows.append(installed[key])
    return rows


def _odbcinst(h: Host, bitness: int) -> dict[str, Any]:
    drivers = [d for d in h.odbc if d[3] == bitness]
    subkeys = {
        "ODBC Drivers": key({name: sz("Installed") for name, *_details in drivers}),
        "Microsoft Access Driver (*.mdb)": key({"Driver": sz(r"C:\Windows\system32\odbcjt32.dll")}),
    }
    for name, dll, _version, _bits in drivers:
        subkeys[name] = key({"Driver": sz(rf"C:\Windows\system32\{dll}"), "APILevel": sz("2")})
    return key({}, subkeys)


def _odbc_files(h: Host, bitness: int, root: str) -> list[dict[str, Any]]:
    directory = r"C:\Windows\system32" if bitness == 64 else r"C:\Windows\SysWOW64"
    return [
        {
            "path": rf"{directory}\{dll}",
            "exists": True,
            "product_version": version,
            "file_version": version,
            "source_key": f"{root}\\{name}",
        }
        for name, dll, version, b in h.odbc
        if b == bitness
    ]


def _dlls(h: Host) -> list[dict[str, Any]]:
    present = {path.lower(): version for path, version in h.dlls}
    rows = []
    for path in gather_ops()[GATHER_KEYS.index("drivers.dlls")]["paths"]:
        version = present.get(path.lower())
        expanded = path.replace("%SystemRoot%", r"C:\Windows")
        rows.append(
            {
                "path": expanded,
                "exists": version is not None,
                "product_version": version,
                "file_version": version,
                "source_key": None,
            }
        )
    return rows


def _binary(thumbprint: str) -> dict[str, Any]:
    return {"type": "REG_BINARY", "data": base64.b64encode(bytes.fromhex(thumbprint)).decode()}


def _wsman(h: Host) -> dict[str, Any]:
    listeners = {"*+HTTP": key({"Port": dword(5985), "uriprefix": sz("wsman")})}
    if h.winrm_https_certificate:
        listeners["*+HTTPS"] = key(
            {"Port": dword(5986), "uriprefix": sz("wsman"), "certThumbprint": sz(h.winrm_https_certificate)}
        )
    return key({}, listeners)


def _http_sys(h: Host) -> dict[str, Any]:
    if not h.http_sys:
        return MISSING
    return key({}, {endpoint: key({"SslCertHash": _binary(tp)}) for endpoint, tp in h.http_sys.items()})


def agent_results(h: Host) -> list[dict[str, Any]]:
    """The ``results`` array of the agent's answer to ``gather_ops()`` for this host."""
    ops = dict(zip(GATHER_KEYS, gather_ops(), strict=True))
    by_key = {
        "os.current_version": ok(_current_version(h)),
        "os.info": ok(
            {
                "computer_name": h.computer_name,
                "dns_domain": h.dns_domain,
                "ps_version": "5.1.20348.2849",
                "last_boot_utc": "2026-11-29T21:58:00Z",
                "is_64bit": True,
            }
        ),
        "schannel": ok(_schannel(h)),
        "suites.local": ok(
            key({"Functions": multi_sz(h.local_suites)}) if h.local_suites is not None else key({})
        ),
        "suites.policy": ok(
            key({"Functions": {"type": h.policy_type, "data": h.policy_suites}})
            if h.policy_suites is not None
            else MISSING
        ),
        "suites.cmdlet": _suites_cmdlet(h),
        "dotnet.ndp_v4": ok(
            key(
                {},
                {
                    "Full": key({"Version": sz("4.8.04161"), "Release": dword(528449)}),
                    "Client": key({}, {"1033": key({"Version": sz("4.8.04161")})}),
                },
            )
        ),
        "winhttp.native": ok(key({"DefaultSecureProtocols": dword(0x2800)})),
        "winhttp.wow64": ok(MISSING),
        "fips": ok(key({"Enabled": dword(h.fips)}) if h.fips is not None else key({})),
        "sql.tree": ok(_sql_tree(h)),
        "sql.binaries": ok(_binaries(h)),
        "sql.errorlog": ok(_tail(h, ops["sql.errorlog"]["patterns"], ops["sql.errorlog"]["max_lines"])),
        "sql.services": ok(
            _services(h, ops["sql.services"]["names"], ops["sql.services"].get("prefixes", []))
        ),
        "cluster": ok(
            {
                "is_node": h.cluster_node,
                "cluster_name": "CLU1" if h.cluster_node else None,
                "nodes": [],
                "resources": list(h.cluster_resources),
            }
        ),
        "certificates": ok(list(h.certificates)),
        "drivers.odbcinst": ok(_odbcinst(h, 64)),
        "drivers.odbcinst_wow64": ok(_odbcinst(h, 32)),
        "drivers.odbc_files": ok(_odbc_files(h, 64, r"HKLM\SOFTWARE\ODBC\ODBCINST.INI")),
        "drivers.odbc_files_wow64": ok(_odbc_files(h, 32, r"HKLM\SOFTWARE\WOW6432Node\ODBC\ODBCINST.INI")),
        "drivers.dlls": ok(_dlls(h)),
        "bindings.rdp": ok(
            key({"SSLCertificateSHA1Hash": _binary(h.rdp_certificate)} if h.rdp_certificate else {})
        ),
        "bindings.wsman": ok(_wsman(h)),
        "bindings.http_ssl": ok(_http_sys(h)),
        "bindings.http_ssl_sni": ok(MISSING),
        "journal": ok({"records": list(h.journal_records)}),
        "events.schannel": ok(
            {
                "counts": {str(i): h.events.get(i, 0) for i in (36874, 36888, 36887)},
                "latest_utc": {
                    str(i): "2026-11-29T23:00:00Z" if h.events.get(i) else None for i in (36874, 36888, 36887)
                },
            }
        ),
    }
    for label in ("v4", "v4_wow64", "v2", "v2_wow64"):
        if label in h.dotnet_strong_crypto:
            value = h.dotnet_strong_crypto[label]
            values = {"SystemDefaultTlsVersions": dword(1)}
            if value is not None:
                values["SchUseStrongCrypto"] = dword(value)
            by_key[f"dotnet.{label}"] = ok(key(values))
        else:
            by_key[f"dotnet.{label}"] = ok(MISSING)
    return [by_key[k] for k in GATHER_KEYS]


def facts_of(h: Host) -> dict[str, Any]:
    return build_facts(agent_results(h), now=NOW)
