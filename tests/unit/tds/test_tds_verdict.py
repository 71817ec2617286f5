"""Client verdicts: which driver connects to a measured endpoint, and why not (scenarios 1, 2, 3/5)."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.errors import ProbeInputError
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.profiles import (
    PROFILES,
    profile_by_name,
    profiles_for_mode,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.verdict import (
    ServerView,
    evaluate,
    view_from_probe_result,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.versions import TlsVersion
from ansible_collections.mssql.tls.plugins.plugin_utils.tds.windows_defaults import (
    WINDOWS_2012R2,
    WINDOWS_2016,
    WINDOWS_2019,
    WINDOWS_2022,
    client_offer,
)

TLS10, TLS11, TLS12, TLS13 = TlsVersion.TLS10, TlsVersion.TLS11, TlsVersion.TLS12, TlsVersion.TLS13
ECDHE_RSA_AES256_GCM = 0xC030
ECDHE_RSA_AES256_CBC_SHA384 = 0xC028
DHE_RSA_AES256_GCM = 0x009F
RSA_AES128_CBC_SHA = 0x002F


def test_unpatched_snac_against_a_tls12_only_server_fails_with_10054():
    view = ServerView("tds", {TLS12: (ECDHE_RSA_AES256_GCM, RSA_AES128_CBC_SHA)})

    verdict = evaluate(profile_by_name("snac11-unpatched"), view)

    assert verdict.connects is False
    assert verdict.protocol is None
    assert verdict.reason == (
        "no common protocol: client offers TLS 1.0, server accepts TLS 1.2; the server resets the "
        "connection, which the client reports as error 10054"
    )


def test_a_2012r2_client_shares_no_suite_with_an_ecdhe_gcm_only_server():
    # 2012 R2 defaults have no ECDHE_RSA GCM suite (windows-schannel.md section 5)
    view = ServerView("tds", {TLS12: (ECDHE_RSA_AES256_GCM,)})

    verdict = evaluate(profile_by_name("windows-2012r2-client"), view)

    assert verdict.connects is False
    assert verdict.protocol == "TLS 1.2"
    assert "no common cipher suite for TLS 1.2" in verdict.reason
    assert "10054" in verdict.reason


def test_server_preference_decides_the_suite_and_dhe_is_flagged_for_a_2012r2_client():
    view = ServerView("tds", {TLS12: (DHE_RSA_AES256_GCM, ECDHE_RSA_AES256_CBC_SHA384)})

    verdict = evaluate(profile_by_name("windows-2012r2-client"), view)

    assert verdict.connects is True
    assert (verdict.protocol, verdict.suite) == ("TLS 1.2", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
    assert verdict.warnings and "lacks the DH leading-zero fix" in verdict.warnings[0]


def test_client_preference_server_lets_the_client_order_win():
    # the 2012 R2 list puts ECDHE_RSA CBC SHA384 before DHE_RSA GCM
    view = ServerView(
        "tds", {TLS12: (DHE_RSA_AES256_GCM, ECDHE_RSA_AES256_CBC_SHA384)}, client_order=frozenset({TLS12})
    )

    verdict = evaluate(profile_by_name("windows-2012r2-client"), view)

    assert verdict.suite == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
    assert verdict.warnings == ()
    assert "client preference" in verdict.reason


def test_the_highest_common_version_is_used():
    view = ServerView("tds", {TLS10: (RSA_AES128_CBC_SHA,), TLS12: (RSA_AES128_CBC_SHA,)})
    assert evaluate(profile_by_name("odbc17"), view).protocol == "TLS 1.2"
    assert evaluate(profile_by_name("dotnet45-default"), view).protocol == "TLS 1.0"


def test_tls13_never_counts_on_the_tds7_path():
    view = ServerView("tds", {TLS13: (0x1302,)})
    verdict = evaluate(profile_by_name("odbc18-strict"), view)
    assert verdict.connects is False


def test_strict_client_uses_tls13_on_the_strict_path():
    view = ServerView("strict", {TLS12: (ECDHE_RSA_AES256_GCM,), TLS13: (0x1301, 0x1302)})
    verdict = evaluate(profile_by_name("sqlclient5-strict"), view)
    assert (verdict.protocol, verdict.suite) == ("TLS 1.3", "TLS_AES_128_GCM_SHA256")


def test_encrypt_not_sup():
    view = ServerView("tds", {}, encryption_not_supported=True)
    assert evaluate(profile_by_name("odbc18"), view).connects is False
    relaxed = evaluate(profile_by_name("odbc17"), view)
    assert (relaxed.connects, relaxed.protocol) == (True, None)


def test_view_from_a_probe_result_dict():
    result = {
        "mode": "tds",
        "protocols": {"TLS 1.0": False, "TLS 1.2": True, "TLS 1.3": "not applicable to TDS 7.x"},
        "cipher_suites": {"TLS 1.2": ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "0xFAFA"]},
        "suite_order": {"TLS 1.2": "client"},
        "encryption": {"answer_name": "ENCRYPT_OFF"},
    }

    view = view_from_probe_result(result)

    assert view == ServerView("tds", {TLS12: (DHE_RSA_AES256_GCM, 0xFAFA)}, frozenset({TLS12}), False)


def test_view_from_a_broken_dict_names_the_problem():
    with pytest.raises(ProbeInputError, match="result"):
        view_from_probe_result({"mode": "tds"})


def test_profiles_resolve_and_filter_by_mode():
    assert {p.path for p in profiles_for_mode("strict")} == {"strict"}
    assert {p.path for p in profiles_for_mode("tds")} == {"tds"}
    assert profiles_for_mode("tls") == PROFILES
    assert len({p.name for p in PROFILES}) == len(PROFILES)
    with pytest.raises(ProbeInputError, match="profile"):
        profile_by_name("odbc99")
    for profile in PROFILES:
        assert profile.sources
        assert client_offer(profile.suite_list, max(profile.protocols))


def test_windows_default_lists_have_the_reference_sizes():
    # windows-schannel.md section 5: 2012 R2 has 40 entries; 2019 = 2016 minus DHE_RSA CBC x2,
    # DHE_DSS x5 and RC4 x2; 2022 = two TLS 1.3 suites + 2019
    assert len(WINDOWS_2012R2) == 40
    assert len(WINDOWS_2016) == 32
    assert len(WINDOWS_2019) == 32 - 2 - 5 - 2
    assert WINDOWS_2022[:2] == ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256")
    assert WINDOWS_2022[2:] == WINDOWS_2019
    assert "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" in WINDOWS_2019


def test_client_offer_folds_curve_suffixes_and_drops_null_and_ssl2():
    offer = client_offer(WINDOWS_2012R2, TLS12)

    assert offer[:4] == (0xC028, 0xC027, 0xC014, 0xC013)  # P256/P384 twins collapse
    assert len(offer) == len(set(offer))
    assert 0x0002 not in offer and 0x003B not in offer  # NULL suites are never offered
    assert 0x000A in offer and 0x0005 in offer  # 3DES and RC4 are
    tls10 = client_offer(WINDOWS_2012R2, TLS10)
    assert 0xC028 not in tls10 and 0xC014 in tls10  # SHA384 suites need TLS 1.2
