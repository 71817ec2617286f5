import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.osinfo import dhe_fix_status, os_facts
from ansible_collections.mssql.tls.tests.unit.facts.winhost import dword, key, sz


def current_version(
    major=None,
    minor=0,
    build="14393",
    ubr=3542,
    product="Windows Server 2016 Standard",
    installation="Server",
):
    values = {
        "CurrentVersion": sz("6.3"),
        "CurrentBuild": sz(build),
        "UBR": dword(ubr),
        "ProductName": sz(product),
    }
    if installation is not None:
        values["InstallationType"] = sz(installation)
    if major is not None:
        values.update(CurrentMajorVersionNumber=dword(major), CurrentMinorVersionNumber=dword(minor))
    return key(values)


def test_2012_r2_without_major_version_dword_is_6_3_and_has_no_dhe_fix():
    facts = os_facts(current_version(build="9600", ubr=21620, product="Windows Server 2012 R2 Standard"))
    assert facts["version_tuple"] == [6, 3, 9600, 21620]
    assert facts["release"] == "Windows Server 2012 R2"
    assert facts["dhe_leading_zero_fix"] == {
        "fixed": False,
        "reason": "windows_before_10",
        "fixed_from": None,
    }
    assert facts["tls13_supported"] is False


@pytest.mark.parametrize(("ubr", "fixed"), [(3541, False), (3542, True), (4104, True), (0, False)])
def test_server_2016_gets_the_leading_zero_fix_at_14393_3542(ubr, fixed):
    facts = os_facts(current_version(major=10, ubr=ubr))
    assert facts["dhe_leading_zero_fix"]["fixed"] is fixed
    assert facts["dhe_leading_zero_fix"]["fixed_from"] == "10.0.14393.3542"


def test_versions_compare_as_numbers_not_strings():
    # "17763.100" > "14393.3542" only as integers; as strings "10.0.9..." would sort wrong too
    facts = os_facts(
        current_version(major=10, build="17763", ubr=100, product="Windows Server 2019 Datacenter")
    )
    assert facts["dhe_leading_zero_fix"]["fixed"] is True
    assert facts["release"] == "Windows Server 2019"


def test_client_skus_follow_the_release_rule_not_the_server_build_rule():
    win10_1507 = os_facts(
        current_version(major=10, build="10240", ubr=17000, product="Windows 10 Pro", installation="Client")
    )
    win10_1607 = os_facts(
        current_version(major=10, build="14393", ubr=0, product="Windows 10 Pro", installation="Client")
    )
    assert win10_1507["is_server"] is False
    assert win10_1507["dhe_leading_zero_fix"]["fixed"] is False
    assert win10_1607["dhe_leading_zero_fix"]["fixed"] is True


def test_sku_falls_back_to_product_name_when_installation_type_is_absent():
    facts = os_facts(current_version(major=10, installation=None))
    assert facts["is_server"] is True


@pytest.mark.parametrize(("build", "supported"), [("20348", True), ("17763", False), ("26100", True)])
def test_tls13_starts_with_server_2022(build, supported):
    assert os_facts(current_version(major=10, build=build, ubr=1))["tls13_supported"] is supported


def test_unknown_version_gives_no_dhe_verdict():
    assert dhe_fix_status(None, True)["fixed"] is None
    assert os_facts(None)["version"] is None
