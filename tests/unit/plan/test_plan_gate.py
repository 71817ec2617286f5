"""The TLS 1.2 safety gate: one test per blocker, plus force and the named warning."""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.plan import gate
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    DEFAULT_PROTOCOLS,
    protocol_policy,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2022,
    Instance,
    compliant_2022_host,
    facts_of,
)

DESIRED = protocol_policy().protocols


def check(facts, desired=DESIRED, **options):
    return gate.check_protocols(facts, desired, **options)


def codes(blockers):
    return sorted(b.code for b in blockers)


def sql2014_sp1_cu1(**changes):
    return compliant_2022_host(
        version=WS2016, instances=[Instance(id="MSSQL12.MSSQLSERVER", version="12.0.4416.0")], **changes
    )


def test_a_compliant_2022_host_passes_the_gate_untouched():
    states, blockers, warnings = check(facts_of(compliant_2022_host()))
    assert (blockers, warnings) == ([], [])
    assert states["TLS 1.0"] == {"server": "disabled", "client": "disabled"}


def test_sql_build_without_tls12_keeps_the_old_protocols_on_the_server_side_only():
    host = sql2014_sp1_cu1(
        odbc=[("ODBC Driver 18 for SQL Server", "msodbcsql18.dll", "18.3.2.1", 64)], dlls=[]
    )
    states, blockers, _warnings = check(facts_of(host))
    assert codes(blockers) == ["sql_build_without_tls12"]
    assert blockers[0].target == "server:MSSQLSERVER" and not blockers[0].unfixable
    assert {p: states[p]["server"] for p in ("SSL 3.0", "TLS 1.0", "TLS 1.1")} == dict.fromkeys(
        ("SSL 3.0", "TLS 1.0", "TLS 1.1"), "keep"
    )
    assert states["TLS 1.0"]["client"] == "disabled"


def test_unknown_sql_build_blocks_like_a_build_without_tls12():
    host = compliant_2022_host(
        version=WS2016, instances=[Instance(id="MSSQL12.X", name="X", version=None)], dlls=[], odbc=[]
    )
    _states, blockers, _warnings = check(facts_of(host))
    assert codes(blockers) == ["sql_build_unknown"]
    assert "ProductVersion" in blockers[0].clears_with


def test_old_protocols_already_off_and_a_build_without_tls12_is_reported_unfixable():
    host = sql2014_sp1_cu1(
        protocols={
            p: {s: {"Enabled": 0, "DisabledByDefault": 1} for s in ("Server", "Client")}
            for p in ("TLS 1.0", "TLS 1.1")
        },
        odbc=[],
        dlls=[],
    )
    _states, blockers, _warnings = check(facts_of(host))
    (blocker,) = blockers
    assert blocker.code == "sql_build_without_tls12" and blocker.unfixable
    assert "12.0.4439.1" in blocker.clears_with


def test_a_driver_without_tls12_refuses_client_side_disabling():
    host = compliant_2022_host(
        odbc=[("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64)], dlls=[]
    )
    states, blockers, _warnings = check(facts_of(host))
    assert codes(blockers) == ["driver_without_tls12"]
    assert blockers[0].data["driver"] == "SQL Server Native Client 11.0"
    assert "11.0.6538" in blockers[0].clears_with
    assert states["TLS 1.0"] == {"server": "disabled", "client": "keep"}


def test_the_builtin_mdac_driver_blocks_by_default_and_is_a_named_warning_when_allowed():
    host = compliant_2022_host(
        version=WS2016, odbc=[("SQL Server", "SQLSRV32.dll", "10.0.14393.0", 64)], dlls=[]
    )
    facts = facts_of(host)
    states, blockers, warnings = check(facts)
    assert codes(blockers) == ["driver_without_tls12"] and blockers[0].data["family"] == "MDAC"
    states, blockers, warnings = check(facts, builtin_driver_blocks=False)
    assert blockers == [] and [w.code for w in warnings] == ["builtin_driver_without_tls12"]
    assert states["TLS 1.0"]["client"] == "disabled"


def test_server_side_disabling_never_depends_on_client_drivers():
    host = compliant_2022_host(
        odbc=[("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64)], dlls=[]
    )
    states, _blockers, _warnings = check(facts_of(host))
    assert states["TLS 1.0"]["server"] == "disabled"


def test_dotnet_45_without_strong_crypto_blocks_the_client_side_unless_the_plan_sets_it():
    host = compliant_2022_host(odbc=[], dlls=[], dotnet_strong_crypto={"v4": 0})
    facts = facts_of(host)
    facts["dotnet"]["v4_release"] = 379893  # 4.5.2
    _states, blockers, _warnings = check(facts, dotnet_strong_crypto=False)
    assert codes(blockers) == ["dotnet_without_tls12"]
    _states, blockers, _warnings = check(facts, dotnet_strong_crypto=True)
    assert blockers == []


def test_dotnet_40_blocks_the_client_side_whatever_the_switches():
    facts = facts_of(compliant_2022_host(odbc=[], dlls=[]))
    facts["dotnet"]["v4_release"] = None
    facts["dotnet"]["v4_version"] = "4.0.30319"
    assert codes(check(facts)[1]) == []  # no Release value: 4.0 cannot be told from 4.5 (no blocker)
    facts["dotnet"]["v4_release"] = 1
    assert codes(check(facts)[1]) == ["dotnet_without_tls12"]


def test_leaving_a_side_without_any_protocol_is_refused_even_with_force():
    desired = {
        p: {"server": "disabled", "client": "enabled" if p == "TLS 1.2" else "disabled"}
        for p in DEFAULT_PROTOCOLS
    }
    facts = facts_of(compliant_2022_host(instances=[], version=WS2022))
    for force in (False, True):
        states, blockers, _warnings = check(facts, desired, force=force)
        assert "no_protocol_left" in codes(blockers)
        assert not next(b for b in blockers if b.code == "no_protocol_left").forced
        assert states["TLS 1.2"]["server"] == "keep"


def test_disabling_tls12_on_a_sql_server_host_is_refused_unless_forced():
    desired = {p: dict(sides) for p, sides in DESIRED.items()}
    desired["TLS 1.2"] = {"server": "disabled", "client": "enabled"}
    desired["TLS 1.3"] = {"server": "enabled", "client": "enabled"}
    facts = facts_of(compliant_2022_host())
    states, blockers, _warnings = check(facts, desired)
    assert "tls12_required_by_sql" in codes(blockers) and states["TLS 1.2"]["server"] == "keep"
    states, blockers, _warnings = check(facts, desired, force=True)
    assert states["TLS 1.2"]["server"] == "disabled"


def test_a_client_host_that_speaks_only_tls10_blocks_the_server_side():
    peer = gate.Peer(
        host="app01",
        driver="SQL Server Native Client 11.0",
        protocols=frozenset({"TLS 1.0"}),
        source="observed",
    )
    facts = facts_of(compliant_2022_host())
    states, blockers, _warnings = check(facts, peers=[peer])
    assert codes(blockers) == ["client_host_without_tls12"]
    assert blockers[0].data["client"] == "app01" and states["TLS 1.0"]["server"] == "keep"
    states, blockers, _warnings = check(facts, peers=[peer], force=True)
    assert states["TLS 1.0"]["server"] == "disabled" and blockers[0].forced


def test_a_2012r2_host_keeps_its_defaults_when_sql_needs_tls10():
    host = compliant_2022_host(
        version=WS2012R2,
        instances=[Instance(id="MSSQL11.MSSQLSERVER", version="11.0.3000.0")],
        odbc=[],
        dlls=[],
    )
    states, blockers, _warnings = check(facts_of(host))
    assert codes(blockers) == ["sql_build_without_tls12"]
    assert blockers[0].clears_with.startswith("a SQL Server service pack")
    assert states["TLS 1.0"]["server"] == "keep"
