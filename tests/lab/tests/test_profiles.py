"""Every profile loads and builds the host its top comment describes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from labtest import NOW, PROFILES, base_profile, data, load_fleet, make_host, run
from winlab import certs, schannel, sqlserver
from winlab import registry as reg
from winlab.host import LabHost, profile_paths
from winlab.model import HostState
from winlab.profiles import ProfileError, load_profile, parse_profile

CV = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
SQL = "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server"
EXPECTED = {
    "compliant": [],
    "s1": [1],
    "s2": [2],
    "s3": [3],
    "s4": [4],
    "s4-latent": [],
    "s4-winrm-https": [4],
    "s4-rdp": [4],
    "s5": [3, 5],
    "s6": [6],
    "s6-2019": [],
    "s6-tls": [],
    "tls10-needed": [],
    "mixed-2012r2": [1, 3, 4, 5],
    "fci-node1": [3],
    "fci-node2": [3],
    "ag-node1": [],
    "ag-node2": [],
    # hostile strings in the instance name, certificate subjects, friendly names and ERRORLOG
    "hostile": [],
    # fleet pairing: client hosts and the servers that name them (own scenarios + across hosts)
    "app2012r2": [1, 2, 3, 5],
    "app2016old": [1, 3, 5],
    "sql2019dhe": [3, 5],
    "sql2022gcm": [1, 2],
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LabHost]:
    return load_fleet(profile_paths(PROFILES), tmp_path_factory.mktemp("fleet"), now=NOW)


def value(state: HostState, path: str, name: str) -> object:
    v = reg.get_value(state.registry, path, name)
    return None if v is None else v.data


def loaded_facts(state: HostState, instance: str = "MSSQLSERVER") -> certs.CertFacts:
    loaded = sqlserver.loaded_certificate(state, instance)
    assert loaded is not None and not loaded.self_generated
    return certs.read_facts(loaded.der)


def has_dhe(state: HostState) -> bool:
    return any(s.startswith("TLS_DHE_") for s in schannel.effective_cipher_suites(state).suites)


def test_every_profile_is_loaded_with_its_hand_written_expectation(fleet: dict[str, LabHost]) -> None:
    assert {name: h.expect_scenarios for name, h in fleet.items()} == EXPECTED
    for h in fleet.values():
        assert h.state_path.exists()
        text = (PROFILES / f"{h.name}.yml").read_text()
        assert text.startswith("# "), f"{h.name}.yml needs its explanatory top comment"
        assert all(e.port >= 1433 for e in h.sql_endpoints())


def test_os_identity_values(fleet: dict[str, LabHost]) -> None:
    old = fleet["mixed-2012r2"].state
    assert value(old, CV, "CurrentMajorVersionNumber") is None
    assert (value(old, CV, "CurrentVersion"), value(old, CV, "CurrentBuild")) == ("6.3", "9600")
    s5 = fleet["s5"].state
    assert (
        value(s5, CV, "CurrentMajorVersionNumber"),
        value(s5, CV, "CurrentBuildNumber"),
        value(s5, CV, "UBR"),
    ) == (10, "14393", 3541)
    assert value(s5, CV, "ReleaseId") == "1607" and "Server" in value(s5, CV, "ProductName")
    assert value(fleet["compliant"].state, CV, "DisplayVersion") == "21H2"


def test_s1_tls12_only_and_sql_2014_sp1_cu1(fleet: dict[str, LabHost]) -> None:
    state = fleet["s1"].state
    assert schannel.effective_server_protocols(state) == {
        "SSL 2.0": False,
        "SSL 3.0": False,
        "TLS 1.0": False,
        "TLS 1.1": False,
        "TLS 1.2": True,
        "TLS 1.3": False,
    }
    assert schannel.effective_client_protocols(state)["TLS 1.1"] is False
    assert value(state, f"{SQL}\\Instance Names\\SQL", "MSSQLSERVER") == "MSSQL12.MSSQLSERVER"
    assert value(state, f"{SQL}\\MSSQL12.MSSQLSERVER\\Setup", "PatchLevel") == "12.1.4416.0"
    assert (
        state.file(
            "C:\\Program Files\\Microsoft SQL Server\\MSSQL12.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe"
        ).product_version
        == "12.0.4416.0"
    )
    inst = state.instance("MSSQLSERVER")
    assert not sqlserver.supports_tls12(inst.version)
    assert not any(sqlserver.instance_protocols(state, inst).values())  # nothing left in common
    assert not has_dhe(state) and loaded_facts(state).signature_hash == "sha256"


def test_s2_policy_list_has_only_ecdsa_suites_and_the_certificate_is_rsa(fleet: dict[str, LabHost]) -> None:
    state = fleet["s2"].state
    policy = reg.get_value(state.registry, schannel.POLICY_SUITES, "Functions")
    assert policy.type == "REG_SZ"
    effective = schannel.effective_cipher_suites(state)
    assert effective.source == "policy" and all(s.startswith("TLS_ECDHE_ECDSA_") for s in effective.suites)
    assert loaded_facts(state).key_type == "rsa"
    assert len([e for e in state.events if e.id == 36874]) == 12


def test_s3_and_fci_nodes_run_the_os_default_list_with_dhe(fleet: dict[str, LabHost]) -> None:
    for name in ("s3", "fci-node1", "fci-node2"):
        state = fleet[name].state
        suites = schannel.effective_cipher_suites(state).suites
        assert suites == schannel.default_suites(17763)
        assert "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in suites


def test_s4_both_instances_load_the_sha512_certificate(fleet: dict[str, LabHost]) -> None:
    state = fleet["s4"].state
    bound = value(state, f"{SQL}\\MSSQL15.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib", "Certificate")
    assert bound == state.cert_stores["My"][0].thumbprint.lower()
    assert value(state, f"{SQL}\\MSSQL15.REPORTS\\MSSQLServer\\SuperSocketNetLib", "Certificate") == ""
    assert [e.port for e in fleet["s4"].sql_endpoints()] == [1433, 14331]
    for instance in ("MSSQLSERVER", "REPORTS"):
        assert loaded_facts(state, instance).signature_hash == "sha512"
    assert state.service("MSSQL$REPORTS").dependents == ["SQLAgent$REPORTS"]
    assert not has_dhe(state)


def test_s5_one_build_before_the_dhe_fix_with_dhe_listed(fleet: dict[str, LabHost]) -> None:
    state = fleet["s5"].state
    assert state.os.version == (10, 0, 14393, 3541)
    assert has_dhe(state) and schannel.effective_cipher_suites(state).source == "local"


def test_s6_errorlog_shows_login_starvation(fleet: dict[str, LabHost]) -> None:
    state = fleet["s6"].state
    inst = state.instance("MSSQLSERVER")
    assert inst.major == 14
    text = state.file(inst.errorlog).text
    assert text.count("Network error code 0x2746") == 9 and text.count("Error: 17197") == 4
    assert "enqueued 14987 ms" in text
    boot = dt.datetime.strptime(state.boot.boot_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert boot < NOW and text.index("Registry startup parameters") < text.index("17830")


def test_compliant_host_is_clean(fleet: dict[str, LabHost]) -> None:
    state = fleet["compliant"].state
    protocols = schannel.effective_server_protocols(state)
    assert [p for p, on in protocols.items() if on] == ["TLS 1.2", "TLS 1.3"]
    assert not has_dhe(state) and schannel.effective_cipher_suites(state).source == "local"
    facts = loaded_facts(state)
    assert (facts.signature_hash, facts.key_type) == ("sha256", "rsa")
    assert facts.not_after - NOW > dt.timedelta(days=365)
    bound = value(state, f"{SQL}\\MSSQL16.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib", "Certificate")
    assert bound == sqlserver.loaded_certificate(state, "MSSQLSERVER").thumbprint.lower()
    for root in ("HKLM\\SOFTWARE", "HKLM\\SOFTWARE\\Wow6432Node"):
        for version in ("v4.0.30319", "v2.0.50727"):
            key = f"{root}\\Microsoft\\.NETFramework\\{version}"
            assert (
                value(state, key, "SchUseStrongCrypto"),
                value(state, key, "SystemDefaultTlsVersions"),
            ) == (1, 1)
    assert value(state, schannel.FIPS, "Enabled") == 0 and not state.events
    drivers = reg.find_key(state.registry, "HKLM\\SOFTWARE\\ODBC\\ODBCINST.INI\\ODBC Drivers")
    assert sorted(v.name for v in drivers.values.values()) == ["ODBC Driver 18 for SQL Server", "SQL Server"]
    assert reg.find_key(state.registry, f"{schannel.SCHANNEL}\\Protocols\\TLS 1.3") is None
    assert "Error:" not in state.file(state.instance("MSSQLSERVER").errorlog).text


def test_mixed_2012r2_auto_picks_md5_and_has_old_native_client(fleet: dict[str, LabHost]) -> None:
    state = fleet["mixed-2012r2"].state
    assert value(state, f"{SQL}\\MSSQL12.MSSQLSERVER\\MSSQLServer\\SuperSocketNetLib", "Certificate") == ""
    assert loaded_facts(state).signature_hash == "md5"
    assert reg.get_value(state.registry, schannel.LOCAL_SUITES, "Functions") is None
    assert schannel.effective_cipher_suites(state).source == "os_default" and has_dhe(state)
    assert value(state, "HKLM\\SOFTWARE\\ODBC\\ODBCINST.INI\\SQL Server Native Client 11.0", "Driver") == (
        "C:\\Windows\\system32\\sqlncli11.dll"
    )
    clsid = "HKCR\\CLSID\\{397C2819-8272-4532-AD3A-FB5E43BEAA39}"
    assert value(state, f"{clsid}\\ProgID", "") == "SQLNCLI11.1"
    assert state.file("C:\\Windows\\system32\\sqlncli11.dll").product_version == "11.0.2100.60"


def test_fci_nodes_share_the_certificate_and_only_the_owner_runs_sql(fleet: dict[str, LabHost]) -> None:
    one, two = fleet["fci-node1"].state, fleet["fci-node2"].state
    assert one.cert_stores["My"][0].thumbprint == two.cert_stores["My"][0].thumbprint
    assert certs.read_facts(one.cert_stores["My"][0].der).subject_cn == "sqlfci01.lab.example.com"
    assert one.service("MSSQLSERVER").state == "Running" and two.service("MSSQLSERVER").state == "Stopped"
    assert one.service("MSSQLSERVER").start_mode == "Manual"
    assert value(one, f"{SQL}\\MSSQL15.MSSQLSERVER\\Cluster", "ClusterName") == "SQLFCI01"
    assert value(two, "HKLM\\Cluster\\Nodes\\2", "NodeName") == "FCI-NODE2"
    _outcome, doc = run(fleet["fci-node1"], [{"op": "cluster.query"}], journal_id=None)
    info = data(doc)
    assert info["is_node"] and info["cluster_name"] == "FCICLU01"
    sql = next(r for r in info["resources"] if r["type"] == "SQL Server")
    assert sql == {
        "name": "SQL Server",
        "type": "SQL Server",
        "group": "SQL Server (MSSQLSERVER)",
        "owner_node": "FCI-NODE1",
        "state": "Online",
        "private": {"InstanceName": "MSSQLSERVER", "VirtualServerName": "SQLFCI01"},
    }


def test_cluster_restart_restarts_sql_on_the_owner(tmp_path: Path, keys) -> None:
    h = load_fleet([PROFILES / "fci-node1.yml"], tmp_path, now=NOW)["fci-node1"]
    log = h.state.instance("MSSQLSERVER").errorlog
    _outcome, doc = run(h, [{"op": "cluster.restart", "resource": "SQL Server"}])
    assert data(doc) == {
        "offline": ["SQL Server Agent", "SQL Server"],
        "online": ["SQL Server", "SQL Server Agent"],
        "state": "Online",
    }
    assert h.state.file(log + ".1") is not None  # the engine really restarted
    _outcome, doc = run(h, [{"op": "cluster.restart", "resource": "Nope"}])
    assert doc["results"][0]["error"]["kind"] == "not_found"


def test_reset_returns_to_the_profile(tmp_path: Path) -> None:
    h = load_fleet([PROFILES / "s3.yml"], tmp_path, now=NOW)["s3"]
    run(h, [{"op": "reg.remove", "path": schannel.LOCAL_SUITES, "name": "Functions"}])
    assert schannel.effective_cipher_suites(h.state).source == "os_default"
    h.reset(NOW)
    assert schannel.effective_cipher_suites(h.state).source == "local"
    assert load_fleet([PROFILES / "s3.yml"], tmp_path, now=NOW)["s3"].state.file_seq == h.state.file_seq


def test_a_changed_profile_rebuilds_the_host(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text((PROFILES / "s3.yml").read_text())
    first = load_fleet([path], tmp_path / "state", now=NOW)["s3"]
    run(
        first,
        [
            {
                "op": "reg.write",
                "path": "HKLM\\SOFTWARE\\Lab",
                "name": "v",
                "type": "REG_SZ",
                "value": {"data": "x"},
            }
        ],
    )
    assert (
        load_fleet([path], tmp_path / "state", now=NOW)["s3"]
        .state.registry["HKLM"]
        .subkey("SOFTWARE")
        .subkey("Lab")
        is not None
    )
    path.write_text(path.read_text().replace("ubr: 6893", "ubr: 6894"))
    rebuilt = load_fleet([path], tmp_path / "state", now=NOW)["s3"]
    assert rebuilt.state.registry["HKLM"].subkey("SOFTWARE").subkey("Lab") is None
    assert rebuilt.state.os.ubr == 6894


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"inline: unknown field\(s\) \['colour'\]"),
        (
            {"sql_instances": [{"name": "X", "id": "MSSQL15.X", "version": "15.0", "port": 1}]},
            r"sql_instances\[0\]\.version: expected four dotted numbers",
        ),
        (
            {"sql_instances": [{"name": "X", "id": "MSSQL15.X", "version": "15.0.1.1", "port": "1433"}]},
            r"sql_instances\[0\]\.port: expected an integer",
        ),
        (
            {"certificates": [{"name": "c", "subject_cn": "x", "signature_hash": "sha3"}]},
            r"certificates\[0\]\.signature_hash: expected one of",
        ),
        ({"expect_scenarios": [7]}, r"expect_scenarios: expected a list of scenario numbers 1\.\.6"),
        ({"os": {"build": 17763}}, r"inline\.os\.ubr: required"),
        ({"service_states": {"MSSQLSERVER": "Sleeping"}}, r"service_states\.MSSQLSERVER: expected one of"),
        ({"utc_offset_minutes": 900}, r"utc_offset_minutes: expected -720\.\.840"),
        ({"denied_keys": "HKLM\\X"}, r"denied_keys: expected a list"),
        (
            {"registry": [{"path": "HKLM\\X", "name": "v", "type": "REG_SZ", "raw": "AA=="}]},
            r"registry\[0\]\.raw: expected with a value name and a type of",
        ),
        (
            {"registry": [{"path": "HKLM\\X", "name": "v", "type": "REG_LINK", "raw": "not base64!"}]},
            r"registry\[0\]\.raw: expected base64",
        ),
        ({"groups": ["mssql-tls clients"]}, r"groups\[0\]: expected an Ansible group name"),
        (
            {"inventory_vars": {"ansible_host": "x"}},
            r"inventory_vars\.ansible_host: expected a variable name",
        ),
        (
            {"expect_pairs": [{"server": "s", "driver": "SNAC11", "scenario": 3}]},
            r"expect_pairs\[0\]\.scenario: expected 1, 2 or 5",
        ),
        ({"expect_pairs": [{"server": "s", "scenario": 1}]}, r"expect_pairs\[0\]\.driver: required"),
    ],
)
def test_bad_profiles_name_the_field(change: dict, message: str) -> None:
    doc = base_profile(certificates=[])
    doc["sql_instances"][0].pop("certificate")
    doc.update(change)
    with pytest.raises(ProfileError, match=message):
        parse_profile(doc, "inline")


def test_bad_raw_choices_are_reported_when_building(tmp_path: Path, keys) -> None:
    with pytest.raises(ProfileError, match=r"schannel\.protocols\.TLS 1\.0: expected"):
        make_host(base_profile(schannel={"protocols": {"TLS 1.0": "off"}}), tmp_path, keys)
    with pytest.raises(ProfileError, match=r"cipher_suites\.local: expected"):
        make_host(base_profile(cipher_suites={"local": 5}), tmp_path, keys)
    with pytest.raises(ProfileError, match=r"service_states\.NoSuch: no such service"):
        make_host(base_profile(service_states={"NoSuch": "Paused"}), tmp_path, keys)


def test_profiles_parse_without_building() -> None:
    for path in profile_paths(PROFILES):
        profile = load_profile(path)
        assert profile.name == path.stem and profile.digest


RDP_TCP = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp"
LISTENER = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WSMAN\\Listener"
SSL_BINDING = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters\\SslBindingInfo"


def thumbprint_of(state: HostState, name: str) -> str:
    (cert,) = [c for c in state.cert_stores["My"] if c.name == name]
    return cert.thumbprint


def test_rdp_winrm_and_http_sys_certificates_are_stored_as_windows_stores_them(
    fleet: dict[str, LabHost],
) -> None:
    """docs/reference-windows-bindings.md 1-3: thumbprint bytes for RDP and http.sys, hex text for WinRM."""
    rdp = fleet["s4-rdp"].state
    assert value(rdp, RDP_TCP, "SSLCertificateSHA1Hash") == bytes.fromhex(thumbprint_of(rdp, "rdp-md5"))
    assert value(rdp, f"{LISTENER}\\*+HTTP", "Port") == 5985
    assert reg.find_key(rdp.registry, f"{LISTENER}\\*+HTTPS") is None
    winrm = fleet["s4-winrm-https"].state
    weak = thumbprint_of(winrm, "host-sha512")
    assert value(winrm, RDP_TCP, "PortNumber") == 3389
    assert value(winrm, RDP_TCP, "SSLCertificateSHA1Hash") is None  # the self-signed one
    assert value(winrm, f"{LISTENER}\\*+HTTPS", "certThumbprint") == weak
    assert value(winrm, f"{LISTENER}\\*+HTTPS", "Port") == 5986
    assert value(winrm, f"{SSL_BINDING}\\0.0.0.0:5986", "SslCertHash") == bytes.fromhex(weak)
    app_id = value(winrm, f"{SSL_BINDING}\\0.0.0.0:5986", "AppId")
    assert app_id == bytes.fromhex(
        "adb9ebaf979b914a9ab5daf4d59122f6"
    )  # {afebb9ad-9b97-4a91-9ab5-daf4d59122f6}


def test_a_certificate_without_an_eku_extension_and_one_without_a_private_key(
    fleet: dict[str, LabHost],
) -> None:
    state = fleet["s4-rdp"].state
    md5 = certs.read_facts(next(c for c in state.cert_stores["My"] if c.name == "rdp-md5").der)
    assert md5.eku_extension is None
    renewal = next(c for c in state.cert_stores["My"] if c.name == "renewal-no-key")
    assert not renewal.has_private_key
    assert loaded_facts(state).subject_cn == "s4-rdp.lab.example.com"
    assert sqlserver.loaded_certificate(state, "MSSQLSERVER").thumbprint == thumbprint_of(state, "rdp-md5")


def test_a_binding_certificate_must_be_one_of_the_profile_certificates() -> None:
    doc = base_profile(winrm_https_certificate="nope")
    with pytest.raises(ProfileError, match="winrm_https_certificate: expected one of the certificate names"):
        parse_profile(doc, "x.yml")


def test_an_availability_group_is_a_cluster_resource_online_on_the_primary_node(
    fleet: dict[str, LabHost],
) -> None:
    for name in ("ag-node1", "ag-node2"):
        cluster = fleet[name].state.cluster
        assert cluster is not None
        (group,) = [r for r in cluster.resources if r.type == "SQL Server Availability Group"]
        assert (group.name, group.owner_node, group.state) == ("AG1", "AG-NODE1", "Online")
        assert value(fleet[name].state, f"{SQL}\\MSSQL16.MSSQLSERVER\\MSSQLServer\\HADR", "HADR_Enabled") == 1
