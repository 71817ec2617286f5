from ansible_collections.mssql.tls.plugins.plugin_utils.host_identity import host_identity, windows_build


def _key(**values):
    typed = {k: {"type": t, "data": d} for k, (t, d) in values.items()}
    return {"exists": True, "values": typed, "subkeys": {}}


def test_server_2016_build_with_ubr():
    key = _key(
        CurrentMajorVersionNumber=("REG_DWORD", 10),
        CurrentMinorVersionNumber=("REG_DWORD", 0),
        CurrentBuildNumber=("REG_SZ", "14393"),
        UBR=("REG_DWORD", 3541),
        CurrentVersion=("REG_SZ", "6.3"),
    )
    assert windows_build(key) == (10, 0, 14393, 3541)


def test_server_2012_r2_has_no_major_version_dword_and_uses_current_version():
    key = _key(CurrentVersion=("REG_SZ", "6.3"), CurrentBuild=("REG_SZ", "9600"), UBR=("REG_DWORD", 19913))
    assert windows_build(key) == (6, 3, 9600, 19913)


def test_missing_build_gives_none():
    assert windows_build(_key(CurrentVersion=("REG_SZ", "6.3"))) is None
    assert windows_build({"exists": False, "values": {}, "subkeys": {}}) is None


def test_identity_joins_os_info_and_registry():
    key = _key(
        ProductName=("REG_SZ", "Windows Server 2022 Datacenter"),
        CurrentMajorVersionNumber=("REG_DWORD", 10),
        CurrentMinorVersionNumber=("REG_DWORD", 0),
        CurrentBuildNumber=("REG_SZ", "20348"),
        UBR=("REG_DWORD", 2340),
        InstallationType=("REG_SZ", "Server"),
    )
    ident = host_identity({"computer_name": "SQL01", "dns_domain": "corp.example", "ps_version": "5.1"}, key)
    assert ident["os_build"] == "10.0.20348.2340"
    assert ident["computer_name"] == "SQL01"
    assert ident["product_name"] == "Windows Server 2022 Datacenter"
