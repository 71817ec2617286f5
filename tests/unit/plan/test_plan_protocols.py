"""The tls12 planner: Schannel protocol keys, .NET and WinHTTP, idempotent, with exact preconditions."""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    plan_protocol_changes,
    protocol_key,
    protocol_policy,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2019,
    Instance,
    agent_results,
    compliant_2022_host,
)
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost

DEFAULT = protocol_policy()


def plan_for(host, policy=DEFAULT):
    raw = RawHost(agent_results(host))
    return raw, plan_protocol_changes(raw.facts(), policy)


def changes(plan):
    return {c["target"]: (c["before"], c["after"]) for c in plan.as_dict()["changes"]}


def key_value(protocol, side, name):
    return f"{protocol_key(protocol, side)}\\{name}"


def test_a_2022_host_without_protocol_keys_gets_both_values_on_both_sides_where_the_default_differs():
    _raw, plan = plan_for(compliant_2022_host())
    found = changes(plan)
    for protocol in ("TLS 1.0", "TLS 1.1"):  # on by default on 2022 (windows-schannel.md 2)
        for side in ("server", "client"):
            assert found[key_value(protocol, side, "Enabled")] == (None, 0)
            assert found[key_value(protocol, side, "DisabledByDefault")] == (None, 1)
    # SSL 2.0 does not exist on 2022, SSL 3.0 is off and TLS 1.2 on by default: nothing to write,
    # and TLS 1.3 is left at its OS default unless asked for
    assert not any(p in target for target in found for p in ("SSL 2.0", "SSL 3.0", "TLS 1.2", "TLS 1.3"))
    assert plan.reboot_required and plan.activations[0] == "reboot"
    assert plan.refusals == ()


def test_a_half_written_key_is_completed_even_where_the_default_already_agrees():
    host = compliant_2022_host(protocols={"SSL 3.0": {"Server": {"Enabled": 0}}})
    _raw, plan = plan_for(host)
    found = changes(plan)
    assert found[key_value("SSL 3.0", "server", "DisabledByDefault")] == (None, 1)
    assert key_value("SSL 3.0", "server", "Enabled") not in found
    assert not any("SSL 3.0\\Client" in target for target in found)


def test_a_2012r2_host_gets_ssl3_disabled_because_its_default_is_on():
    host = compliant_2022_host(version=WS2012R2, instances=[], odbc=[], dlls=[])
    _raw, plan = plan_for(host)
    assert changes(plan)[key_value("SSL 3.0", "server", "Enabled")] == (None, 0)


def test_every_write_expects_exactly_what_the_facts_saw():
    host = compliant_2022_host(protocols={"TLS 1.0": {"Server": {"Enabled": 0xFFFFFFFF}}})
    _raw, plan = plan_for(host)
    ops = {(o["path"], o["name"]): o for o in plan.write_ops()}
    enabled = ops[(protocol_key("TLS 1.0", "server"), "Enabled")]
    assert enabled["expect"] == {"type": "REG_DWORD", "data": -1}  # as the agent reads 0xffffffff back
    assert ops[(protocol_key("TLS 1.0", "server"), "DisabledByDefault")]["expect"] is None


def test_applying_the_plan_then_planning_again_leaves_nothing_to_do():
    raw, plan = plan_for(compliant_2022_host())
    again = plan_protocol_changes(raw.apply_all(plan.write_ops()).facts(), DEFAULT)
    assert again.empty and again.ops == ()


def test_an_enabled_value_written_by_iis_crypto_is_kept_and_only_the_missing_value_is_written():
    host = compliant_2022_host(protocols={"TLS 1.2": {"Server": {"Enabled": 0xFFFFFFFF}}})
    _raw, plan = plan_for(host)
    found = changes(plan)
    assert key_value("TLS 1.2", "server", "Enabled") not in found
    assert found[key_value("TLS 1.2", "server", "DisabledByDefault")] == (None, 0)


def test_tls13_keys_on_an_os_without_tls13_are_removed_with_their_subtree_journaled():
    host = compliant_2022_host(
        version=WS2019, protocols={"TLS 1.3": {"Server": {"Enabled": 1, "DisabledByDefault": 0}}}
    )
    _raw, plan = plan_for(host)
    (removal,) = [p for p in plan.ops if p.target["kind"] == "reg_key"]
    assert removal.op == {
        "op": "reg.remove",
        "path": f"{protocol_key('TLS 1.3', 'server').rsplit(chr(92), 1)[0]}",
        "recurse": True,
        "expect": {"key": True},
    }
    assert removal.before["subkeys"]["Server"]["values"]["Enabled"] == {"type": "REG_DWORD", "data": 1}
    assert not any(o.get("name") and "TLS 1.3" in o["path"] for o in plan.write_ops())


def test_tls13_is_written_on_2022_when_the_policy_asks_for_it():
    _raw, plan = plan_for(compliant_2022_host(), protocol_policy({"TLS 1.3": "disabled"}))
    assert changes(plan)[key_value("TLS 1.3", "client", "DisabledByDefault")] == (None, 1)
    _raw, plan = plan_for(compliant_2022_host(), protocol_policy({"TLS 1.3": "enabled"}))
    assert not any("TLS 1.3" in target for target in changes(plan))  # on by default on 2022


def test_per_side_states_touch_only_that_side():
    policy = protocol_policy({"TLS 1.0": {"server": "disabled", "client": "keep"}})
    _raw, plan = plan_for(compliant_2022_host(), policy)
    found = changes(plan)
    assert key_value("TLS 1.0", "server", "Enabled") in found
    assert key_value("TLS 1.0", "client", "Enabled") not in found


def test_dotnet_values_are_written_for_installed_frameworks_only():
    host = compliant_2022_host(dotnet_strong_crypto={"v4": 0, "v4_wow64": None})
    _raw, plan = plan_for(host)
    dotnet = {t: v for t, v in changes(plan).items() if ".NETFramework" in t}
    assert dotnet == {
        r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319\SchUseStrongCrypto": (0, 1),
        r"HKLM\SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319\SchUseStrongCrypto": (None, 1),
    }
    assert all(p.change.activation == "immediate" for p in plan.ops if ".NETFramework" in p.change.target)


def test_dotnet_and_winhttp_can_be_switched_off():
    policy = protocol_policy(dotnet_strong_crypto=False, winhttp_default_secure_protocols=False)
    host = compliant_2022_host(dotnet_strong_crypto={"v4": 0})
    _raw, plan = plan_for(host, policy)
    assert not any(".NETFramework" in t or "WinHttp" in t for t in changes(plan))


def test_winhttp_gets_tls12_and_tls13_where_the_os_has_tls13():
    _raw, plan_2022 = plan_for(compliant_2022_host())
    assert (
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp\DefaultSecureProtocols"
        not in (changes(plan_2022))
    )  # 0x2800 already
    _raw, plan_2019 = plan_for(
        compliant_2022_host(version=WS2019, product_name="Windows Server 2019 Datacenter")
    )
    winhttp = {t: v for t, v in changes(plan_2019).items() if "WinHttp" in t}
    assert set(winhttp.values()) == {(0x2800, 0x800), (None, 0x800)}


def test_a_sql_build_without_tls12_refuses_the_server_side_and_names_the_build_it_needs():
    host = compliant_2022_host(
        version=WS2016, instances=[Instance(id="MSSQL12.MSSQLSERVER", version="12.0.4416.0")]
    )
    _raw, plan = plan_for(host)
    blockers = [b for b in plan.blockers if b.code == "sql_build_without_tls12"]
    assert [b.data["instance"] for b in blockers] == ["MSSQLSERVER"]
    assert blockers[0].data["version"] == "12.0.4416.0"
    assert blockers[0].data["first_tls12_build"] == "12.0.4439.1"
    assert "12.0.4439.1" in blockers[0].clears_with and not blockers[0].forced
    found = changes(plan)
    assert not any(f"\\{p}\\Server\\" in t for t in found for p in ("TLS 1.0", "TLS 1.1", "SSL 3.0"))
    # the rest goes ahead (here: the WinHTTP value; the client side waits for the MDAC driver)
    assert any("WinHttp" in target for target in found)


def test_force_proceeds_past_the_gate_and_records_it():
    host = compliant_2022_host(
        version=WS2016, instances=[Instance(id="MSSQL12.MSSQLSERVER", version="12.0.4416.0")]
    )
    _raw, plan = plan_for(host, protocol_policy(force=True))
    assert plan.forced and all(b.forced for b in plan.blockers if b.code == "sql_build_without_tls12")
    assert changes(plan)[key_value("TLS 1.0", "server", "Enabled")] == (None, 0)
