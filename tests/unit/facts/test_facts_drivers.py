import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.drivers import driver_tls12, family


@pytest.mark.parametrize(
    ("os_version", "supported"),
    [
        ((6, 3, 9600, 21620), False),  # 2012 R2: won't be fixed
        ((10, 0, 14393, 7000), False),  # 2016 (1607): won't be fixed
        ((10, 0, 17763, 1553), False),  # 1809 needs a build above .1553
        ((10, 0, 17763, 1554), True),
        ((10, 0, 18363, 1198), True),
        ((10, 0, 19041, 609), False),
        ((10, 0, 19044, 1), True),  # 21H2
        ((10, 0, 20348, 1), True),  # Server 2022
    ],
)
def test_mdac_tls12_depends_on_the_windows_build(os_version, supported):
    assert driver_tls12("SQL Server", "10.0.0.0", os_version)["supported"] is supported
    assert driver_tls12("SQLOLEDB", None, os_version)["supported"] is supported


@pytest.mark.parametrize(
    ("name", "version", "supported"),
    [
        ("SQL Server Native Client 11.0", "11.0.6538.0", True),
        ("SQL Server Native Client 11.0", "11.0.6537.0", False),
        ("SQLNCLI11", "11.0.2100.60", False),
        ("SQL Server Native Client 10.0", "10.50.6537.0", True),
        ("SQL Server Native Client 10.0", "10.50.6000.34", False),
        ("SQLNCLI10", "10.0.6543.0", True),
        ("ODBC Driver 11 for SQL Server", "12.0.4219.0", True),
        ("ODBC Driver 11 for SQL Server", "12.0.2000.8", False),
        ("ODBC Driver 13.1 for SQL Server", "14.0.1000.169", True),
        ("ODBC Driver 18 for SQL Server", "18.3.2.1", True),
        ("MSOLEDBSQL", "18.2.3.0", True),
        ("SQL Native Client", "9.0.5000.0", False),
    ],
)
def test_driver_minimum_versions(name, version, supported):
    assert driver_tls12(name, version, (10, 0, 14393, 0))["supported"] is supported


def test_unknown_version_or_driver_gives_no_verdict():
    assert driver_tls12("SQL Server Native Client 11.0", None, None)["supported"] is None
    assert driver_tls12("Microsoft Access Driver (*.mdb)", "14.0", None)["supported"] is None
    assert family("ODBC Driver 17 for SQL Server") == "ODBC13+"
