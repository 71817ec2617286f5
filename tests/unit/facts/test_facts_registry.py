from ansible_collections.mssql.tls.plugins.plugin_utils.facts import registry as reg
from ansible_collections.mssql.tls.tests.unit.facts.winhost import MISSING, dword, key, multi_sz, sz


def test_lookups_ignore_case_like_the_windows_registry():
    node = key(
        {"Enabled": dword(1)},
        {"Protocols": key({}, {"TLS 1.2": key({}, {"Server": key({"Enabled": dword(0)})})})},
    )
    assert reg.dword(node, "enabled") == 1
    assert reg.dword(reg.subkey(node, "protocols", "tls 1.2", "SERVER"), "Enabled") == 0


def test_a_dword_written_as_0xffffffff_reads_back_unsigned():
    node = key({"Enabled": {"type": "REG_DWORD", "data": -1}})
    assert reg.dword(node, "Enabled") == 0xFFFFFFFF


def test_numeric_strings_count_as_numbers_but_other_types_do_not():
    node = key({"TcpPort": sz("1433"), "Text": sz("yes"), "List": multi_sz(["1"])})
    assert reg.dword(node, "TcpPort") == 1433
    assert reg.dword(node, "Text") is None
    assert reg.dword(node, "List") is None
    assert reg.multi(node, "List") == ["1"]
    assert reg.multi(node, "TcpPort") is None


def test_missing_keys_and_keys_beyond_the_read_depth_are_none():
    node = key({}, {"Shallow": None})
    assert reg.subkey(node, "Shallow") is None
    assert reg.subkey(node, "Absent", "Deeper") is None
    assert reg.subkey(MISSING, "Anything") is None
    assert reg.dword(MISSING, "Enabled") is None
    assert not reg.exists(MISSING)
    assert reg.subkey_names(node) == ["Shallow"]
