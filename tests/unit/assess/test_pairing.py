"""Fleet pairing rules: one client driver against one SQL Server instance, decided like Schannel."""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing import negotiate, pair_fleet
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_ends import (
    DOTNET,
    client_drivers,
    server_ends,
)
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import (
    CLIENT_WITHOUT_TLS12,
    GCM_ONLY,
    ODBC17,
    ODBC18,
    SNAC11_RTM,
    TLS12_ONLY,
    WS2012R2,
    WS2016,
    app_server,
    client,
    server,
    sql_server,
)

DHE_GCM = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"


def driver(facts, family, host="app"):
    return next(d for d in client_drivers(host, facts) if d.family == family)


def instance(facts, host="sql01"):
    (end,) = server_ends(host, facts)
    return end


def pair(client_facts, server_facts, family):
    members = [client("app", client_facts, connects_to=("sql01",)), server("sql01", server_facts)]
    return next(p for p in pair_fleet(members)["pairs"] if p["driver"] == family)


def without_dhe(names):
    return [n for n in names if not n.startswith("TLS_DHE_")]


# --- scenario 5 across hosts ------------------------------------------------------------------


def test_a_2012r2_client_with_odbc17_gets_tls_dhe_from_a_patched_2019_server_and_that_is_scenario_5():
    result = negotiate(driver(app_server(), "ODBC13+"), instance(sql_server()))
    assert (result.status, result.scenario, result.protocol, result.suite) == (
        "intermittent",
        5,
        "TLS 1.2",
        DHE_GCM,
    )


def test_the_pair_names_both_fix_states_and_removing_dhe_on_the_server_is_the_fix():
    found = pair(app_server(), sql_server(), "ODBC13+")
    assert found["dh_fix"] == {"client": False, "server": True}
    assert (found["remedy"], found["fixable_by"], found["clears_with"]) == (
        "remove_dhe_on_server",
        "cipher_suites",
        None,
    )


def test_the_same_client_connects_over_ecdhe_cbc_once_the_server_list_has_no_tls_dhe():
    from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import WINDOWS_2019

    result = negotiate(
        driver(app_server(), "ODBC13+"), instance(sql_server(local_suites=without_dhe(WINDOWS_2019)))
    )
    assert (result.status, result.suite) == ("connects", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384")


def test_an_unfixed_2016_client_is_not_exposed_when_the_2019_server_prefers_ecdhe_it_also_offers():
    unfixed_2016 = app_server(version=(10, 0, 14393, 2457), odbc=(ODBC17,))
    result = negotiate(driver(unfixed_2016, "ODBC13+"), instance(sql_server()))
    assert (result.status, result.suite) == ("connects", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    assert result.dhe_possible  # both have TLS_DHE suites; the server's order decides


def test_two_ends_without_the_fix_compute_dh_alike_so_a_negotiated_tls_dhe_is_no_scenario_5():
    unfixed_2016_server = sql_server(version=(10, 0, 14393, 3541), sql_version="13.0.6300.2")
    result = negotiate(driver(app_server(), "ODBC13+"), instance(unfixed_2016_server))
    assert (result.status, result.suite) == ("connects", DHE_GCM)


def test_the_same_2012r2_client_against_a_fixed_2016_server_that_picks_tls_dhe_is_scenario_5():
    fixed_2016_server = sql_server(version=WS2016, sql_version="13.0.6300.2")
    result = negotiate(driver(app_server(), "ODBC13+"), instance(fixed_2016_server))
    assert (result.status, result.scenario, result.suite) == ("intermittent", 5, DHE_GCM)


# --- scenario 1 across hosts ------------------------------------------------------------------


def test_snac11_before_its_tls12_build_cannot_reach_a_tls12_only_server_and_only_the_snac_qfe_clears_it():
    found = pair(app_server(), sql_server(protocols=TLS12_ONLY), "SNAC11")
    assert (found["status"], found["scenario"], found["code"]) == ("fails", 1, "no_common_protocol")
    assert found["client_protocols"] == ["TLS 1.0", "TLS 1.1"] and found["server_protocols"] == ["TLS 1.2"]
    assert found["remedy"] == "upgrade_driver" and found["fixable_by"] is None
    assert "11.0.6538" in found["clears_with"]


def test_the_2012r2_built_in_driver_is_cleared_only_by_windows_or_moving_the_application():
    found = pair(app_server(), sql_server(protocols=TLS12_ONLY), "MDAC")
    assert (found["scenario"], found["remedy"]) == (1, "upgrade_driver")
    assert "ODBC Driver 18" in found["clears_with"]


def test_odbc17_on_a_client_whose_client_side_lacks_tls12_is_fixed_by_enabling_tls12_there():
    found = pair(app_server(protocols=CLIENT_WITHOUT_TLS12), sql_server(protocols=TLS12_ONLY), "ODBC13+")
    assert (found["scenario"], found["remedy"], found["fixable_by"]) == (1, "enable_tls12_client", "tls12")


def test_a_sql_2014_build_without_tls12_cannot_serve_a_tls12_only_client_until_it_is_upgraded():
    tls12_client = app_server(version=(10, 0, 20348, 2700), odbc=(ODBC18,), protocols=TLS12_ONLY)
    sql2014 = sql_server(version=WS2016, sql_version="12.0.4416.0")
    found = pair(tls12_client, sql2014, "ODBC13+")
    assert (found["scenario"], found["remedy"]) == (1, "upgrade_sql")
    assert found["clears_with"] == "SQL Server 12.0.4439.1 or later (KB3135244)"


# --- scenario 2 across hosts ------------------------------------------------------------------


def test_a_2012r2_client_shares_tls12_but_no_suite_with_a_server_whose_policy_is_ecdhe_rsa_gcm_only():
    hardened = sql_server(
        version=(10, 0, 20348, 2700), sql_version="16.0.4135.4", protocols=TLS12_ONLY, policy_suites=GCM_ONLY
    )
    found = pair(app_server(), hardened, "ODBC13+")
    assert (found["status"], found["scenario"], found["protocol"]) == ("fails", 2, "TLS 1.2")
    assert (found["server_suite_source"], found["client_suite_source"]) == ("policy", "os_default")
    assert found["fixable_by"] is None


def test_a_2016_client_offers_ecdhe_rsa_gcm_and_connects_to_the_same_server():
    hardened = sql_server(
        version=(10, 0, 20348, 2700), sql_version="16.0.4135.4", protocols=TLS12_ONLY, policy_suites=GCM_ONLY
    )
    found = pair(app_server(version=WS2016, odbc=(ODBC17,)), hardened, "ODBC13+")
    assert (found["status"], found["suite"]) == ("connects", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


# --- the client's offer -----------------------------------------------------------------------


def test_the_offer_comes_from_the_client_hosts_own_list_and_protocols_not_a_fixed_table():
    odbc = driver(app_server(), "ODBC13+")
    assert odbc.suite_source == "os_default"
    assert odbc.suites[0] == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P256"  # the 2012 R2 default list
    assert odbc.protocols == {"TLS 1.0", "TLS 1.1", "TLS 1.2"} and odbc.dh_fixed is False
    assert driver(app_server(protocols=CLIENT_WITHOUT_TLS12), "ODBC13+").protocols == {"TLS 1.0", "TLS 1.1"}


def test_net_framework_45_without_strong_crypto_speaks_only_the_old_protocols():
    facts = app_server()
    facts["dotnet"] = {**facts["dotnet"], "v4_release": 379893, "v4_version": "4.5.2"}
    facts["dotnet"]["keys"] = {**facts["dotnet"]["keys"], "v4": {"exists": True, "SchUseStrongCrypto": None}}
    assert driver(facts, DOTNET).tls12 is False
    facts["dotnet"]["keys"]["v4"]["SchUseStrongCrypto"] = 1
    assert driver(facts, DOTNET).tls12 is True


def test_a_driver_of_unknown_version_is_unknown_rather_than_failing():
    unknown = ("SQL Server Native Client 11.0", "sqlncli11.dll", None, 64)
    facts = app_server(odbc=(unknown,))
    found = pair(facts, sql_server(protocols=TLS12_ONLY), "SNAC11")
    assert (found["status"], found["code"], found["scenario"]) == ("unknown", "driver_tls12_unknown", None)


def test_the_drivers_in_use_limit_what_is_paired():
    facts = app_server()
    members = [
        client(
            "app", facts, connects_to=("sql01",), drivers_in_use=("ODBC13+", "SQL Server Native Client 11.0")
        ),
        server("sql01", sql_server()),
    ]
    assert sorted(p["driver"] for p in pair_fleet(members)["pairs"]) == ["ODBC13+", "SNAC11"]


def test_snac11_rtm_reaches_the_2019_server_over_tls11_with_ecdhe_cbc():
    result = negotiate(driver(app_server(odbc=(SNAC11_RTM,)), "SNAC11"), instance(sql_server()))
    assert (result.status, result.protocol, result.suite) == (
        "connects",
        "TLS 1.1",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    )


def test_2012r2_clients_name_their_suites_with_the_curve_and_still_match_the_server_names():
    result = negotiate(
        driver(app_server(version=WS2012R2), "ODBC13+"),
        instance(sql_server(local_suites=["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"])),
    )
    assert result.suite == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
