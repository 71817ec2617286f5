"""Profile -> a freshly installed, booted host: the registry a real host would have.

Registry layout per reference/windows-schannel.md section 10 and
reference/sqlserver-tls.md sections 1, 2, 8, 10, 11.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from . import certs, der, schannel, sqlserver, windows
from . import registry as regmod
from .model import (
    BootState,
    Cluster,
    ClusterResource,
    Event,
    FileEntry,
    HostState,
    OsInfo,
    Service,
    SqlInstance,
    StoredCert,
    iso,
)
from .profiles import (
    CertProfile,
    DriverProfile,
    Profile,
    ProfileError,
    SqlProfile,
    substitute_hosts,
)

CURRENT_VERSION = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
SQL_ROOT = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server"
_FAMILY_NAMES = {"2012r2": "2012 R2", "2016": "2016", "2019": "2019", "2022": "2022", "2025": "2025"}
_RELEASE_IDS = {"2016": "1607", "2019": "1809", "2022": "2009", "2025": "2009"}
_DISPLAY_VERSIONS = {"2022": "21H2", "2025": "24H2"}
_PROTOCOL_SHORTHANDS = {
    "disabled": {"Enabled": 0, "DisabledByDefault": 1},
    "enabled": {"Enabled": 1, "DisabledByDefault": 0},
}


def _set(reg: regmod.Registry, path: str, name: str, type_: str, data: object) -> None:
    regmod.set_value(reg, path, name, type_, regmod.check_data(type_, data))


def _dword_map(reg: regmod.Registry, path: str, values: object, where: str) -> None:
    if not isinstance(values, dict):
        raise ProfileError(f"{where}: expected a mapping of DWORD value names to integers")
    regmod.ensure_key(reg, path)
    for name, data in values.items():
        if not isinstance(data, int) or isinstance(data, bool):
            raise ProfileError(f"{where}.{name}: expected an integer (DWORD)")
        _set(reg, path, str(name), "REG_DWORD", data)


# ---- OS -------------------------------------------------------------------------


def os_info(p: Profile) -> OsInfo:
    family = schannel.os_family(p.os.build)
    modern = family != "2012r2"
    return OsInfo(
        major=10 if modern else 6,
        minor=0 if modern else 3,
        build=p.os.build,
        ubr=p.os.ubr,
        product_name=p.os.product_name or f"Windows Server {_FAMILY_NAMES[family]} Datacenter",
        installation_type=p.os.installation_type,
        # WMF 5.1 on 2012 R2 reports 5.1.14409.x; on 10.0 builds it follows the OS build
        ps_version=f"5.1.{p.os.build}.{p.os.ubr}" if modern else "5.1.14409.1005",
    )


def environment(p: Profile) -> dict[str, str]:
    return {
        "SystemRoot": "C:\\Windows",
        "windir": "C:\\Windows",
        "SystemDrive": "C:",
        "ProgramData": "C:\\ProgramData",
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "ProgramFiles": "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        "ProgramW6432": "C:\\Program Files",
        "CommonProgramFiles": "C:\\Program Files\\Common Files",
        "TEMP": "C:\\Windows\\TEMP",
        "TMP": "C:\\Windows\\TEMP",
        "COMPUTERNAME": p.computer_name,
        "USERDNSDOMAIN": p.dns_domain.upper(),
        "PUBLIC": "C:\\Users\\Public",
    }


def _os_registry(reg: regmod.Registry, p: Profile, info: OsInfo) -> None:
    family = schannel.os_family(p.os.build)
    cv = CURRENT_VERSION
    _set(reg, cv, "ProductName", "REG_SZ", info.product_name)
    _set(reg, cv, "EditionID", "REG_SZ", p.os.edition_id)
    _set(reg, cv, "InstallationType", "REG_SZ", p.os.installation_type)
    _set(reg, cv, "CurrentVersion", "REG_SZ", "6.3")  # kept at 6.3 on 10.0 too (section 9)
    _set(reg, cv, "CurrentBuild", "REG_SZ", str(p.os.build))
    _set(reg, cv, "CurrentBuildNumber", "REG_SZ", str(p.os.build))
    _set(reg, cv, "UBR", "REG_DWORD", p.os.ubr)
    _set(reg, cv, "SystemRoot", "REG_SZ", "C:\\Windows")
    if info.major >= 10:  # absent on 2012 R2 (section 9)
        _set(reg, cv, "CurrentMajorVersionNumber", "REG_DWORD", info.major)
        _set(reg, cv, "CurrentMinorVersionNumber", "REG_DWORD", info.minor)
        release = p.os.release_id or _RELEASE_IDS.get(family)
        if release:
            _set(reg, cv, "ReleaseId", "REG_SZ", release)
        display = p.os.display_version or _DISPLAY_VERSIONS.get(family)
        if display:
            _set(reg, cv, "DisplayVersion", "REG_SZ", display)
    names = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName"
    _set(reg, f"{names}\\ComputerName", "ComputerName", "REG_SZ", p.computer_name)
    _set(reg, f"{names}\\ActiveComputerName", "ComputerName", "REG_SZ", p.computer_name)
    tcpip = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters"
    _set(reg, tcpip, "Hostname", "REG_SZ", p.computer_name.lower())
    _set(reg, tcpip, "NV Hostname", "REG_SZ", p.computer_name.lower())
    _set(reg, tcpip, "Domain", "REG_SZ", p.dns_domain)


# ---- Schannel, suites, .NET, WinHTTP, FIPS --------------------------------------


def _schannel_registry(reg: regmod.Registry, p: Profile) -> None:
    s = schannel.SCHANNEL
    regmod.ensure_key(reg, f"{s}\\Protocols")
    known = {"protocols", "ciphers", "hashes", "key_exchange", "values"}
    unknown = set(p.schannel) - known
    if unknown:
        raise ProfileError(f"{p.name}.schannel: unknown field(s) {sorted(unknown)}, expected {sorted(known)}")
    for proto, sides in (p.schannel.get("protocols") or {}).items():
        where = f"{p.name}.schannel.protocols.{proto}"
        if isinstance(sides, str):
            if sides not in _PROTOCOL_SHORTHANDS:
                raise ProfileError(
                    f"{where}: expected {sorted(_PROTOCOL_SHORTHANDS)} or a Server/Client mapping"
                )
            sides = {"Server": _PROTOCOL_SHORTHANDS[sides], "Client": _PROTOCOL_SHORTHANDS[sides]}
        if not isinstance(sides, dict) or not set(sides) <= {"Server", "Client"}:
            raise ProfileError(f"{where}: expected a mapping with Server and/or Client")
        for side, values in sides.items():
            if isinstance(values, str):
                values = _PROTOCOL_SHORTHANDS.get(values, values)
            _dword_map(reg, f"{s}\\Protocols\\{proto}\\{side}", values, f"{where}.{side}")
    for field_name, sub in (
        ("ciphers", "Ciphers"),
        ("hashes", "Hashes"),
        ("key_exchange", "KeyExchangeAlgorithms"),
    ):
        for name, values in (p.schannel.get(field_name) or {}).items():
            _dword_map(reg, f"{s}\\{sub}\\{name}", values, f"{p.name}.schannel.{field_name}.{name}")
    _dword_map(reg, s, p.schannel.get("values") or {}, f"{p.name}.schannel.values")


def _suite_list(p: Profile) -> list[str] | None:
    local = p.cipher_suites.get("local", "os_default")
    where = f"{p.name}.cipher_suites.local"
    default = schannel.default_suites(p.os.build)
    if local == "os_default":
        return default
    if local == "absent":
        return None
    if isinstance(local, dict) and set(local) == {"os_default_without_prefixes"}:
        prefixes = tuple(local["os_default_without_prefixes"])
        return [s for s in default if not s.startswith(prefixes)]
    if isinstance(local, list) and all(isinstance(x, str) for x in local):
        return list(local)
    raise ProfileError(
        f"{where}: expected 'os_default', 'absent', {{os_default_without_prefixes: [...]}} "
        "or a list of suites"
    )


def _suites_registry(reg: regmod.Registry, p: Profile) -> None:
    unknown = set(p.cipher_suites) - {"local", "policy", "ecc_curves"}
    if unknown:
        raise ProfileError(f"{p.name}.cipher_suites: unknown field(s) {sorted(unknown)}")
    local = _suite_list(p)
    regmod.ensure_key(reg, schannel.LOCAL_SUITES)
    if local is not None:
        _set(reg, schannel.LOCAL_SUITES, "Functions", "REG_MULTI_SZ", local)
    policy = p.cipher_suites.get("policy")
    if policy is not None:
        if not isinstance(policy, str):
            raise ProfileError(f"{p.name}.cipher_suites.policy: expected one comma-separated string (REG_SZ)")
        _set(reg, schannel.POLICY_SUITES, "Functions", "REG_SZ", policy)
    curves = p.cipher_suites.get("ecc_curves")
    if curves is not None:
        _set(reg, schannel.POLICY_SUITES, "EccCurves", "REG_MULTI_SZ", list(curves))


def _dotnet_registry(reg: regmod.Registry, p: Profile) -> None:
    d = dict(p.dotnet)
    wow = d.pop("wow6432", True)
    ndp = d.pop("ndp_v4_version", "4.8.04084")
    for version, values in d.items():
        if version not in ("v4.0.30319", "v2.0.50727"):
            raise ProfileError(
                f"{p.name}.dotnet.{version}: expected v4.0.30319, v2.0.50727, wow6432 or ndp_v4_version"
            )
        for root in ("HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\Wow6432Node") if wow else ("HKLM\\SOFTWARE",):
            _dword_map(
                reg, f"{root}\\Microsoft\\.NETFramework\\{version}", values, f"{p.name}.dotnet.{version}"
            )
    for root in ("HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\Wow6432Node"):
        regmod.ensure_key(reg, f"{root}\\Microsoft\\.NETFramework\\v4.0.30319")
    ndp_key = "HKLM\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4"
    for sub in ("Client", "Full"):
        _set(reg, f"{ndp_key}\\{sub}", "Version", "REG_SZ", str(ndp))
        _set(reg, f"{ndp_key}\\{sub}", "Install", "REG_DWORD", 1)
        _set(reg, f"{ndp_key}\\{sub}\\1033", "Version", "REG_SZ", str(ndp))


def _winhttp_registry(reg: regmod.Registry, p: Profile) -> None:
    w = dict(p.winhttp)
    wow = w.pop("wow6432", True)
    if not w:
        return
    for root in ("HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\Wow6432Node") if wow else ("HKLM\\SOFTWARE",):
        path = f"{root}\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\WinHttp"
        _dword_map(reg, path, w, f"{p.name}.winhttp")


# ---- certificates -----------------------------------------------------------------


def make_cert(p: Profile, c: CertProfile, now: dt.datetime, keys: certs.KeyCache) -> StoredCert:
    # a shared key (and the same spec and `now`) gives every FCI node the same certificate
    key = (
        keys.get("shared", c.shared_key, c.spec.key) if c.shared_key else keys.get(p.name, c.name, c.spec.key)
    )
    der_bytes = certs.build_certificate(c.spec, key, now)
    properties: dict[int, bytes] = {}
    if c.eku_property is not None:
        properties[9] = der.encode_oid_sequence(list(c.eku_property))
    if c.friendly_name:
        properties[11] = (c.friendly_name + "\0").encode("utf-16-le")  # CERT_FRIENDLY_NAME_PROP_ID
    # A stable container name: the same key (shared_key) has the same name on every node.
    label = f"shared:{c.shared_key}" if c.shared_key else f"{p.name}:{c.name}"
    container = c.key_container or str(uuid.uuid5(uuid.NAMESPACE_URL, f"winlab:{label}"))
    return StoredCert(
        name=c.name,
        der=der_bytes,
        key_pem=certs.key_to_pem(key) if c.has_private_key else None,
        has_private_key=c.has_private_key,
        key_provider=c.key_provider if c.has_private_key else None,
        key_spec=c.key_spec if c.has_private_key else None,
        properties=properties,
        key_provider_type=c.key_provider_type if c.has_private_key else None,
        key_container=container if c.has_private_key else None,
        key_acl=c.key_acl if c.has_private_key else None,
        key_acl_denied=c.key_acl_denied,
    )


# ---- SQL Server -------------------------------------------------------------------


def _service_names(sql: SqlProfile) -> tuple[str, str]:
    if sql.name.upper() == "MSSQLSERVER":
        return "MSSQLSERVER", "SQLSERVERAGENT"
    return f"MSSQL${sql.name}", f"SQLAgent${sql.name}"


def _sql_registry(reg: regmod.Registry, sql: SqlProfile, thumb: str | None, inst: SqlInstance) -> None:
    r = inst.registry_root
    _set(reg, f"{SQL_ROOT}\\Instance Names\\SQL", sql.name, "REG_SZ", sql.id)
    binn = f"{_default_root(sql)}\\Binn"  # binaries stay local, even for an FCI
    _set(reg, f"{r}\\Setup", "Version", "REG_SZ", sql.setup_version or sql.version)
    _set(reg, f"{r}\\Setup", "PatchLevel", "REG_SZ", sql.patch_level or sql.version)
    _set(reg, f"{r}\\Setup", "Edition", "REG_SZ", sql.edition)
    _set(reg, f"{r}\\Setup", "SQLBinRoot", "REG_SZ", binn)
    _set(reg, f"{r}\\Setup", "SqlProgramDir", "REG_SZ", "C:\\Program Files\\Microsoft SQL Server")
    _set(reg, f"{r}\\Setup", "SQLPath", "REG_SZ", _default_root(sql))
    _set(reg, f"{r}\\MSSQLServer\\CurrentVersion", "CurrentVersion", "REG_SZ", sql.version)
    net = f"{r}\\MSSQLServer\\SuperSocketNetLib"
    _set(
        reg, net, "Certificate", "REG_SZ", (thumb or "").lower()
    )  # lower-case, as Configuration Manager wants
    _set(reg, net, "ForceEncryption", "REG_DWORD", sql.force_encryption)
    if sql.force_strict is not None:
        _set(reg, net, "ForceStrict", "REG_DWORD", sql.force_strict)
    _set(reg, net, "HideInstance", "REG_DWORD", 0)
    _set(reg, net, "ExtendedProtection", "REG_DWORD", 0)
    _set(reg, f"{net}\\Tcp", "Enabled", "REG_DWORD", 1)
    _set(reg, f"{net}\\Tcp", "ListenOnAllIPs", "REG_DWORD", 1)
    _set(reg, f"{net}\\Tcp\\IPAll", "TcpPort", "REG_SZ", str(sql.port))
    _set(reg, f"{net}\\Tcp\\IPAll", "TcpDynamicPorts", "REG_SZ", "")
    _set(reg, f"{net}\\Np", "Enabled", "REG_DWORD", 0)
    _set(reg, f"{net}\\Sm", "Enabled", "REG_DWORD", 1)
    root = sql.data_root or _default_root(sql)
    params = f"{r}\\MSSQLServer\\Parameters"
    _set(reg, params, "SQLArg0", "REG_SZ", f"-d{root}\\DATA\\master.mdf")
    _set(reg, params, "SQLArg1", "REG_SZ", f"-e{inst.errorlog}")
    _set(reg, params, "SQLArg2", "REG_SZ", f"-l{root}\\DATA\\mastlog.ldf")
    _set(reg, f"{r}\\MSSQLServer\\HADR", "HADR_Enabled", "REG_DWORD", sql.hadr)
    if sql.virtual_name:
        _set(reg, f"{r}\\Cluster", "ClusterName", "REG_SZ", sql.virtual_name)


def _default_root(sql: SqlProfile) -> str:
    return f"C:\\Program Files\\Microsoft SQL Server\\{sql.id}\\MSSQL"


def _sql_instance(sql: SqlProfile) -> SqlInstance:
    engine, agent = _service_names(sql)
    return SqlInstance(
        name=sql.name,
        id=sql.id,
        version=sql.version,
        port=sql.port,
        service=engine,
        agent_service=agent if sql.agent else None,
        errorlog=f"{sql.data_root or _default_root(sql)}\\Log\\ERRORLOG",
        virtual_name=sql.virtual_name,
    )


def _sql_services(sql: SqlProfile, inst: SqlInstance) -> list[Service]:
    clustered = sql.virtual_name is not None  # the cluster, not the SCM, starts FCI services
    default_mode = "Manual" if clustered else "Automatic"
    engine = Service(
        inst.service,
        f"SQL Server ({sql.name})",
        state="Stopped",
        start_mode=sql.start_mode or default_mode,
        dependents=[inst.agent_service] if inst.agent_service else [],
    )
    services = [engine]
    if inst.agent_service:
        services.append(
            Service(
                inst.agent_service,
                f"SQL Server Agent ({sql.name})",
                state="Stopped",
                start_mode=sql.agent_start_mode or default_mode,
            )
        )
    return services


def _errorlog_extra(
    state: HostState, sql: SqlProfile, inst: SqlInstance, now: dt.datetime, addresses: dict[str, str]
) -> None:
    """The profile's lines after the start; {host:NAME} is the address of lab host NAME (the
    address a client connects from, as SQL Server writes it in [CLIENT: ...])."""
    lines = []
    for entry in sql.errorlog_extra:
        start = now + dt.timedelta(minutes=entry.minutes_after_start)
        for i in range(entry.repeat):
            for text in entry.lines:
                line = substitute_hosts(text, addresses)
                lines.append(sqlserver.errorlog_line(start + dt.timedelta(seconds=7 * i), entry.source, line))
    if lines:
        sqlserver.append_errorlog(state, inst.errorlog, lines)


# ---- drivers ------------------------------------------------------------------------


def _wow_path(dll: str) -> str:
    return re.sub(r"\\system32\\", r"\\SysWOW64\\", dll, flags=re.I)


def _driver_entries(state: HostState, d: DriverProfile) -> None:
    """A driver's registry entries and DLL. A 32-bit driver registers its DLL as a 32-bit
    installer sees it (`...\\system32\\x.dll`), while the file lies in SysWOW64, where the WOW64
    file system redirector sends 32-bit processes (MicrosoftDocs/win32 desktop-src/WinProg64/
    file-system-redirector.md; SupportArticles-docs driver-install-checking.md: "references to
    c:\\windows\\system32 are automatically redirected to c:\\windows\\syswow64")."""
    reg = state.registry
    roots = {
        "64": [("HKLM\\SOFTWARE", "HKCR", False)],
        "32": [("HKLM\\SOFTWARE\\WOW6432Node", "HKCR\\WOW6432Node", True)],
    }
    targets = roots["64"] + roots["32"] if d.bits == "both" else roots[d.bits]
    for soft, classes, is32 in targets:
        dll = d.dll
        state.put_file(
            FileEntry(
                path=_wow_path(dll) if is32 else dll,
                product_version=d.product_version,
                file_version=d.file_version or d.product_version,
            )
        )
        if d.kind == "odbc":
            inst = f"{soft}\\ODBC\\ODBCINST.INI"
            _set(reg, f"{inst}\\ODBC Drivers", d.name, "REG_SZ", "Installed")
            _set(reg, f"{inst}\\{d.name}", "Driver", "REG_SZ", dll)
            _set(reg, f"{inst}\\{d.name}", "Setup", "REG_SZ", dll)
            _set(reg, f"{inst}\\{d.name}", "APILevel", "REG_SZ", "2")
            _set(reg, f"{inst}\\{d.name}", "DriverODBCVer", "REG_SZ", "03.80")
            _set(reg, f"{inst}\\{d.name}", "UsageCount", "REG_DWORD", 1)
        else:
            key = f"{classes}\\CLSID\\{d.clsid}"
            _set(reg, key, "", "REG_SZ", d.name)
            _set(reg, f"{key}\\InprocServer32", "", "REG_SZ", dll)
            _set(reg, f"{key}\\InprocServer32", "ThreadingModel", "REG_SZ", "Both")
            _set(reg, f"{key}\\ProgID", "", "REG_SZ", f"{d.name}.1")
            _set(reg, f"{key}\\VersionIndependentProgID", "", "REG_SZ", d.name)
            _set(reg, f"{key}\\OLE DB Provider", "", "REG_SZ", d.description or d.name)


def builtin_drivers(info: OsInfo) -> list[DriverProfile]:
    """The MDAC drivers Windows ships, versioned with the OS (sqlserver-tls.md section 8)."""
    version = f"{info.major}.{info.minor}.{info.build}.{info.ubr}"
    return [
        DriverProfile("odbc", "SQL Server", "C:\\Windows\\system32\\SQLSRV32.dll", version, bits="both"),
        DriverProfile(
            "oledb",
            "SQLOLEDB",
            "C:\\Program Files\\Common Files\\System\\Ole DB\\sqloledb.dll",
            version,
            bits="64",
            clsid="{0C7FF16C-38E3-11d0-97AB-00C04FC2AD98}",
            description="Microsoft OLE DB Provider for SQL Server",
        ),
    ]


# ---- cluster ------------------------------------------------------------------------


def _cluster(p: Profile, instances: list[SqlInstance]) -> Cluster | None:
    if p.cluster is None:
        return None
    c = p.cluster
    resources = [
        ClusterResource(
            "Cluster Name", "Network Name", "Cluster Group", c.owner, private={"DnsName": c.name}
        ),
    ]
    for n, inst in enumerate(i for i in instances if i.virtual_name):
        vn = inst.virtual_name
        suffix = "" if inst.name.upper() == "MSSQLSERVER" else f" ({inst.name})"
        group = f"SQL Server ({inst.name})"
        net = f"SQL Network Name ({vn})"
        disk = f"Cluster Disk {n + 1}"
        private = {"InstanceName": inst.name, "VirtualServerName": vn}
        resources += [
            ClusterResource(f"SQL IP Address 1 ({vn})", "IP Address", group, c.owner),
            ClusterResource(
                net,
                "Network Name",
                group,
                c.owner,
                private={"DnsName": vn, "Name": vn},
                depends_on=[f"SQL IP Address 1 ({vn})"],
            ),
            ClusterResource(disk, "Physical Disk", group, c.owner),
            ClusterResource(
                f"SQL Server{suffix}", "SQL Server", group, c.owner, private=private, depends_on=[net, disk]
            ),
            ClusterResource(
                f"SQL Server Agent{suffix}",
                "SQL Server Agent",
                group,
                c.owner,
                private=dict(private),
                depends_on=[f"SQL Server{suffix}"],
            ),
        ]
    # One role (group) per availability group, its resource online on the primary replica's node
    # (docs/reference-windows-bindings.md 8). The lab only stores it: restarts do not move it.
    for group, owner in c.availability_groups:
        resources.append(ClusterResource(group, "SQL Server Availability Group", group, owner))
    return Cluster(name=c.name, nodes=[{"name": n, "state": "Up"} for n in c.nodes], resources=resources)


def _cluster_registry(reg: regmod.Registry, p: Profile) -> None:
    if p.cluster is None:
        return
    _set(reg, "HKLM\\Cluster", "ClusterName", "REG_SZ", p.cluster.name)
    for i, node in enumerate(p.cluster.nodes, start=1):
        _set(reg, f"HKLM\\Cluster\\Nodes\\{i}", "NodeName", "REG_SZ", node)


# ---- other users of certificates ----------------------------------------------------

RDP_TCP = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp"
WSMAN_LISTENER = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WSMAN\\Listener"
HTTP_PARAMETERS = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters"


def _bindings_registry(reg: regmod.Registry, p: Profile, by_name: dict[str, StoredCert]) -> None:
    """RDP, WinRM and http.sys as Windows stores them (docs/reference-windows-bindings.md 1-3).

    RDP-Tcp exists on every host; `SSLCertificateSHA1Hash` (REG_BINARY, the 20 thumbprint bytes) only
    when the listener has a custom certificate (absent = the self-signed one). WinRM: `*+HTTP` always
    (the pristine export of section 2: Port 5985, uriprefix), `*+HTTPS` with `certThumbprint` (REG_SZ
    hex) when the profile names a certificate. http.sys: `SslCertHash` (binary), `AppId` (binary GUID),
    `DefaultFlags`, and `HostnamePort` under SslSniBindingInfo."""
    _set(reg, RDP_TCP, "PortNumber", "REG_DWORD", 3389)
    _set(reg, RDP_TCP, "SecurityLayer", "REG_DWORD", 2)
    if p.rdp_certificate:
        _set(
            reg,
            RDP_TCP,
            "SSLCertificateSHA1Hash",
            "REG_BINARY",
            bytes.fromhex(by_name[p.rdp_certificate].thumbprint),
        )
    _set(reg, f"{WSMAN_LISTENER}\\*+HTTP", "Port", "REG_DWORD", 5985)
    _set(reg, f"{WSMAN_LISTENER}\\*+HTTP", "uriprefix", "REG_SZ", "wsman")
    if p.winrm_https_certificate:
        https = f"{WSMAN_LISTENER}\\*+HTTPS"
        _set(reg, https, "Port", "REG_DWORD", 5986)
        _set(reg, https, "uriprefix", "REG_SZ", "wsman")
        _set(reg, https, "hostname", "REG_SZ", f"{p.computer_name}.{p.dns_domain}".lower())
        _set(reg, https, "certThumbprint", "REG_SZ", by_name[p.winrm_https_certificate].thumbprint)
        _set(reg, https, "enabled", "REG_DWORD", 1)
    for n, b in enumerate(p.http_sys_bindings):
        if b.kind == "sni":
            path = f"{HTTP_PARAMETERS}\\SslSniBindingInfo\\{n}"
            _set(reg, path, "HostnamePort", "REG_SZ", b.endpoint)
        else:
            path = f"{HTTP_PARAMETERS}\\SslBindingInfo\\{b.endpoint}"
        _set(reg, path, "SslCertHash", "REG_BINARY", bytes.fromhex(by_name[b.certificate].thumbprint))
        _set(reg, path, "AppId", "REG_BINARY", uuid.UUID(b.app_id).bytes_le)
        _set(reg, path, "DefaultFlags", "REG_DWORD", 0)
        if b.store is not None:
            _set(reg, path, "SslCertStoreName", "REG_SZ", b.store)


# ---- overrides and assembly ---------------------------------------------------------


def _apply_overrides(reg: regmod.Registry, p: Profile) -> None:
    for i, ov in enumerate(p.registry):
        where = f"{p.name}.registry[{i}]"
        try:
            if ov.remove and ov.name is None:
                regmod.delete_key(reg, ov.path, recurse=True)
            elif ov.remove:
                regmod.delete_value(reg, ov.path, ov.name or "")
            elif ov.name is None:
                regmod.ensure_key(reg, ov.path)
            elif ov.raw is not None:
                key, _created = regmod.ensure_key(reg, ov.path)
                key.values[ov.name.lower()] = regmod.raw_value(ov.name, ov.type or "", ov.raw)
            else:
                _set(reg, ov.path, ov.name, ov.type or "", ov.data)
        except regmod.RegistryError as exc:
            raise ProfileError(f"{where}: {exc}") from exc


def build_host(p: Profile, now: dt.datetime, keys: certs.KeyCache) -> HostState:
    """Install everything the profile describes, then boot once."""
    info = os_info(p)
    reg = regmod.new_registry()
    _os_registry(reg, p, info)
    _schannel_registry(reg, p)
    _suites_registry(reg, p)
    _dotnet_registry(reg, p)
    _winhttp_registry(reg, p)
    _set(reg, schannel.FIPS, "Enabled", "REG_DWORD", 1 if p.fips else 0)
    _cluster_registry(reg, p)

    stores: dict[str, list[StoredCert]] = {"My": [], "Root": [], "CA": []}
    by_name = {}
    for c in p.certificates:
        cert = make_cert(p, c, now, keys)
        stores.setdefault(c.store, []).append(cert)
        by_name[c.name] = cert

    _bindings_registry(reg, p, by_name)

    instances = [_sql_instance(sql) for sql in p.sql_instances]
    services = [
        Service("WinRM", "Windows Remote Management (WS-Management)"),
        Service("EventLog", "Windows Event Log"),
    ]
    if p.cluster is not None:
        services.append(Service("ClusSvc", "Cluster Service"))
    if any(sql.name.upper() != "MSSQLSERVER" for sql in p.sql_instances):
        services.append(Service("SQLBrowser", "SQL Server Browser"))
    for sql, inst in zip(p.sql_instances, instances, strict=True):
        thumb = by_name[sql.certificate].thumbprint if sql.certificate else sql.certificate_thumbprint
        _sql_registry(reg, sql, thumb, inst)
        services += _sql_services(sql, inst)
    if p.sql_instances:
        _set(reg, SQL_ROOT, "InstalledInstances", "REG_MULTI_SZ", [s.name for s in p.sql_instances])

    state = HostState(
        name=p.name,
        computer_name=p.computer_name,
        dns_domain=p.dns_domain,
        os=info,
        env=environment(p),
        registry=reg,
        cert_stores=stores,
        services={s.name.lower(): s for s in services},
        sql_instances=instances,
        sql_runtime={},
        files={},
        events=[],
        cluster=_cluster(p, instances),
        boot=BootState(boot_utc=iso(now)),
        expect_scenarios=list(p.expect_scenarios),
        profile_digest=p.digest,
        denied_keys=list(p.denied_keys),
        read_only_keys=list(p.read_only_keys),
        locked_files=list(p.locked_files),
        utc_offset_minutes=p.utc_offset_minutes,
        time_zone=p.time_zone,
    )
    for i, path in enumerate([*p.denied_keys, *p.read_only_keys]):
        try:
            regmod.split_path(path)
        except regmod.RegistryError as exc:
            raise ProfileError(f"{p.name}.denied_keys/read_only_keys[{i}]: {exc}") from exc
    for inst in instances:
        binn = regmod.get_value(reg, f"{inst.registry_root}\\Setup", "SQLBinRoot")
        state.put_file(
            FileEntry(
                path=f"{binn.data}\\sqlservr.exe",
                product_version=inst.version,
                file_version=sqlserver.file_version(inst.version),
            )
        )
    os_version = f"{info.major}.{info.minor}.{info.build}.{info.ubr}"
    state.put_file(
        FileEntry(
            path="C:\\Windows\\System32\\schannel.dll", product_version=os_version, file_version=os_version
        )
    )
    drivers = [*(builtin_drivers(info) if p.windows_builtin_drivers else []), *p.drivers]
    for d in drivers:
        _driver_entries(state, d)
    _apply_overrides(reg, p)
    for ev in p.events:
        for i in range(ev.count):
            when = now - dt.timedelta(hours=ev.hours_ago, minutes=i)
            state.events.append(Event(ev.log, ev.provider, ev.id, iso(when)))

    # the host has been up for a while: ERRORLOG lines written since boot lie in the past
    booted = now - dt.timedelta(hours=p.uptime_hours)
    windows.boot(state, sqlserver.LabClock(now=lambda: booted, keys=keys))
    for sql, inst in zip(p.sql_instances, instances, strict=True):
        if state.file(inst.errorlog) is not None:
            _errorlog_extra(state, sql, inst, booted, dict(p.host_addresses))
    # Services a profile puts in another state after boot (e.g. a Paused dependent).
    for name, service_state in p.service_states:
        svc = state.service(name)
        if svc is None:
            raise ProfileError(f"{p.name}.service_states.{name}: no such service on this host")
        svc.state = service_state
    return state
