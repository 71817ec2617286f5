import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.schannel import (
    effective_state,
    protocol_defaults,
    schannel_facts,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2019,
    WS2022,
    dword,
    key,
)


def schannel(protocols=None, **subkeys):
    protos = {
        name: key({}, {side: key({n: dword(v) for n, v in values.items()}) for side, values in sides.items()})
        for name, sides in (protocols or {}).items()
    }
    return key({}, {"Protocols": key({}, protos), **subkeys})


def test_absent_keys_mean_the_os_default_of_each_release():
    for version, expected in (
        (WS2012R2, ["SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2"]),
        (WS2016, ["TLS 1.0", "TLS 1.1", "TLS 1.2"]),
        (WS2019, ["TLS 1.0", "TLS 1.1", "TLS 1.2"]),
        (WS2022, ["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"]),
    ):
        facts = schannel_facts(key(), version)
        assert facts["effective"] == {"server": expected, "client": expected}, version
        assert facts["protocols"]["server"]["TLS 1.2"]["source"] == "os_default"


@pytest.mark.parametrize("enabled", [1, 0xFFFFFFFF, 0x7FFFFFFF])
def test_any_non_zero_enabled_turns_a_default_off_protocol_on(enabled):
    facts = schannel_facts(schannel({"SSL 3.0": {"Server": {"Enabled": enabled}}}), WS2016)
    entry = facts["protocols"]["server"]["SSL 3.0"]
    assert entry["enabled"] is True
    assert entry["source"] == "registry"
    assert entry["registry"]["Enabled"] == enabled
    assert facts["protocols"]["client"]["SSL 3.0"]["enabled"] is False


def test_a_value_that_powershell_returns_as_minus_one_is_enabled():
    node = key(
        {},
        {
            "Protocols": key(
                {}, {"SSL 3.0": key({}, {"Server": key({"Enabled": {"type": "REG_DWORD", "data": -1}})})}
            )
        },
    )
    assert schannel_facts(node, WS2016)["protocols"]["server"]["SSL 3.0"]["enabled"] is True


def test_disabled_by_default_turns_an_enabled_protocol_off_even_without_enabled():
    facts = schannel_facts(schannel({"TLS 1.0": {"Server": {"DisabledByDefault": 1}}}), WS2019)
    assert facts["protocols"]["server"]["TLS 1.0"]["enabled"] is False
    assert "TLS 1.0" not in facts["effective"]["server"]
    assert "TLS 1.0" in facts["effective"]["client"]


def test_enabled_zero_disables_and_each_side_is_independent():
    facts = schannel_facts(schannel({"TLS 1.1": {"Client": {"Enabled": 0}}}), WS2022)
    assert facts["protocols"]["client"]["TLS 1.1"]["enabled"] is False
    assert facts["protocols"]["server"]["TLS 1.1"]["enabled"] is True


def test_enabling_tls13_where_it_does_not_exist_stays_off_but_is_noticed():
    facts = schannel_facts(schannel({"TLS 1.3": {"Server": {"Enabled": 1, "DisabledByDefault": 0}}}), WS2019)
    assert facts["protocols"]["server"]["TLS 1.3"]["enabled"] is False
    assert facts["protocols"]["server"]["TLS 1.3"]["os_default"] == "not_supported"
    assert facts["tls13_keys_present"] is True


def test_sqlcheck_effective_state_table():
    assert effective_state("disabled", None, None) is False
    assert effective_state("disabled", 1, 1) is False
    assert effective_state("disabled", 1, None) is True
    assert effective_state("enabled", None, None) is True
    assert effective_state("enabled", 5, 0) is True
    assert effective_state("enabled", 0, 0) is False
    assert effective_state("not_supported", 1, 0) is False


def test_ssl2_is_disabled_on_2012_r2_and_gone_from_2016():
    assert protocol_defaults(WS2012R2)["SSL 2.0"] == {"server": "disabled", "client": "disabled"}
    assert protocol_defaults(WS2016)["SSL 2.0"] == {"server": "not_supported", "client": "not_supported"}
    assert protocol_defaults((6, 1, 7601, 0))["TLS 1.2"]["server"] == "disabled"


def test_key_exchange_cipher_and_hash_switches_are_read_with_their_slash_names():
    node = schannel(
        KeyExchangeAlgorithms=key(
            {}, {"Diffie-Hellman": key({"Enabled": dword(0), "ServerMinKeyBitLength": dword(3072)})}
        ),
        Ciphers=key(
            {},
            {"AES 128/128": key({"Enabled": dword(0xFFFFFFFF)}), "RC4 128/128": key({"Enabled": dword(0)})},
        ),
        Hashes=key({}, {"MD5": key({})}),
    )
    facts = schannel_facts(node, WS2016)
    assert facts["key_exchange"]["Diffie-Hellman"]["enabled"] is False
    assert facts["key_exchange"]["Diffie-Hellman"]["ServerMinKeyBitLength"] == 3072
    assert facts["ciphers"]["AES 128/128"]["enabled"] is True
    assert facts["ciphers"]["RC4 128/128"]["enabled"] is False
    assert facts["hashes"]["MD5"] == {"Enabled": None, "enabled": None}
