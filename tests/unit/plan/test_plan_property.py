"""Property: apply a plan to the host it was computed from, gather again, plan again: nothing left.

Hosts are drawn at random: OS release, any mix of present/absent/odd protocol values (IIS
Crypto's 0xffffffff included), TLS 1.3 keys on any OS, .NET keys, SQL builds with and without
TLS 1.2, drivers with and without it; policies likewise, forced or not.
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.facts.schannel import PROTOCOLS
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    STATES,
    plan_protocol_changes,
    protocol_policy,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2019,
    WS2022,
    Instance,
    agent_results,
    compliant_2022_host,
)
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost
from hypothesis import given, settings
from hypothesis import strategies as st

DWORDS = st.sampled_from([0, 1, 0xFFFFFFFF, 2])
SIDE_VALUES = st.fixed_dictionaries(
    {}, optional={"Enabled": DWORDS, "DisabledByDefault": st.sampled_from([0, 1])}
)
PROTOCOL_KEYS = st.dictionaries(
    st.sampled_from(PROTOCOLS),
    st.dictionaries(st.sampled_from(["Server", "Client"]), SIDE_VALUES, max_size=2),
    max_size=6,
)
VERSIONS = st.sampled_from([WS2012R2, (10, 0, 14393, 3541), WS2016, WS2019, WS2022])
SQL_BUILDS = st.sampled_from(["16.0.4135.4", "12.0.4416.0", "12.0.6024.0", "11.0.3000.0", None])
DRIVERS = st.lists(
    st.sampled_from(
        [
            ("SQL Server", "SQLSRV32.dll", "10.0.14393.0", 64),
            ("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.2100.60", 64),
            ("SQL Server Native Client 11.0", "sqlncli11.dll", "11.0.7001.0", 32),
            ("ODBC Driver 18 for SQL Server", "msodbcsql18.dll", "18.3.2.1", 64),
        ]
    ),
    max_size=3,
    unique=True,
)
DOTNET = st.dictionaries(
    st.sampled_from(["v4", "v4_wow64", "v2", "v2_wow64"]), st.sampled_from([0, 1, None]), max_size=4
)
STATE = st.sampled_from(STATES)
POLICY = st.fixed_dictionaries(
    {
        "protocols": st.dictionaries(
            st.sampled_from(PROTOCOLS),
            st.one_of(STATE, st.fixed_dictionaries({"server": STATE, "client": STATE})),
        ),
        "force": st.booleans(),
        "builtin_driver_blocks": st.booleans(),
        "dotnet_strong_crypto": st.booleans(),
        "dotnet_system_default_tls_versions": st.booleans(),
        "winhttp_default_secure_protocols": st.booleans(),
        "remove_unsupported_tls13": st.booleans(),
    }
)


@st.composite
def hosts(draw):
    build = draw(SQL_BUILDS)
    return compliant_2022_host(
        version=draw(VERSIONS),
        protocols=draw(PROTOCOL_KEYS),
        instances=[] if draw(st.booleans()) else [Instance(id="MSSQL1X.MSSQLSERVER", version=build)],
        odbc=draw(DRIVERS),
        dlls=[],
        dotnet_strong_crypto=draw(DOTNET),
    )


@settings(max_examples=300, deadline=None)
@given(host=hosts(), args=POLICY)
def test_planning_again_after_applying_the_plan_gives_an_empty_plan(host, args):
    policy = protocol_policy(**args)
    raw = RawHost(agent_results(host))
    first = plan_protocol_changes(raw.facts(), policy)
    raw.apply_all(first.write_ops())  # also checks every expect, as the agent would
    second = plan_protocol_changes(raw.facts(), policy)
    assert second.ops == (), [p.change for p in second.ops]
