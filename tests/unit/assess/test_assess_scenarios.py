"""Each test is a host an engineer would recognise, and the scenarios the audit must report."""

import datetime as dt

from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import assess, scenarios_of
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import WINDOWS_2016, WINDOWS_2019
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import (
    cert_entry,
    eku_property,
    make_cert,
    thumbprint,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    NO_DHE_2022,
    SELF_GENERATED_LINE,
    WS2012R2,
    WS2019,
    Instance,
    compliant_2022_host,
    dword,
    facts_of,
    key,
    loaded_line,
    login_error_lines,
)
from hypothesis import given, settings
from hypothesis import strategies as st

OFF = {"Enabled": 0, "DisabledByDefault": 1}
TLS10_TLS11_OFF_SERVER = {"TLS 1.0": {"Server": OFF}, "TLS 1.1": {"Server": OFF}}
TLS10_TLS11_OFF_BOTH = {"TLS 1.0": {"Server": OFF, "Client": OFF}, "TLS 1.1": {"Server": OFF, "Client": OFF}}


def findings(host, lang="en", **options):
    return assess(facts_of(host), lang, **options)


def ids(found):
    return [f["id"] for f in found]


def by_id(found, rule_id):
    matches = [f for f in found if f["id"] == rule_id]
    assert len(matches) == 1, ids(found)
    return matches[0]


def with_certificate(host, der, *, bind=True, loaded=True, **entry):
    tp = thumbprint(der).lower()
    instance = host.instances[0]
    instance.certificate = tp if bind else ""
    instance.errorlog = [loaded_line(tp)] if loaded else [SELF_GENERATED_LINE]
    host.certificates = [cert_entry(der, **entry)]
    return host


# --- the compliant baseline -----------------------------------------------------------------------
def test_a_fully_compliant_2022_host_has_no_findings_in_any_language():
    host = compliant_2022_host()
    assert findings(host) == []
    assert findings(host, "ja") == []


# --- scenarios 3 and 5: TLS_DHE ------------------------------------------------------------------
def host_2016(ubr, suites=WINDOWS_2016):
    return compliant_2022_host(
        version=(10, 0, 14393, ubr),
        product_name="Windows Server 2016 Standard",
        local_suites=list(suites),
        odbc=[("ODBC Driver 17 for SQL Server", "msodbcsql17.dll", "17.10.5.1", 64)],
        dlls=[],
    )


def test_a_2016_host_one_build_before_the_dhe_fix_with_dhe_in_the_local_list_gets_scenarios_3_and_5():
    found = findings(host_2016(3541))
    assert scenarios_of(found) == [3, 5]
    s5 = by_id(found, "s5.dhe_without_leading_zero_fix")
    assert (s5["severity"], s5["fixable_by"]) == ("high", "cipher_suites")
    assert "10.0.14393.3542" in s5["evidence"]
    assert by_id(found, "s3.dhe_suites_enabled")["data"]["count"] == 9


def test_the_same_host_at_the_fixed_build_gets_scenario_3_only():
    assert scenarios_of(findings(host_2016(3542))) == [3]


def test_the_2016_host_without_dhe_in_its_list_has_neither():
    no_dhe = [s for s in WINDOWS_2016 if not s.startswith("TLS_DHE_")]
    assert findings(host_2016(3541, no_dhe)) == []


def test_a_2012_r2_host_on_its_default_cipher_list_gets_scenarios_3_and_5():
    host = compliant_2022_host(
        version=WS2012R2, product_name="Windows Server 2012 R2 Standard", local_suites=None, odbc=[], dlls=[]
    )
    found = findings(host)
    assert scenarios_of(found) == [3, 5]
    assert by_id(found, "s3.dhe_suites_enabled")["data"]["source"] == "term.source.os_default"


def test_diffie_hellman_disabled_in_schannel_clears_scenarios_3_and_5():
    host = host_2016(3541)
    host.schannel_subkeys = {"KeyExchangeAlgorithms": key({}, {"Diffie-Hellman": key({"Enabled": dword(0)})})}
    assert scenarios_of(findings(host)) == []


def test_a_gpo_list_with_dhe_overrides_a_clean_local_list():
    host = compliant_2022_host(
        version=WS2019,
        product_name="Windows Server 2019 Datacenter",
        policy_suites="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    )
    found = findings(host)
    assert scenarios_of(found) == [3]
    assert by_id(found, "s3.dhe_suites_enabled")["data"]["suites"] == ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"]
    assert by_id(found, "cipher_policy_present")["severity"] == "info"


@settings(max_examples=40, deadline=None)
@given(
    build=st.sampled_from([9600, 14393, 17763, 20348]),
    ubr=st.integers(min_value=0, max_value=6000),
    suites=st.lists(st.sampled_from(list(WINDOWS_2016)), max_size=8, unique=True),
)
def test_every_scenario_5_host_is_also_a_scenario_3_host(build, ubr, suites):
    version = (6, 3, build, ubr) if build == 9600 else (10, 0, build, ubr)
    scenarios = scenarios_of(findings(compliant_2022_host(version=version, local_suites=suites)))
    has_dhe = any(s.startswith("TLS_DHE_") for s in suites)
    assert (3 in scenarios) == has_dhe
    if 5 in scenarios:
        assert 3 in scenarios
        assert version < (10, 0, 14393, 3542)


# --- scenario 1: no protocol in common -----------------------------------------------------------
def host_with_sql(version, instance_id, protocols):
    host = compliant_2022_host(
        version=WS2019,
        product_name="Windows Server 2019 Datacenter",
        local_suites=[s for s in WINDOWS_2019 if not s.startswith("TLS_DHE_")],
    )
    host.instances[0].version = version
    host.instances[0].id = instance_id
    host.protocols = protocols
    return host


def test_tls_10_and_11_off_while_sql_2014_sp1_cu1_is_installed_is_scenario_1_only_an_upgrade_fixes():
    found = findings(host_with_sql("12.0.4416.0", "MSSQL12.MSSQLSERVER", TLS10_TLS11_OFF_SERVER))
    assert scenarios_of(found) == [1]
    s1 = by_id(found, "s1.sql_no_common_protocol")
    assert s1["fixable_by"] is None
    assert s1["target"] == "MSSQL12.MSSQLSERVER"
    assert "12.0.4439.1" in s1["remediation"]
    assert s1["data"]["server_protocols"] == ["TLS 1.2"]


def test_ssl3_left_on_by_2012_r2_defaults_does_not_count_as_a_tls_protocol_in_common():
    host = host_with_sql("12.0.4416.0", "MSSQL12.MSSQLSERVER", TLS10_TLS11_OFF_SERVER)
    host.version, host.product_name = WS2012R2, "Windows Server 2012 R2 Standard"
    facts = facts_of(host)
    assert "SSL 3.0" in facts["schannel"]["effective"]["server"]  # the 2012 R2 default
    s1 = by_id(assess(facts), "s1.sql_no_common_protocol")
    assert s1["data"]["instance_protocols"] == ["TLS 1.0", "TLS 1.1"]
    assert s1["data"]["server_protocols"] == ["TLS 1.2"]


def test_the_same_host_with_sql_2014_sp1_cu5_has_tls12_and_no_scenario_1():
    assert findings(host_with_sql("12.0.4439.1", "MSSQL12.MSSQLSERVER", TLS10_TLS11_OFF_SERVER)) == []


def test_sql_2014_sp1_cu1_with_the_old_protocols_still_on_is_a_warning_not_a_scenario():
    found = findings(host_with_sql("12.0.4416.0", "MSSQL12.MSSQLSERVER", {}))
    assert scenarios_of(found) == []
    assert ids(found) == ["sql_no_tls12"]


def test_tls12_disabled_on_the_server_side_under_sql_2019_is_scenario_1_fixed_by_the_tls12_role():
    found = findings(
        host_with_sql(
            "15.0.4345.5",
            "MSSQL15.MSSQLSERVER",
            {"TLS 1.2": {"Server": {"Enabled": 0}}, **TLS10_TLS11_OFF_SERVER},
        )
    )
    s1 = by_id(found, "s1.sql_no_common_protocol")
    assert s1["fixable_by"] == "tls12"
    assert s1["data"]["server_protocols"] == []


def test_a_driver_without_tls12_on_a_tls12_only_client_side_is_scenario_1():
    host = compliant_2022_host(protocols=TLS10_TLS11_OFF_BOTH)
    host.odbc.append(("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64))
    host.dlls.append((r"%SystemRoot%\System32\sqlncli11.dll", "11.0.2100.60"))
    found = findings(host)
    s1 = by_id(found, "s1.driver_no_common_protocol")
    assert s1["target"] == "SNAC11"
    assert s1["data"]["driver"] == ["SQL Server Native Client 11.0", "SQLNCLI11"]
    assert s1["fixable_by"] is None
    assert scenarios_of(found) == [1]


def test_the_windows_mdac_driver_on_2016_blocks_disabling_old_client_protocols():
    host = host_2016(3542, [s for s in WINDOWS_2016 if not s.startswith("TLS_DHE_")])
    host.odbc = [("SQL Server", "SQLSRV32.dll", "10.0.14393.0", 64)]
    host.protocols = TLS10_TLS11_OFF_BOTH
    s1 = by_id(findings(host), "s1.driver_no_common_protocol")
    assert s1["target"] == "MDAC"
    assert "Windows updates" in s1["remediation"]


# --- scenario 2: no cipher suite in common ------------------------------------------------------
def test_a_policy_list_with_only_ecdsa_suites_and_an_rsa_certificate_is_scenario_2():
    host = compliant_2022_host(
        events={36874: 12},
        policy_suites="TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    )
    found = findings(host)
    assert scenarios_of(found) == [2]
    s2 = by_id(found, "s2.no_common_cipher_suite")
    assert s2["data"]["key_type"] == "RSA"
    assert s2["data"]["events_36874"] == 12 and "36874" in s2["evidence"]
    assert "schannel_events" in ids(found)


def test_the_same_policy_with_an_ecdsa_certificate_is_fine():
    host = compliant_2022_host(policy_suites="TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    with_certificate(host, make_cert(key_type="ec"))
    assert scenarios_of(findings(host)) == []


def test_an_old_build_that_only_speaks_tls10_against_a_tls12_only_list_is_scenario_2_not_1():
    host = host_with_sql("11.0.6020.0", "MSSQL11.MSSQLSERVER", {})
    host.local_suites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"]
    found = findings(host)
    assert scenarios_of(found) == [2]
    assert by_id(found, "s2.no_common_cipher_suite")["data"]["protocols"] == ["TLS 1.0", "TLS 1.1"]


def test_suites_clients_do_not_offer_do_not_count():
    host = compliant_2022_host(
        local_suites=["TLS_RSA_WITH_NULL_SHA256", "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"]
    )
    assert 2 in scenarios_of(findings(host))


# --- scenario 4: weak-hash certificate ------------------------------------------------------------
def test_a_sha512_certificate_bound_to_sql_server_is_scenario_4_for_the_weak_certificates_role():
    host = with_certificate(compliant_2022_host(), make_cert(hash_name="sha512"))
    found = findings(host)
    assert scenarios_of(found) == [4]
    s4 = by_id(found, "s4.weak_certificate_hash")
    assert (s4["fixable_by"], s4["data"]["hash"]) == ("weak_certificates", "SHA512")
    assert s4["data"]["usage"] == [
        {"instance": "MSSQLSERVER", "role": "loaded"},
        {"instance": "MSSQLSERVER", "role": "bound"},
    ]


def test_an_md5_certificate_sql_could_pick_is_scenario_4_when_errorlog_is_silent_about_the_last_start():
    host = with_certificate(compliant_2022_host(), make_cert(hash_name="md5"), bind=False, loaded=False)
    host.instances[0].errorlog = []  # we cannot tell what the last start loaded
    s4 = by_id(findings(host), "s4.weak_certificate_hash")
    assert s4["data"]["usage"] == [{"instance": "MSSQLSERVER", "role": "auto_pick"}]
    assert "weak_certificate_auto_pick_candidate" not in ids(findings(host))


def renewed_host(loaded_good=True, good_in_store=True):
    """Nothing bound; a SHA256 certificate and an older SHA512 one are both eligible."""
    good = make_cert(hash_name="sha256", serial=2002)
    weak = make_cert(hash_name="sha512", serial=2001, not_after=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    host = compliant_2022_host()
    instance = host.instances[0]
    instance.certificate = ""
    instance.errorlog = [loaded_line(thumbprint(good)) if loaded_good else SELF_GENERATED_LINE]
    host.certificates = [cert_entry(weak), *([cert_entry(good)] if good_in_store else [])]
    return host, thumbprint(good).lower(), thumbprint(weak).lower()


def test_a_sha512_certificate_sql_could_auto_pick_while_it_loaded_another_good_one_is_a_latent_risk():
    host, good, weak = renewed_host()
    found = findings(host)
    assert scenarios_of(found) == []
    latent = by_id(found, "weak_certificate_auto_pick_candidate")
    assert (latent["scenario"], latent["severity"], latent["fixable_by"]) == (
        None,
        "medium",
        "weak_certificates",
    )
    assert (latent["target"], latent["data"]["hash"], latent["data"]["loaded"]) == (weak, "SHA512", [good])
    assert latent["data"]["usage"] == [{"instance": "MSSQLSERVER", "role": "auto_pick"}]
    assert ids(found) == ["weak_certificate_auto_pick_candidate"]
    ja = by_id(findings(host, "ja"), "weak_certificate_auto_pick_candidate")
    assert "拇印アルゴリズム" in ja["title"] and ja["data"] == latent["data"]


def test_a_weak_candidate_while_sql_loaded_its_self_generated_certificate_is_latent_too():
    host = with_certificate(compliant_2022_host(), make_cert(hash_name="md5"), bind=False, loaded=False)
    found = findings(host)
    assert scenarios_of(found) == []
    latent = by_id(found, "weak_certificate_auto_pick_candidate")
    assert latent["data"]["loaded"] == ["term.self_generated"]
    assert "the self-generated certificate" in latent["evidence"]


def test_a_weak_candidate_stays_scenario_4_when_the_certificate_sql_loaded_is_no_longer_eligible():
    host, _good, weak = renewed_host(good_in_store=False)  # the next start chooses again
    found = findings(host)
    assert scenarios_of(found) == [4]
    assert by_id(found, "s4.weak_certificate_hash")["target"] == weak
    assert "sql_restart_pending_certificate" in ids(found)


def test_a_weak_certificate_bound_to_one_instance_and_only_a_candidate_of_another_is_scenario_4():
    host, _good, weak = renewed_host()
    host.instances.append(
        Instance(name="HR", id="MSSQL16.HR", certificate=weak, errorlog=[loaded_line(weak)], port="14331")
    )
    found = findings(host)
    assert scenarios_of(found) == [4]
    s4 = by_id(found, "s4.weak_certificate_hash")
    assert {"instance": "MSSQLSERVER", "role": "auto_pick"} in s4["data"]["usage"]
    assert {"instance": "HR", "role": "bound"} in s4["data"]["usage"]
    assert s4["fixable_by"] == "weak_certificates"
    assert "weak_certificate_auto_pick_candidate" not in ids(found)


def test_sha224_and_rsassa_pss_with_sha512_are_weak_too():
    for der in (make_cert(hash_name="sha224"), make_cert(hash_name="sha512", pss=True)):
        assert scenarios_of(findings(with_certificate(compliant_2022_host(), der))) == [4]


def test_a_weak_certificate_still_loaded_after_the_fix_needs_only_a_restart():
    der = make_cert(hash_name="sha512")
    host = with_certificate(compliant_2022_host(), der, bind=False, prop9=eku_property())  # purpose removed
    found = findings(host)
    s4 = by_id(found, "s4.weak_certificate_hash")
    assert s4["fixable_by"] == "sql_restart"
    assert by_id(found, "sql_restart_pending_certificate")["fixable_by"] == "sql_restart"


def test_a_sha1_certificate_is_a_warning_not_scenario_4():
    found = findings(with_certificate(compliant_2022_host(), make_cert(hash_name="sha1")))
    assert scenarios_of(found) == []
    assert by_id(found, "cert_sha1_signature")["severity"] == "low"


def test_the_self_generated_certificate_is_never_scenario_4():
    host = compliant_2022_host()
    host.instances[0].certificate = ""
    host.instances[0].errorlog = [SELF_GENERATED_LINE]
    host.certificates = []
    assert findings(host) == []


def test_a_weak_certificate_sql_server_cannot_use_is_ignored():
    host = with_certificate(
        compliant_2022_host(), make_cert(hash_name="md5"), bind=False, loaded=False, prop9=eku_property()
    )
    host.instances[0].errorlog = [SELF_GENERATED_LINE]
    assert findings(host) == []


# --- scenario 6: login worker starvation ---------------------------------------------------------
RESET = (
    "2026-11-29 14:02:11.41 Logon       Network error code 0x2746 occurred while establishing a "
    "connection; the connection has been closed. This may have been caused by client or server login "
    "timeout expiration. Time spent during login: total 5000 ms, enqueued 4990 ms, network writes 0 ms, "
    "network reads 0 ms, establishing SSL 2 ms, negotiating SSPI 0 ms, validating login 0 ms, including "
    "user-defined login processing 0 ms."
)
TIMEOUT_17197 = [
    "2026-11-29 14:05:00.10 Logon       Error: 17197, Severity: 20, State: 1.",
    "2026-11-29 14:05:00.10 Logon       Login failed due to timeout; the connection has been closed. "
    "This error may indicate heavy server load. [CLIENT: 10.0.0.22]",
]


def sql_host(version, instance_id, lines=(), events=None):
    host = host_with_sql(version, instance_id, {})
    host.instances[0].errorlog += list(lines)
    host.events = events or {}
    return host


def sql_2017(*lines, events=None):
    return sql_host("14.0.3465.1", "MSSQL14.MSSQLSERVER", lines, events)


def test_sql_2017_with_17830_resets_mostly_enqueued_is_scenario_6():
    found = findings(sql_2017(*[RESET] * 3))
    s6 = by_id(found, "s6.login_starvation_risk")
    assert (s6["data"]["errors_10054"], s6["data"]["starvation"], s6["fixable_by"]) == (3, 3, None)
    assert s6["data"]["enqueued_ms"] == 14970
    assert scenarios_of(found) == [6]
    assert by_id(found, "login_errors_10054")["data"]["starvation"] == 3


def test_a_sql_2019_instance_with_17830_lines_mostly_enqueued_gets_the_per_class_finding_and_no_scenario_6():
    found = findings(sql_host("15.0.4345.5", "MSSQL15.MSSQLSERVER", [RESET] * 3))
    assert scenarios_of(found) == []
    (finding,) = found
    assert (finding["id"], finding["scenario"], finding["severity"]) == ("login_errors_10054", None, "low")
    assert finding["data"] == {
        "instance": "MSSQLSERVER",
        "version": "15.0.4345.5",
        "errors_10054": 3,
        "starvation": 3,
        "starvation_queue_ms": 14970,
        "tls_handshake": 0,
        "tls_handshake_ssl_ms": 0,
        "client_reset": 0,
        "other": 0,
        "errors_17197": 0,
    }
    assert "waiting in the login queue (starvation) 3" in finding["evidence"]


def test_a_sql_2017_instance_whose_17830_lines_spent_their_time_establishing_ssl_is_not_scenario_6():
    short = login_error_lines(4, 1, 3)
    extended = login_error_lines(30, 0, 30, during_ssl={"reads": 22, "secure_calls": 8})
    found = findings(sql_2017(*short, *extended))
    assert scenarios_of(found) == []
    per_class = by_id(found, "login_errors_10054")
    assert (per_class["data"]["tls_handshake"], per_class["data"]["tls_handshake_ssl_ms"]) == (2, 33)
    assert per_class["severity"] == "low"


def test_a_sql_2017_instance_with_only_clients_that_opened_and_closed_the_socket_is_not_scenario_6():
    found = findings(sql_2017(*login_error_lines(0, 0, 0), *login_error_lines(2, 2, 0)))
    assert scenarios_of(found) == []
    per_class = by_id(found, "login_errors_10054")
    assert (per_class["data"]["client_reset"], per_class["severity"]) == (2, "info")


def test_a_sql_2017_instance_whose_ssl_time_was_spent_enqueued_is_scenario_6():
    waiting = login_error_lines(15000, 10, 14980, during_ssl={"enqueued": 14900, "secure_calls": 80})
    assert scenarios_of(findings(sql_2017(*waiting))) == [6]


def test_sql_2017_with_17197_login_timeouts_alone_is_scenario_6():
    found = findings(sql_2017(*TIMEOUT_17197))
    assert scenarios_of(found) == [6]
    assert by_id(found, "s6.login_starvation_risk")["data"]["errors_17197"] == 1
    assert "login_errors_10054" not in ids(found)  # no 17830 line to classify


def test_sql_2019_with_17197_is_not_scenario_6():
    assert findings(sql_host("15.0.4345.5", "MSSQL15.MSSQLSERVER", TIMEOUT_17197)) == []


def test_sql_2017_without_evidence_is_not_scenario_6():
    assert findings(sql_2017()) == []


def test_schannel_events_are_not_starvation_evidence():
    found = findings(sql_host("13.0.6300.2", "MSSQL13.MSSQLSERVER", events={36874: 1, 36888: 2, 36887: 3}))
    assert scenarios_of(found) == []
    assert ids(found) == ["schannel_events"]


def test_facts_gathered_before_the_classification_count_every_10054_line_as_starvation():
    facts = facts_of(sql_2017(*login_error_lines(4, 1, 3)))
    del facts["sql"]["instances"][0]["errorlog"]["evidence"]["classes_10054"]
    found = assess(facts)
    assert scenarios_of(found) == [6]
    assert by_id(found, "login_errors_10054")["data"]["starvation"] == 1


def test_expiry_is_judged_against_the_gathering_time():
    der = make_cert(not_after=dt.datetime(2026, 12, 10, tzinfo=dt.UTC))
    found = findings(with_certificate(compliant_2022_host(), der))
    assert by_id(found, "cert_expiring")["data"]["days_left"] == 9


def test_no_dhe_baseline_list_is_really_without_dhe():
    assert not any(s.startswith("TLS_DHE_") for s in NO_DHE_2022)
