import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.sqlbuild import (
    normalise_setup_version,
    parse_version,
    tls12_verdict,
)


def verdict(text):
    return tls12_verdict(parse_version(text))


@pytest.mark.parametrize(
    ("build", "supported", "branch"),
    [
        # SQL Server 2014: GDR and CU builds interleave (sqlserver-tls.md 7)
        ("12.0.4416.0", False, "2014 SP1 CU"),  # SP1 CU1: above the GDR threshold 4219, below the CU one
        ("12.0.4439.1", True, "2014 SP1 CU"),  # SP1 CU5
        ("12.0.4219.0", True, "2014 SP1 GDR"),
        ("12.0.4213.0", False, "2014 SP1 GDR"),
        ("12.0.2342.0", False, "2014 RTM CU"),  # RTM CU1
        ("12.0.2564.0", True, "2014 RTM CU"),  # RTM CU12
        ("12.0.2271.0", True, "2014 RTM GDR"),
        ("12.0.2269.0", False, "2014 RTM GDR"),
        ("12.0.5000.0", True, "2014 SP2 and later"),
        ("12.0.6024.0", True, "2014 SP2 and later"),
        # SQL Server 2012
        ("11.0.6216.27", True, "2012 SP3 GDR"),
        ("11.0.6216.26", False, "2012 SP3 GDR"),  # the revision counts
        ("11.0.6020.0", False, "2012 SP3 GDR"),
        ("11.0.6518.0", True, "2012 SP3 CU"),
        ("11.0.6507.0", False, "2012 SP3 CU"),
        ("11.0.5352.0", True, "2012 SP2 GDR"),
        ("11.0.5343.0", False, "2012 SP2 GDR"),
        ("11.0.5644.2", True, "2012 SP2 CU"),
        ("11.0.5644.1", False, "2012 SP2 CU"),
        ("11.0.3000.0", False, "2012 RTM/SP1"),
        ("11.0.7001.0", True, "2012 SP4 and later"),
        ("11.0.7507.2", True, "2012 SP4 and later"),
        # SQL Server 2008 R2 / 2008 (x86/x64)
        ("10.50.6542.0", True, "2008 R2 SP3"),
        ("10.50.6537.0", False, "2008 R2 SP3"),  # the KB3146034 build: upgrade
        ("10.50.4000.0", False, "2008 R2 before SP3"),
        ("10.0.6547.0", True, "2008 SP4"),
        ("10.0.6543.0", False, "2008 SP4"),
    ],
)
def test_kb3135244_is_applied_per_servicing_branch(build, supported, branch):
    result = verdict(build)
    assert (result["supported"], result["branch"]) == (supported, branch)


def test_2016_and_later_support_tls12_from_rtm():
    for build in ("13.0.1601.5", "14.0.1000.169", "15.0.2000.5", "16.0.1000.6", "17.0.1000.7"):
        assert verdict(build)["supported"] is True


def test_sql_2005_has_no_tls12_and_unknown_builds_get_no_verdict():
    assert verdict("9.0.5000.0") == {**verdict("9.0.5000.0"), "supported": False, "reason": "before_sql_2008"}
    assert tls12_verdict(None)["supported"] is None
    assert verdict("12.0.3000.0")["reason"] == "unknown_branch"


def test_setup_patch_level_minor_is_rounded_down_like_dbatools():
    assert normalise_setup_version("12.1.4100.1") == (12, 0, 4100, 1)
    assert normalise_setup_version("10.53.6000.34") == (10, 50, 6000, 34)
    assert normalise_setup_version("11.3.6020.0") == (11, 0, 6020, 0)
    assert normalise_setup_version("") is None
    assert parse_version("2014.0120.4416.00") == (2014, 120, 4416, 0)
