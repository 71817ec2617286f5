"""Property tests: garbled agent results give facts or a ValueError that names the field.

The gather batch's results come from a host: a broken agent, a hostile administrator or a
plain bug can put any JSON anywhere. Realistic results of several hosts (winhost.py) are
mutated: a value anywhere replaced by another JSON type, a key dropped, a list emptied, a
string made hostile or 10,000 characters long, an entry turned into a failed result. The facts
builder must then return facts (the schema's top-level sections all present) or raise
ValueError naming what it could not read; never TypeError, KeyError, AttributeError or any
other exception, which Ansible would show as a traceback.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import re
from typing import Any

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.build import build_facts
from ansible_collections.mssql.tls.plugins.plugin_utils.facts.gather import GATHER_KEYS
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import cert_entry, make_cert
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    NOW,
    WS2012R2,
    WS2016,
    Instance,
    agent_results,
    compliant_2022_host,
    login_error_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    deadline=datetime.timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = [
    "\"; $(New-Item HKLM:\\SOFTWARE\\Pwned) `whoami` '",
    "{{ lookup('pipe', 'touch /tmp/pwned') }}",
    "<script>alert(1)</script>\r\n\x00\u202e",
    "x" * 10_000,
    "9" * 5000,
]


def _hosts() -> list[list[dict[str, Any]]]:
    weak = make_cert("sql1.lab.local", sans=("sql1.lab.local",), hash_name="sha512")
    named = Instance(
        name="REPORTS",
        id="MSSQL12.REPORTS",
        version="12.0.4416.0",
        errorlog=login_error_lines(15041, 14987, 0) + login_error_lines(5003, 0, 5003),
    )
    return [
        agent_results(compliant_2022_host()),
        agent_results(
            compliant_2022_host(
                version=WS2016,
                local_suites=None,
                instances=[*compliant_2022_host().instances, named],
                certificates=[*compliant_2022_host().certificates, cert_entry(weak)],
                events={36874: 3},
                cluster_node=True,
            )
        ),
        agent_results(compliant_2022_host(version=WS2012R2, local_suites=None, instances=[named])),
    ]


HOSTS = _hosts()

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)


def _list_index(step: object) -> bool:
    """A path step that is a list position past the first (bools are ints in Python)."""
    return isinstance(step, int) and not isinstance(step, bool) and step > 0


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indexes) to a value inside node."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _parent(root: Any, path: tuple) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


@st.composite
def garbled_results(draw) -> list[dict[str, Any]]:
    results = copy.deepcopy(draw(st.sampled_from(HOSTS)))
    # Uniform choices: hypothesis's own choice of an index favours the first ones.
    pick = draw(st.randoms(use_true_random=False))
    for _mutation in range(draw(st.integers(1, 6))):
        paths = [p for p in _paths(results) if p]
        if not paths:
            break
        path = pick.choice(paths)
        parent = _parent(results, path)
        kind = draw(st.sampled_from(["replace", "replace", "drop", "empty", "hostile", "fail", "der"]))
        if kind == "replace":
            parent[path[-1]] = draw(json_value)
        elif kind == "drop":
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        elif kind == "empty":
            value = parent[path[-1]]
            parent[path[-1]] = type(value)() if isinstance(value, list | dict | str) else None
        elif kind == "hostile":
            parent[path[-1]] = draw(st.sampled_from(HOSTILE))
        elif kind == "fail":
            results[path[0]] = {"ok": False, "error": draw(json_value)}
        else:
            _garble_certificate(results, draw(st.binary(max_size=8)), pick)
    return results


def _garble_certificate(results: list[Any], noise: bytes, pick) -> None:
    """One certificate's DER truncated, overwritten or spliced (the DER reader's own fuzz)."""
    entries = results[GATHER_KEYS.index("certificates")].get("data")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return
    entry = pick.choice([e for e in entries if isinstance(e, dict)] or [{}])
    try:
        der = bytearray(base64.b64decode(entry.get("der") or ""))
    except (TypeError, ValueError):
        return
    at = pick.randrange(len(der) + 1)
    der[at : at + pick.choice([0, 1, len(noise), len(der)])] = noise
    entry["der"] = base64.b64encode(bytes(der)).decode()


FIELD_MESSAGE = re.compile(r"^[A-Za-z_][\w.\[\]'\"-]*: \S")


def _check(results: Any) -> None:
    try:
        facts = build_facts(results, now=NOW)
    except ValueError as error:
        assert FIELD_MESSAGE.match(str(error)), f"ValueError without a field name: {error}"
        return
    assert facts["schema_version"] == 1
    json.dumps(facts)  # plain data only, as Ansible needs it


@FUZZ
@given(garbled_results())
def test_garbled_results_give_facts_or_a_value_error_naming_the_field(results):
    _check(results)


@settings(FUZZ, max_examples=100)
@given(st.lists(st.one_of(json_value, st.fixed_dictionaries({"ok": st.booleans(), "data": json_value}))))
def test_random_result_lists(results):
    _check(results)


@pytest.mark.parametrize("results", [None, {}, "results", [], [None] * len(GATHER_KEYS), {"results": 3}])
def test_a_batch_that_is_not_a_list_of_results_is_refused_by_name(results):
    with pytest.raises(ValueError, match=r"^batch_results: "):
        build_facts(results, now=NOW)


def test_every_op_failing_still_gives_facts_with_every_gather_error():
    failed = [{"ok": False, "error": {"kind": "access_denied", "message": "denied"}}] * len(GATHER_KEYS)
    facts = build_facts(failed, now=NOW)
    assert {e["key"] for e in facts["gather_errors"]} == set(GATHER_KEYS)
    assert facts["sql"]["instances"] == [] and facts["certificates"] == []


SINGLE_VALUES = [None, 7, "\u00b2", {"a": 1}, "9" * 5000 + ".0.0.0"]


def test_every_single_field_replaced_by_another_type_gives_facts_or_a_named_error():
    # Deterministic: every path of the richest host, each replaced in turn by each value. Inside
    # a list only the first entry is garbled (the others are read by the same code).
    results = copy.deepcopy(HOSTS[1])
    pristine = copy.deepcopy(results)
    paths = [p for p in _paths(results) if p and not any(_list_index(s) for s in p[1:])]
    for path in paths:
        parent = _parent(results, path)
        original = parent[path[-1]]
        for value in SINGLE_VALUES:
            parent[path[-1]] = value
            try:
                _check(results)
            except AssertionError as error:
                raise AssertionError(f"{path} = {value!r:.40}: {error}") from None
        parent[path[-1]] = original
    assert results == pristine  # the builder does not change its input


def test_data_of_another_shape_is_a_failed_read_named_by_its_field():
    results = copy.deepcopy(HOSTS[0])
    binaries = results[GATHER_KEYS.index("sql.binaries")]["data"]
    binaries[0]["product_version"] = 16
    facts = build_facts(results, now=NOW)
    (error,) = [e for e in facts["gather_errors"] if e["key"] == "sql.binaries"]
    assert error == {
        "key": "sql.binaries",
        "kind": "malformed",
        "message": "sql.binaries[0].product_version: expected a string or null, got int",
    }
    assert [i["id"] for i in facts["sql"]["instances"]] == ["MSSQL16.MSSQLSERVER"]  # the rest is read
