import base64
import datetime as dt

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.certs import (
    ALL_PURPOSES,
    certificate_facts,
    effective_purposes,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.der import DerError, decode_oid_sequence
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import (
    CLIENT_AUTH,
    SERVER_AUTH,
    cert_entry,
    eku_property,
    make_cert,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import NOW

HOSTS = ["sql1", "sql1.lab.local"]


def facts_for(der, **entry):
    return certificate_facts(cert_entry(der, **entry), NOW, HOSTS)


@pytest.mark.parametrize(
    ("hash_name", "pss", "expected", "klass"),
    [
        ("md5", False, "md5", "weak"),
        ("sha1", False, "sha1", "sha1"),
        ("sha224", False, "sha224", "weak"),
        ("sha256", False, "sha256", "ok"),
        ("sha384", False, "sha384", "ok"),
        ("sha512", False, "sha512", "weak"),
        ("sha256", True, "sha256", "ok"),
        ("sha512", True, "sha512", "weak"),
    ],
)
def test_signature_hash_is_classified_for_scenario_4(hash_name, pss, expected, klass):
    facts = facts_for(make_cert(hash_name=hash_name, pss=pss))
    assert facts["signature_hash"] == expected
    assert facts["signature_hash_class"] == klass
    if pss:
        assert facts["signature_algorithm_oid"] == "1.2.840.113549.1.1.10"


def test_ecdsa_with_sha512_is_weak_too():
    facts = facts_for(make_cert(key_type="ec", hash_name="sha512"))
    assert (facts["key_type"], facts["key_curve"], facts["signature_hash_class"]) == (
        "EC",
        "secp256r1",
        "weak",
    )


def test_identity_dates_and_key():
    der = make_cert(
        "sql1.lab.local", sans=("sql1.lab.local", "sql1"), not_after=dt.datetime(2026, 12, 20, tzinfo=dt.UTC)
    )
    facts = facts_for(der)
    assert facts["subject"] == "CN=sql1.lab.local"
    assert facts["sans"] == ["sql1.lab.local", "sql1"]
    assert facts["days_left"] == 19
    assert facts["expired"] is False
    assert (facts["key_type"], facts["key_size"]) == ("RSA", 2048)
    assert facts["matches_host_name"] is True
    assert facts["thumbprint"] == cert_entry(der)["thumbprint"].lower()


@pytest.mark.parametrize(
    ("extension", "prop", "expected"),
    [
        (None, None, ALL_PURPOSES),
        ([SERVER_AUTH], None, [SERVER_AUTH]),
        (None, [CLIENT_AUTH], [CLIENT_AUTH]),
        ([SERVER_AUTH, CLIENT_AUTH], [CLIENT_AUTH], [CLIENT_AUTH]),
        ([SERVER_AUTH], [], []),  # an empty property means "no purposes", not "all"
    ],
)
def test_effective_purposes_intersect_extension_and_property(extension, prop, expected):
    assert effective_purposes(extension, prop) == expected


def test_property_9_removing_server_authentication_makes_the_certificate_ineligible():
    der = make_cert(eku=(SERVER_AUTH, CLIENT_AUTH))
    eligible = facts_for(der)
    narrowed = facts_for(der, prop9=eku_property(CLIENT_AUTH))
    emptied = facts_for(der, prop9=eku_property())
    assert eligible["server_auth"] and eligible["sql_auto_pick_candidate"]
    assert narrowed["eku_property"] == [CLIENT_AUTH] and narrowed["server_auth"] is False
    assert emptied["eku_property"] == [] and emptied["effective_purposes"] == []
    assert not narrowed["sql_auto_pick_candidate"] and not emptied["sql_auto_pick_candidate"]


def test_no_eku_at_all_is_valid_for_every_purpose():
    facts = facts_for(make_cert(eku=None))
    assert facts["effective_purposes"] == ALL_PURPOSES
    assert facts["sql_auto_pick_candidate"] is True


def test_auto_pick_needs_a_private_key_and_the_validity_period():
    assert facts_for(make_cert(), has_private_key=False)["sql_auto_pick_candidate"] is False
    expired = facts_for(make_cert(not_after=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    assert expired["expired"] is True and expired["days_left"] < 0
    assert expired["sql_auto_pick_candidate"] is False


def test_unreadable_der_and_property_are_reported_not_raised():
    broken = certificate_facts(
        {"thumbprint": "AB" * 20, "der": base64.b64encode(b"junk").decode()}, NOW, HOSTS
    )
    assert "does not parse" in broken["parse_error"]
    bad_prop = facts_for(make_cert(), prop9=base64.b64encode(b"\x04\x00").decode())
    assert bad_prop["eku_property"] == [] and "property 9" in bad_prop["eku_property_error"]


def test_der_sequence_of_oid_decoding():
    data = bytes.fromhex("301406082B0601050507030106082B06010505070302")
    assert decode_oid_sequence(data) == [SERVER_AUTH, CLIENT_AUTH]
    assert decode_oid_sequence(b"\x30\x00") == []
    for bad in (b"\x31\x00", b"\x30\x05\x06\x01", b"\x30\x00\x00", b"\x30\x02\x04\x00"):
        with pytest.raises(DerError):
            decode_oid_sequence(bad)
