import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.ciphers import cipher_suite_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.schannel import schannel_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import (
    WINDOWS_2012_R2,
    WINDOWS_2016,
    WINDOWS_2019,
    WINDOWS_2022,
    WINDOWS_2025,
    default_suites,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suites import parse_suite
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    MISSING,
    WS2012R2,
    WS2016,
    WS2022,
    dword,
    failed,
    key,
    multi_sz,
    ok,
    sz,
)

UNSUPPORTED = failed("unsupported", "no TLS module")
LOCAL = [
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
]


def suites(local=None, policy=None, cmdlet=None, schannel_node=None, version=WS2016):
    cmdlet = UNSUPPORTED if cmdlet is None else cmdlet
    return cipher_suite_facts(
        key({"Functions": multi_sz(local)}) if local is not None else key(),
        key({"Functions": policy}) if policy is not None else MISSING,
        {
            "ok": cmdlet["ok"],
            "data": cmdlet.get("data"),
            "error_kind": (cmdlet.get("error") or {}).get("kind"),
        },
        schannel_facts(schannel_node or key(), version),
        version,
        True,
    )


def cmdlet_rows(names):
    return ok([{"name": n, "protocols": [771]} for n in names])


# --- names ---------------------------------------------------------------------------------------
def test_2012_r2_curve_suffixes_are_part_of_the_name_but_not_of_the_suite():
    suite = parse_suite("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P384")
    assert suite.canonical == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
    assert suite.curve == "P384"
    assert (suite.key_exchange, suite.authentication, suite.bulk) == ("ECDHE", "RSA", "AES_256")
    assert suite.protocols == {"TLS 1.2"}


@pytest.mark.parametrize(
    ("name", "protocols", "auth"),
    [
        ("TLS_AES_256_GCM_SHA384", {"TLS 1.3"}, "any"),
        ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", {"TLS 1.2"}, "RSA"),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA_P256", {"TLS 1.0", "TLS 1.1", "TLS 1.2"}, "ECDSA"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", {"SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2"}, "RSA"),
        ("TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", {"TLS 1.2"}, "DSS"),
        ("SSL_CK_RC4_128_WITH_MD5", {"SSL 2.0"}, "RSA"),
        ("NOT_A_SUITE", set(), None),
    ],
)
def test_suite_names_tell_protocols_and_certificate_type(name, protocols, auth):
    suite = parse_suite(name)
    assert suite.protocols == protocols
    assert suite.authentication == auth


def test_key_type_compatibility():
    assert parse_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").usable_with_key("RSA")
    assert not parse_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").usable_with_key("EC")
    assert parse_suite("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256").usable_with_key("EC")
    assert parse_suite("TLS_AES_128_GCM_SHA256").usable_with_key("EC")


# --- default lists (reference/windows-schannel.md 5) ----------------------------------------------
def _dhe(names):
    return [n for n in names if n.startswith("TLS_DHE_")]


def test_default_lists_carry_the_dhe_suites_the_reference_lists():
    assert len(WINDOWS_2012_R2) == 40
    assert len(_dhe(WINDOWS_2012_R2)) == 9  # DHE_RSA x4, DHE_DSS x4 + 3DES
    assert len(_dhe(WINDOWS_2016)) == 9  # DHE_RSA GCM x2, CBC x2, DHE_DSS x5
    assert _dhe(WINDOWS_2019) == [
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    ]
    assert _dhe(WINDOWS_2022) == _dhe(WINDOWS_2019)
    assert _dhe(WINDOWS_2025) == []
    assert WINDOWS_2022[:2] == ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256")
    assert not any(
        parse_suite(n).canonical.startswith("TLS_ECDHE_RSA_WITH_AES_256_GCM") for n in WINDOWS_2012_R2
    )
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" not in WINDOWS_2025


def test_default_list_is_chosen_by_build():
    assert default_suites(WS2012R2)[0] == "windows_2012_r2"
    assert default_suites(WS2016)[0] == "windows_2016"
    assert default_suites((10, 0, 17763, 1))[0] == "windows_2019"
    assert default_suites(WS2022)[0] == "windows_2022"
    assert default_suites((10, 0, 26100, 1))[0] == "windows_2025"


# --- which list is in force -----------------------------------------------------------------------
def test_a_policy_list_overrides_the_local_list():
    facts = suites(
        local=LOCAL, policy=sz("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    )
    assert facts["source"] == "policy"
    assert facts["effective"] == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    ]
    assert facts["dhe"] == ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
    assert facts["local"]["functions"] == LOCAL


def test_a_multi_string_policy_value_is_not_used_by_windows():
    facts = suites(local=LOCAL, policy=multi_sz(["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]))
    assert facts["policy"]["present"] is True
    assert facts["policy"]["ignored_reason"] == "multi_sz"
    assert facts["source"] == "local"
    assert facts["effective"] == LOCAL


def test_the_cmdlet_is_read_on_2016_and_the_local_list_on_2012_r2():
    on_2016 = suites(local=LOCAL, cmdlet=cmdlet_rows(LOCAL[:2]))
    assert (on_2016["source"], on_2016["read_from"], on_2016["effective"]) == (
        "local",
        "tls_cmdlet",
        LOCAL[:2],
    )
    on_2012 = suites(local=LOCAL, version=WS2012R2)
    assert (on_2012["source"], on_2012["read_from"]) == ("local", "local_registry")
    assert on_2012["tls_cmdlet"]["available"] is False


def test_without_any_list_the_os_default_applies():
    facts = suites(version=WS2012R2)
    assert (facts["source"], facts["read_from"]) == ("os_default", "os_default_table")
    assert facts["effective"] == list(WINDOWS_2012_R2)
    cmdlet = suites(version=WS2022, cmdlet=cmdlet_rows(list(WINDOWS_2022)))
    assert (cmdlet["source"], cmdlet["read_from"]) == ("os_default", "tls_cmdlet")


def test_policy_length_is_checked_against_1023_characters():
    long_list = ",".join(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] * 28)  # 28*37 + 27 = 1063
    assert suites(policy=sz(long_list))["policy"]["over_limit"] is True
    exact = suites(policy=sz("A" * 1023))["policy"]
    assert (exact["length"], exact["over_limit"]) == (1023, False)


def test_diffie_hellman_disabled_in_schannel_removes_every_dhe_suite():
    node = key({}, {"KeyExchangeAlgorithms": key({}, {"Diffie-Hellman": key({"Enabled": dword(0)})})})
    facts = suites(local=LOCAL, schannel_node=node, version=WS2012R2)
    assert facts["dhe"] == []
    assert facts["removed_by_schannel_keys"] == ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert facts["configured"] == LOCAL


def test_disabled_ciphers_remove_their_suites_but_not_tls13():
    node = key({}, {"Ciphers": key({}, {"AES 128/128": key({"Enabled": dword(0)})})})
    facts = suites(local=["TLS_AES_128_GCM_SHA256", *LOCAL], schannel_node=node, version=WS2012R2)
    assert facts["effective"] == ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
