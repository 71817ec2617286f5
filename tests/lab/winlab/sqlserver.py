"""What SQL Server does at service start: pick and load its certificate, write ERRORLOG.

The lab's own plain rule, written from reference/sqlserver-tls.md sections 2-4
(the real auto-pick algorithm is undocumented; section 3 says so).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import certs
from . import registry as regmod
from .model import FileEntry, HostState, SelfGeneratedCert, SqlInstance, SqlRuntime, StoredCert, iso
from .schannel import effective_server_protocols

SELF_SIGNED_CN = "SSL_Self_Signed_Fallback"
ERRORLOG_ARCHIVES = 6  # SQL Server keeps ERRORLOG.1 .. ERRORLOG.6 by default
_RELEASE_YEAR = {10: 2008, 11: 2012, 12: 2014, 13: 2016, 14: 2017, 15: 2019, 16: 2022, 17: 2025}
# FileVersion uses another numbering (section 1: "2011.0110.7493.04" for 11.0.7493.4)
_FILE_VERSION_YEAR = {10: 2007, 11: 2011, 12: 2014, 13: 2015, 14: 2017, 15: 2019, 16: 2022, 17: 2025}


class StartFailed(RuntimeError):
    """The instance did not start; the ERRORLOG says why. `code`: the error code of the
    17182 line, which the lab's service reports as its ServiceSpecificExitCode (windows.py)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class LabClock:
    """Time and key material the start sequence needs (the lab injects both)."""

    now: Callable[[], dt.datetime]
    keys: certs.KeyCache


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def file_version(version: str) -> str:
    major, minor, build, *rest = (*parse_version(version), 0)
    year = _FILE_VERSION_YEAR.get(major, 2000 + major)
    return f"{year}.{major:02d}{minor:02d}.{build}.{rest[0]:02d}"


def release_year(major: int) -> int:
    return _RELEASE_YEAR.get(major, 2000 + major)


def supports_tls12(version: str) -> bool:
    """KB3135244 with the branch-aware rule of sqlserver-tls.md section 7."""
    v = (*parse_version(version), 0, 0, 0)
    major, minor, build, rev = v[0], v[1], v[2], v[3]
    if major >= 13:
        return True
    if major == 12:
        if build >= 5000:
            return True
        if build >= 4400:
            return build >= 4439
        if 4100 <= build < 4400:
            return build >= 4219
        if 2300 <= build < 3000:
            return build >= 2564
        return 2271 <= build < 2300
    if major == 11:
        if build >= 7001:
            return True
        if build >= 6500:
            return build >= 6518
        if build >= 6000:
            return (build, rev) >= (6216, 27)
        if build >= 5500:
            return (build, rev) >= (5644, 2)
        return 5352 <= build < 5500
    if (major, minor) == (10, 50):
        return build >= 6542
    if major == 10:
        return build >= 6547
    return False


def instance_protocols(state: HostState, inst: SqlInstance) -> dict[str, bool]:
    """Schannel's server protocols narrowed by what the SQL build can use (sections 7, 9)."""
    protocols = dict(effective_server_protocols(state))
    if not supports_tls12(inst.version):
        protocols["TLS 1.2"] = False
    if inst.major < 16:  # TLS 1.3 only with SQL Server 2022 and TDS 8.0 (section 9)
        protocols["TLS 1.3"] = False
    return protocols


# ---- certificate choice ---------------------------------------------------------


def _netlib(state: HostState, inst: SqlInstance) -> regmod.RegKey | None:
    return regmod.find_key(state.registry, f"{inst.registry_root}\\MSSQLServer\\SuperSocketNetLib")


def _netlib_value(state: HostState, inst: SqlInstance, name: str) -> object:
    key = _netlib(state, inst)
    value = None if key is None else key.value(name)
    return None if value is None else value.data


def bound_thumbprint(state: HostState, inst: SqlInstance) -> str | None:
    data = _netlib_value(state, inst, "Certificate")
    if not isinstance(data, str) or not data.strip():
        return None
    return data.strip()


def find_cert(state: HostState, thumb: str, store: str = "My") -> StoredCert | None:
    for cert in state.cert_stores.get(store, []):
        if cert.thumbprint.lower() == thumb.lower():
            return cert
    return None


def server_name(state: HostState, inst: SqlInstance) -> str:
    """The FQDN clients use: the virtual server name for an FCI (section 4)."""
    if inst.virtual_name:
        return f"{inst.virtual_name}.{state.dns_domain}".lower()
    return state.fqdn


def auto_pick_candidates(state: HostState, inst: SqlInstance, now: dt.datetime) -> list[StoredCert]:
    """Certificates the lab's SQL Server would use when none is configured.

    Server Authentication allowed by the effective EKU (extension ∩ property 9,
    section 6), private key present, within validity, and the subject CN or a
    DNS SAN equal to the server's FQDN (section 3 step 2 and section 4).
    """
    wanted = server_name(state, inst)
    found = []
    for cert in state.cert_stores.get("My", []):
        facts = certs.read_facts(cert.der)
        usages = certs.effective_eku(facts.eku_extension, cert.properties.get(9))
        names = {n.lower() for n in (facts.subject_cn, *facts.dns_names) if n}
        if (
            cert.has_private_key
            and certs.allows_server_auth(usages)
            and facts.not_before <= now <= facts.not_after
            and wanted in names
        ):
            found.append(cert)
    # latest expiry first, then thumbprint: a stable choice among equals
    return sorted(found, key=lambda c: (-certs.read_facts(c.der).not_after.timestamp(), c.thumbprint))


def _self_generated(state: HostState, inst: SqlInstance, clock: LabClock) -> SelfGeneratedCert:
    # SHA1 up to SQL Server 2016, SHA256 from 2017 (section 3 step 3)
    hash_name = "sha1" if inst.major <= 13 else "sha256"
    key = clock.keys.get(state.name, f"{inst.name}-fallback", certs.KeySpec("rsa", 2048))
    spec = certs.CertSpec(
        subject_cn=SELF_SIGNED_CN,
        signature_hash=hash_name,
        not_before_days=-1,
        expires_in_days=365 * 30,
        eku=(certs.SERVER_AUTH,),
    )
    der_bytes = certs.build_certificate(spec, key, clock.now())
    return SelfGeneratedCert(der_bytes, certs.key_to_pem(key), hash_name)


# ---- ERRORLOG ---------------------------------------------------------------------


def errorlog_line(when: dt.datetime, source: str, text: str) -> str:
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4]
    return f"{stamp} {source:<12}{text}"


def cycle_errorlog(state: HostState, path: str) -> None:
    """ERRORLOG -> ERRORLOG.1 -> ... (a new log per service start, section 3)."""
    for n in range(ERRORLOG_ARCHIVES, 0, -1):
        older = state.files.pop(f"{path}.{n - 1}".lower() if n > 1 else path.lower(), None)
        if older is not None:
            older.path = f"{path}.{n}"
            state.files[older.path.lower()] = older


def append_errorlog(state: HostState, path: str, lines: list[str]) -> None:
    entry = state.file(path) or state.put_file(FileEntry(path=path, text="", encoding="utf-16le"))
    entry.text = (entry.text or "") + "".join(f"{line}\r\n" for line in lines)


def _startup_parameters(state: HostState, inst: SqlInstance) -> list[str]:
    key = regmod.find_key(state.registry, f"{inst.registry_root}\\MSSQLServer\\Parameters")
    if key is None:
        return []
    args = sorted(
        (v for v in key.values.values() if re.fullmatch(r"SQLArg\d+", v.name, re.I) and v.type == "REG_SZ"),
        key=lambda v: int(v.name[6:]),
    )
    return [f"\t {v.data}" for v in args]


def _banner(state: HostState, inst: SqlInstance, when: dt.datetime) -> list[str]:
    def at(text: str, src: str = "Server") -> str:
        return errorlog_line(when, src, text)

    return [
        at(f"Microsoft SQL Server {release_year(inst.major)} - {inst.version} (X64)"),
        at("UTC adjustment: 0:00"),
        at("(c) Microsoft Corporation."),
        at("All rights reserved."),
        at(f"Logging SQL Server messages in file '{inst.errorlog}'."),
        at("Registry startup parameters: "),
        *_startup_parameters(state, inst),
    ]


def _failure_lines(when: dt.datetime, thumb: str, reason_code: str) -> list[str]:
    def at(text: str) -> str:
        return errorlog_line(when, "Server", text)

    return [
        at("Error: 26014, Severity: 16, State: 1."),
        at(
            f'Unable to load user-specified certificate [Cert Hash(sha1) "{thumb.upper()}"]. The server will '
            "not accept a connection. You should verify that the certificate is correctly installed. "
            'See "Configuring Certificate for Use by SSL" in Books Online.'
        ),
        at("Error: 17182, Severity: 16, State: 1."),
        at(
            f"TDSSNIClient initialization failed with error {reason_code}, status code 0x80. "
            "Reason: Unable to initialize SSL support. "
        ),
        at("Error: 17826, Severity: 18, State: 3."),
        at(
            "Could not start the network library because of an internal error in the network library. "
            "To determine the cause, review the errors immediately preceding this one in the error log."
        ),
        at("Error: 17120, Severity: 16, State: 1."),
        at(
            "SQL Server could not spawn FRunCommunicationsManager thread. Check the SQL Server error log "
            "and the Windows event logs for information about possible related problems."
        ),
    ]


def start_instance(state: HostState, inst: SqlInstance, clock: LabClock) -> SqlRuntime:
    """Service start of the engine: new ERRORLOG, certificate load, runtime capture.

    A configured certificate that is missing or has no private key fails the
    start (26014 + 17182, section 3); the caller leaves the service Stopped.
    """
    now = clock.now()
    cycle_errorlog(state, inst.errorlog)
    lines = _banner(state, inst, now)

    def at(text: str) -> str:
        return errorlog_line(now, "Server", text)

    runtime = SqlRuntime(
        force_encryption=_netlib_value(state, inst, "ForceEncryption") not in (None, 0),
        force_strict=_netlib_value(state, inst, "ForceStrict") not in (None, 0),
    )
    bound = bound_thumbprint(state, inst)
    if bound is not None:
        cert = find_cert(state, bound)
        if cert is None or not cert.has_private_key:
            # 0x80092004 CRYPT_E_NOT_FOUND; 0x8009030D SEC_E_UNKNOWN_CREDENTIALS (no private key)
            code = "0x80092004" if cert is None else "0x8009030d"
            append_errorlog(state, inst.errorlog, [*lines, *_failure_lines(now, bound, code)])
            runtime.last_start_error = f"certificate {bound.upper()} " + (
                "not found in LocalMachine\\My" if cert is None else "has no private key"
            )
            state.sql_runtime[inst.name] = runtime
            raise StartFailed(runtime.last_start_error, int(code, 16))
        runtime.certificate = cert.thumbprint
        runtime.certificate_configured = True
    else:
        picked = auto_pick_candidates(state, inst, now)
        if picked:
            runtime.certificate = picked[0].thumbprint
        else:
            runtime.self_generated = _self_generated(state, inst, clock)
    if runtime.certificate is not None:
        lines.append(
            at(
                f'The certificate [Cert Hash(sha1) "{runtime.certificate}"] was successfully '
                "loaded for encryption."
            )
        )
    else:
        lines.append(at("A self-generated certificate was successfully loaded for encryption."))
    lines += [
        at(f"Server is listening on [ 'any' <ipv4> {inst.port}]."),
        at(
            "SQL Server is now ready for client connections. This is an informational message; "
            "no user action is required."
        ),
    ]
    append_errorlog(state, inst.errorlog, lines)
    runtime.running = True
    runtime.started_utc = iso(now)
    state.sql_runtime[inst.name] = runtime
    return runtime


def stop_instance(state: HostState, inst: SqlInstance) -> None:
    runtime = state.sql_runtime.get(inst.name)
    if runtime is not None:
        runtime.running = False


@dataclass(frozen=True)
class LoadedCertificate:
    thumbprint: str
    der: bytes
    key_pem: str | None
    self_generated: bool


def loaded_certificate(state: HostState, instance: str) -> LoadedCertificate | None:
    """The certificate the running instance serves (None when it is not running)."""
    inst = state.instance(instance)
    runtime = None if inst is None else state.sql_runtime.get(inst.name)
    if runtime is None or not runtime.running:
        return None
    if runtime.self_generated is not None:
        sg = runtime.self_generated
        return LoadedCertificate(sg.thumbprint, sg.der, sg.key_pem, True)
    cert = find_cert(state, runtime.certificate or "")
    if cert is None:  # deleted from the store while running: SQL keeps the loaded copy (inference)
        return None
    return LoadedCertificate(cert.thumbprint, cert.der, cert.key_pem, False)
