"""Boot and service-start semantics: what is in effect, and when it changes."""

from __future__ import annotations

import datetime as dt

import pytest
from labtest import NOW, base_profile, clock, make_state
from winlab import certs, der, schannel, sqlserver, windows
from winlab import registry as reg
from winlab.model import HostState

S = schannel.SCHANNEL
NETLIB = (
    "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib"
)
ERRORLOG = "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Log\\ERRORLOG"


def _log(state: HostState, suffix: str = "") -> str:
    entry = state.file(ERRORLOG + suffix)
    assert entry is not None and entry.text is not None
    return entry.text


def test_schannel_write_is_not_effective_until_reboot(keys: certs.KeyCache) -> None:
    state = make_state(base_profile(schannel={"protocols": {"TLS 1.0": "disabled"}}), keys)
    assert schannel.effective_server_protocols(state)["TLS 1.0"] is False
    reg.set_value(state.registry, f"{S}\\Protocols\\TLS 1.0\\Server", "Enabled", "REG_DWORD", 1)
    reg.set_value(state.registry, f"{S}\\Protocols\\TLS 1.0\\Server", "DisabledByDefault", "REG_DWORD", 0)
    assert schannel.effective_server_protocols(state)["TLS 1.0"] is False
    windows.boot(state, clock(keys))
    assert schannel.effective_server_protocols(state)["TLS 1.0"] is True
    assert schannel.effective_client_protocols(state)["TLS 1.0"] is False


@pytest.mark.parametrize(
    ("default", "values", "effective"),
    [
        ("Enabled", {}, True),
        ("Enabled", {"Enabled": 0}, False),
        ("Enabled", {"DisabledByDefault": 1}, False),  # effectively off for default consumers
        ("Enabled", {"Enabled": 0xFFFFFFFF}, True),
        ("Disabled", {}, False),
        ("Disabled", {"Enabled": 1}, True),
        ("Disabled", {"Enabled": 1, "DisabledByDefault": 1}, False),
        ("Not supported", {"Enabled": 1, "DisabledByDefault": 0}, False),
    ],
)
def test_protocol_effective_is_the_sqlcheck_algorithm(default: str, values: dict, effective: bool) -> None:
    key = reg.RegKey("Server")
    for name, value in values.items():
        key.values[name.lower()] = reg.RegValue(name, "REG_DWORD", value)
    assert schannel.protocol_effective(default, key) is effective


def test_os_defaults_per_release(keys: certs.KeyCache) -> None:
    old = make_state(base_profile(os={"build": 9600, "ubr": 21620}), keys)
    new = make_state(base_profile(os={"build": 20348, "ubr": 2966}), keys)
    assert schannel.effective_server_protocols(old) == {
        "SSL 2.0": False,
        "SSL 3.0": True,
        "TLS 1.0": True,
        "TLS 1.1": True,
        "TLS 1.2": True,
        "TLS 1.3": False,
    }
    assert schannel.effective_server_protocols(new)["TLS 1.3"] is True
    assert schannel.effective_server_protocols(new)["SSL 3.0"] is False


def test_policy_list_waits_for_reboot_but_local_list_is_immediate(keys: certs.KeyCache) -> None:
    state = make_state(base_profile(cipher_suites={"local": "absent"}), keys)
    assert schannel.effective_cipher_suites(state).source == "os_default"
    reg.set_value(
        state.registry, schannel.LOCAL_SUITES, "Functions", "REG_MULTI_SZ", ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    )
    assert schannel.effective_cipher_suites(state) == schannel.EffectiveSuites(
        "local", ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    )
    reg.set_value(state.registry, schannel.POLICY_SUITES, "Functions", "REG_SZ", "A,B")
    assert schannel.effective_cipher_suites(state).source == "local"
    windows.boot(state, clock(keys))
    assert schannel.effective_cipher_suites(state) == schannel.EffectiveSuites("policy", ["A", "B"])


def test_policy_list_as_multi_sz_is_ignored(keys: certs.KeyCache) -> None:
    # windows-schannel.md 4: "using multistring leads to the values not being used by the system"
    state = make_state(
        base_profile(
            registry=[
                {"path": schannel.POLICY_SUITES, "name": "Functions", "type": "REG_MULTI_SZ", "data": ["A"]}
            ]
        ),
        keys,
    )
    assert schannel.effective_cipher_suites(state).source == "local"


def test_bound_certificate_is_loaded_only_after_the_service_restarts(keys: certs.KeyCache) -> None:
    doc = base_profile()
    doc["certificates"].append(
        {"name": "next", "subject_cn": "t1.lab.example.com", "signature_hash": "sha384"}
    )
    state = make_state(doc, keys)
    first = sqlserver.loaded_certificate(state, "MSSQLSERVER")
    new_thumb = next(c.thumbprint for c in state.cert_stores["My"] if c.name == "next")
    reg.set_value(state.registry, NETLIB, "Certificate", "REG_SZ", new_thumb.lower())
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER") == first
    result = windows.restart_service(state, "MSSQLSERVER", True, clock(keys, NOW + dt.timedelta(hours=1)))
    assert result.stopped == ["SQLSERVERAGENT", "MSSQLSERVER"]
    assert result.started == ["MSSQLSERVER", "SQLSERVERAGENT"]
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER").thumbprint == new_thumb
    assert f'[Cert Hash(sha1) "{new_thumb}"] was successfully loaded for encryption.' in _log(state)
    assert f'[Cert Hash(sha1) "{first.thumbprint}"]' in _log(state, ".1")  # the previous start's log


def test_force_encryption_takes_effect_at_service_start(keys: certs.KeyCache) -> None:
    state = make_state(base_profile(), keys)
    reg.set_value(state.registry, NETLIB, "ForceEncryption", "REG_DWORD", 1)
    assert state.sql_runtime["MSSQLSERVER"].force_encryption is False
    windows.restart_service(state, "MSSQLSERVER", True, clock(keys))
    assert state.sql_runtime["MSSQLSERVER"].force_encryption is True


@pytest.mark.parametrize("problem", ["missing", "no_private_key"])
def test_bound_certificate_missing_or_without_key_fails_the_start(keys: certs.KeyCache, problem: str) -> None:
    doc = base_profile()
    if problem == "missing":
        doc["sql_instances"][0].pop("certificate")
        doc["sql_instances"][0]["certificate_thumbprint"] = "ab" * 20
    else:
        doc["certificates"][0]["private_key"] = False
    state = make_state(doc, keys)
    assert state.service("MSSQLSERVER").state == "Stopped"
    assert state.service("SQLSERVERAGENT").state == "Stopped"
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER") is None
    log = _log(state)
    assert "Error: 26014, Severity: 16" in log and "Error: 17182" in log
    assert "Registry startup parameters" in log
    with pytest.raises(windows.ServiceError, match="failed to start") as failure:
        windows.restart_service(state, "MSSQLSERVER", True, clock(keys))
    engine = state.service("MSSQLSERVER")
    assert engine.state == "Stopped"
    # Not an instant error: the start went StartPending, then Stopped, with exit codes
    # (ERROR_SERVICE_SPECIFIC_ERROR and the code of the 17182 line).
    assert engine.last_start_states == ["StartPending", "Stopped"]
    code = 0x80092004 if problem == "missing" else 0x8009030D
    assert (engine.exit_code, engine.service_specific_exit_code) == (1066, code)
    assert failure.value.detail == {
        "state": "Stopped",
        "exit_code": 1066,
        "service_specific_exit_code": code,
        "stopped": [],
        "started": [],
    }


def test_auto_pick_respects_property_9_and_falls_back_to_self_generated(keys: certs.KeyCache) -> None:
    doc = base_profile()
    doc["sql_instances"][0].pop("certificate")
    state = make_state(doc, keys)
    cert = state.cert_stores["My"][0]
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER").thumbprint == cert.thumbprint
    # MMC "Enable only the following purposes: Client Authentication" (sqlserver-tls.md 6)
    cert.properties[9] = der.encode_oid_sequence([certs.EKU_NAMES["client_auth"]])
    windows.restart_service(state, "MSSQLSERVER", True, clock(keys))
    loaded = sqlserver.loaded_certificate(state, "MSSQLSERVER")
    assert loaded.self_generated and loaded.thumbprint != cert.thumbprint
    assert certs.read_facts(loaded.der).signature_hash == "sha256"  # SQL 2019 >= 14
    assert "A self-generated certificate was successfully loaded for encryption." in _log(state)


@pytest.mark.parametrize(
    ("change", "picked"),
    [
        ({}, True),
        ({"subject_cn": "other.lab.example.com", "sans": []}, False),  # name does not match the FQDN
        ({"expires_in_days": -5, "not_before_days": -400}, False),  # expired before the boot
        ({"private_key": False}, False),
        ({"eku": ["client_auth"]}, False),
        ({"eku": None}, True),  # no EKU extension and no property: all purposes
    ],
)
def test_auto_pick_rule(keys: certs.KeyCache, change: dict, picked: bool) -> None:
    doc = base_profile()
    doc["sql_instances"][0].pop("certificate")
    doc["certificates"][0].update(change)
    state = make_state(doc, keys)
    loaded = sqlserver.loaded_certificate(state, "MSSQLSERVER")
    assert loaded.self_generated is not picked


def test_self_generated_certificate_is_sha1_up_to_sql_2016(keys: certs.KeyCache) -> None:
    doc = base_profile(certificates=[])
    doc["sql_instances"][0].update(id="MSSQL13.MSSQLSERVER", version="13.0.6300.2")
    doc["sql_instances"][0].pop("certificate")
    state = make_state(doc, keys)
    loaded = sqlserver.loaded_certificate(state, "MSSQLSERVER")
    assert loaded.self_generated and certs.read_facts(loaded.der).signature_hash == "sha1"


def test_reboot_restarts_automatic_services_and_re_picks_the_certificate(keys: certs.KeyCache) -> None:
    state = make_state(base_profile(), keys)
    reg.set_value(state.registry, NETLIB, "Certificate", "REG_SZ", "")
    state.cert_stores["My"].clear()
    windows.boot(state, clock(keys, NOW + dt.timedelta(days=1)))
    assert state.boot.boot_utc == "2026-06-02T12:00:00Z"
    assert state.service("MSSQLSERVER").state == "Running"
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER").self_generated


def test_errorlog_is_cycled_per_start_and_keeps_six_archives(keys: certs.KeyCache) -> None:
    state = make_state(base_profile(), keys)
    for _attempt in range(8):
        windows.restart_service(state, "MSSQLSERVER", True, clock(keys))
    assert state.file(ERRORLOG + ".6") is not None
    assert state.file(ERRORLOG + ".7") is None
    assert _log(state).count("Registry startup parameters") == 1


@pytest.mark.parametrize(
    ("version", "tls12"),
    [
        ("12.0.4416.0", False),  # 2014 SP1 CU1: above the GDR threshold, below the CU one
        ("12.0.4439.1", True),
        ("12.0.4219.0", True),
        ("12.0.4218.0", False),
        ("12.0.2342.0", False),  # RTM CU1
        ("12.0.2564.0", True),
        ("12.0.5000.0", True),
        ("11.0.6216.27", True),
        ("11.0.6216.26", False),
        ("11.0.3000.0", False),
        ("13.0.1601.5", True),
    ],
)
def test_sql_tls12_support_uses_the_branch_aware_rule(version: str, tls12: bool) -> None:
    assert sqlserver.supports_tls12(version) is tls12
