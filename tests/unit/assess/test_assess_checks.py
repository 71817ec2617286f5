"""The checks without a scenario number: what a DBA wants to see next to the six causes."""

import datetime as dt

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.engine import assess, scenarios_of
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert, thumbprint
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    SELF_GENERATED_LINE,
    WS2019,
    compliant_2022_host,
    facts_of,
    loaded_line,
)


def findings(host, **options):
    return assess(facts_of(host), "en", **options)


def only(found, rule_id):
    matches = [f for f in found if f["id"] == rule_id]
    assert len(matches) == 1, [f["id"] for f in found]
    return matches[0]


def bound_certificate(der, **entry):
    """A compliant host whose instance is bound to (and loaded) this certificate."""
    host = compliant_2022_host()
    tp = thumbprint(der)
    host.instances[0].certificate = tp.lower()
    host.instances[0].errorlog = [loaded_line(tp)]
    host.certificates = [cert_entry(der, **entry)]
    return host


@pytest.mark.parametrize(("value", "flagged"), [(1, False), (0, True), (None, True)])
def test_dotnet_strong_crypto_must_be_on_for_every_installed_framework_key(value, flagged):
    host = compliant_2022_host(dotnet_strong_crypto={"v4": 1, "v4_wow64": value})
    found = findings(host)
    assert (found != []) is flagged
    if flagged:
        finding = only(found, "dotnet_strong_crypto_off")
        assert finding["data"]["keys"] == [r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319"]
        assert finding["fixable_by"] == "tls12"


def test_fips_mode_is_reported():
    assert only(findings(compliant_2022_host(fips=1)), "fips_enabled")["severity"] == "low"
    assert findings(compliant_2022_host(fips=0)) == []


def test_tls13_keys_on_server_2019_are_reported_but_not_on_2022():
    keys = {"TLS 1.3": {"Server": {"Enabled": 1, "DisabledByDefault": 0}}}
    on_2019 = compliant_2022_host(version=WS2019, product_name="Windows Server 2019", protocols=keys)
    assert only(findings(on_2019), "tls13_keys_unsupported_os")["fixable_by"] == "tls12"
    assert findings(compliant_2022_host(protocols=keys)) == []


def test_a_policy_list_over_1023_characters_is_reported_with_its_length():
    suites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] * 14
    found = findings(compliant_2022_host(policy_suites=",".join(suites)))
    too_long = only(found, "cipher_policy_too_long")
    assert too_long["data"] == {"length": 1063, "limit": 1023}
    assert too_long["fixable_by"] == "cipher_suites"


@pytest.mark.parametrize(
    ("not_after", "days", "severity"),
    [
        (dt.datetime(2026, 12, 20, tzinfo=dt.UTC), 30, "medium"),
        (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), 30, "high"),
        (dt.datetime(2027, 1, 15, tzinfo=dt.UTC), 30, None),
        (dt.datetime(2027, 1, 15, tzinfo=dt.UTC), 60, "medium"),
    ],
)
def test_certificates_sql_server_uses_are_checked_for_expiry(not_after, days, severity):
    found = findings(bound_certificate(make_cert(not_after=not_after)), expiry_warning_days=days)
    expiring = [f for f in found if f["id"] == "cert_expiring"]
    assert [f["severity"] for f in expiring] == ([severity] if severity else [])


def test_a_bound_certificate_without_private_key_is_reported_and_breaks_force_encryption():
    found = findings(bound_certificate(make_cert(), has_private_key=False))
    assert only(found, "cert_no_private_key")["severity"] == "high"
    assert (
        only(found, "force_encryption_without_certificate")["data"]["reason"] == "term.reason.no_private_key"
    )


def test_a_bound_thumbprint_missing_from_the_store():
    host = bound_certificate(make_cert())
    host.certificates = []
    found = findings(host)
    assert only(found, "cert_bound_missing")["target"] == host.instances[0].id
    assert (
        only(found, "force_encryption_without_certificate")["data"]["reason"]
        == "term.reason.missing_from_store"
    )


def test_force_strict_needs_a_configured_certificate():
    host = compliant_2022_host()
    host.instances[0].certificate = ""
    host.instances[0].force_strict = 1
    host.instances[0].errorlog = [SELF_GENERATED_LINE]
    host.certificates = []
    finding = only(findings(host), "force_strict_without_certificate")
    assert finding["data"]["reason"] == "term.reason.none_configured"
    assert "no certificate is configured" in finding["evidence"]


def test_a_binding_that_sql_server_has_not_loaded_yet_needs_a_restart():
    host = bound_certificate(make_cert())
    host.instances[0].errorlog = [SELF_GENERATED_LINE]
    finding = only(findings(host), "sql_restart_pending_certificate")
    assert finding["fixable_by"] == "sql_restart"
    assert finding["data"]["loaded"] == "term.self_generated"


def test_schannel_events_need_36874_or_36888():
    assert findings(compliant_2022_host(events={36887: 5})) == []
    finding = only(findings(compliant_2022_host(events={36874: 1, 36887: 5})), "schannel_events")
    assert finding["data"] == {"hours": 168, "events_36874": 1, "events_36888": 0, "events_36887": 5}


def test_no_check_has_a_scenario_number():
    host = compliant_2022_host(fips=1, events={36888: 1}, dotnet_strong_crypto={"v4": 0})
    assert scenarios_of(findings(host)) == []
