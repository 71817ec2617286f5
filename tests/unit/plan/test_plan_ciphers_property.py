"""Property: apply a cipher_suites plan to the host it was computed from, gather again, plan again:
nothing left. And whatever the plan wrote never empties the list or leaves a certificate without
a suite it could serve before.

Hosts are drawn at random: OS release, a Local list (absent, empty, any subset and order of the OS
defaults with DHE, 3DES, NULL), a Policy value (absent, REG_SZ with or without spaces, REG_MULTI_SZ,
empty), Schannel key-exchange switches, SQL Server with an RSA, ECDSA or self-generated certificate
or no SQL Server at all; policies likewise (patterns, order, the three policy_owned settings, repair
on or off, forced or not).
"""

from __future__ import annotations

from ansible_collections.mssql.tls.plugins.plugin_utils.facts.suite_defaults import default_suites
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.ciphers import (
    POLICY_OWNED,
    cipher_policy,
    demands,
    matches_pattern,
    plan_cipher_suite_changes,
    served,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    WS2012R2,
    WS2016,
    WS2019,
    WS2022,
    agent_results,
    dword,
    key,
)
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost
from ansible_collections.mssql.tls.tests.unit.plan.test_plan_ciphers import sql_host
from hypothesis import given, settings
from hypothesis import strategies as st

VERSIONS = [WS2012R2, (10, 0, 14393, 3541), WS2016, WS2019, WS2022]
PATTERNS = ["TLS_DHE_*", "*_3DES_*", "TLS_RSA_*", "TLS_ECDHE_ECDSA_*", "*_CBC_*", "*NULL*", "*"]
SWITCHES = {"ECDH": "ECDH", "PKCS": "PKCS", "Diffie-Hellman": "Diffie-Hellman"}


@st.composite
def hosts(draw):
    version = draw(st.sampled_from(VERSIONS))
    pool = list(default_suites(version)[1])
    local = draw(st.one_of(st.none(), st.lists(st.sampled_from(pool), unique=True, max_size=24)))
    policy_kind = draw(st.sampled_from(["none", "none", "sz", "sz", "sz_spaces", "multi_sz", "empty"]))
    policy_list = draw(st.lists(st.sampled_from(pool), unique=True, min_size=1, max_size=16))
    changes = {"version": version, "local_suites": local, "cmdlet": version >= (10,)}
    if policy_kind in ("sz", "sz_spaces"):
        changes["policy_suites"] = (", " if policy_kind == "sz_spaces" else ",").join(policy_list)
    elif policy_kind == "multi_sz":
        changes.update(policy_suites=policy_list, policy_type="REG_MULTI_SZ")
    elif policy_kind == "empty":
        changes["policy_suites"] = ""
    off = draw(st.sets(st.sampled_from(sorted(SWITCHES)), max_size=2))
    if off:
        changes["schannel_subkeys"] = {
            "KeyExchangeAlgorithms": key({}, {name: key({"Enabled": dword(0)}) for name in off})
        }
    cert = draw(st.sampled_from(["rsa", "ec", "self", "none"]))
    if cert == "none":
        changes.update(instances=[], certificates=[])
    return sql_host("rsa" if cert == "none" else cert, **changes), pool


@st.composite
def policies(draw, pool):
    remove = draw(
        st.one_of(st.just(["TLS_DHE_*"]), st.lists(st.sampled_from(PATTERNS), unique=True, max_size=3))
    )
    allowed = [n for n in pool if not any(matches_pattern(n, p) for p in remove)]
    order = draw(st.lists(st.sampled_from(allowed), unique=True, max_size=3)) if allowed else []
    return cipher_policy(
        remove=remove,
        order=order,
        policy_owned=draw(st.sampled_from(POLICY_OWNED)),
        restore_for_certificates=draw(st.booleans()),
        force=draw(st.booleans()),
    )


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_planning_again_after_applying_the_plan_gives_an_empty_plan(data):
    host, pool = data.draw(hosts())
    policy = data.draw(policies(pool))
    raw = RawHost(agent_results(host))
    before = raw.facts()
    first = plan_cipher_suite_changes(before, policy)
    raw.apply_all(first.write_ops())  # also checks every expect, as the agent would
    facts = raw.facts()
    second = plan_cipher_suite_changes(facts, policy)
    assert second.ops == (), [p.change for p in second.ops]
    if first.empty:
        return
    suites = facts["cipher_suites"]
    assert suites["effective"], "the list in force was emptied"
    for demand in demands(facts):
        if served(before["cipher_suites"]["effective"], demand):
            assert served(suites["effective"], demand), demand
    if "TLS_DHE_*" in policy.remove:
        assert suites["dhe"] == []
