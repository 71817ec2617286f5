"""Properties of the certificate planners over random hosts and policies.

- apply a plan to the host it was computed from, gather again, plan again: nothing left (DESIGN.md);
- the overlay (facts after a plan, no gather) reads the host exactly like a fresh gather does;
- rollback from the journal restores property 9, the binding values and the key DACLs exactly.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

from ansible_collections.mssql.tls.plugins.plugin_utils.journal.record import journal_for, parse_record
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificates import (
    plan_certificate_purpose,
    purpose_policy,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.overlay import facts_after
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.sql_binding import (
    binding_policy,
    plan_sql_encryption,
)
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import CLIENT_AUTH, SERVER_AUTH, eku_property
from ansible_collections.mssql.tls.tests.unit.facts.winhost import agent_results
from ansible_collections.mssql.tls.tests.unit.plan.certhost import auto, bound, cert, host
from ansible_collections.mssql.tls.tests.unit.plan.rawhost import RawHost
from ansible_collections.mssql.tls.tests.unit.plan.test_plan_rollback import rollback
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC)
RUN = "20261207T190000Z-ab12cd"
CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
HASHES = st.sampled_from(["md5", "sha1", "sha224", "sha256", "sha512"])
EKUS = st.sampled_from(
    [None, (SERVER_AUTH,), (SERVER_AUTH, CLIENT_AUTH), (CLIENT_AUTH,), (SERVER_AUTH, CODE_SIGNING)]
)
PROPS = st.sampled_from(
    [None, (), (SERVER_AUTH,), (SERVER_AUTH, CLIENT_AUTH), (CLIENT_AUTH,), (CODE_SIGNING,)]
)
ACLS = st.sampled_from(
    [
        "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)",
        "D:AI(A;;FA;;;SY)(A;ID;FA;;;BA)",
        "D:P(A;;GR;;;S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003)(A;;GA;;;SY)",
        None,  # unreadable
    ]
)


@st.composite
def certificates(draw):
    count = draw(st.integers(1, 3))
    out = []
    for serial in range(count):
        acl = draw(ACLS)
        prop = draw(PROPS)
        out.append(
            cert(
                draw(HASHES),
                eku=draw(EKUS),
                serial=1000 + serial,
                prop9=None if prop is None else eku_property(*prop),
                has_private_key=draw(st.booleans()) or serial == 0,
                key_acl=acl or "D:",
                key_acl_error=None if acl else {"kind": "access_denied", "message": "denied"},
            )
        )
    return out


@st.composite
def hosts(draw):
    certs = draw(certificates())
    thumbprints = [tp for tp, _entry in certs]
    instances = []
    for name in draw(st.sampled_from([["MSSQLSERVER"], ["MSSQLSERVER", "HR"]])):
        choice = draw(st.sampled_from([None, *thumbprints]))
        loaded = draw(st.sampled_from([None, *thumbprints]))
        instances.append(bound(choice, name=name) if choice else auto(loaded, name=name))
    uses = {}
    if draw(st.booleans()):
        uses["rdp_certificate"] = draw(st.sampled_from(thumbprints)).upper()
    if draw(st.booleans()):
        uses["winrm_https_certificate"] = draw(st.sampled_from(thumbprints)).upper()
    return host([entry for _tp, entry in certs], instances, **uses), thumbprints


PURPOSE = st.fixed_dictionaries(
    {
        "hashes": st.lists(HASHES, max_size=3, unique=True),
        "keep_if_unrestricted": st.sampled_from([["client_auth"], [], ["client_auth", "code_signing"]]),
        "force": st.booleans(),
    }
)


@st.composite
def binding_policies(draw, thumbprints):
    return binding_policy(
        instances=draw(st.sampled_from([None, ["MSSQLSERVER"], ["HR", "nope"]])),
        certificate=draw(st.sampled_from([None, "", *thumbprints])),
        hashes=draw(st.sampled_from([None, ["md5", "sha224", "sha512"]])),
        force_encryption=draw(st.sampled_from([None, True, False])),
        force_strict=draw(st.sampled_from([None, True, False])),
        grant_key_access=draw(st.booleans()),
        force=draw(st.booleans()),
    )


def remediate(raw: RawHost, plan, module):
    """Apply a plan as the agent would and return the journal record the host keeps."""
    journal = journal_for(plan, run_id=RUN, module=module, now=NOW)
    lines = [journal["line"]]
    for index, op in enumerate(plan.write_ops()):
        raw.apply(op)
        lines.append(json.dumps({"applied": index}))
    lines.append(json.dumps({"done": True, "stopped_at": None}))
    return parse_record({"id": journal["id"], "lines": lines})


SEEN_BY_OVERLAY = ("bound", "auto_pick_candidates", "bound_in_store")
CERT_FIELDS = (
    "prop9",
    "eku_property",
    "effective_purposes",
    "server_auth",
    "sql_auto_pick_candidate",
    "key_acl",
)


def overlay_view(facts):
    return (
        [
            (
                i["id"],
                i["force_encryption"],
                i["force_strict"],
                *(i["certificate"][k] for k in SEEN_BY_OVERLAY),
            )
            for i in facts["sql"]["instances"]
        ],
        [tuple(c.get(k) for k in CERT_FIELDS) for c in facts["certificates"]],
        facts["registry"],
    )


@settings(max_examples=150, deadline=None)
@given(drawn=hosts(), args=PURPOSE)
def test_certificate_purpose_leaves_nothing_to_do_and_the_overlay_reads_like_a_gather(drawn, args):
    h, _thumbprints = drawn
    raw = RawHost(agent_results(h))
    policy = purpose_policy(**args)
    facts = raw.facts()
    first = plan_certificate_purpose(facts, policy)
    raw.apply_all(first.write_ops())  # checks every expect, as the agent would
    gathered = raw.facts()
    assert overlay_view(facts_after(facts, first.ops)) == overlay_view(gathered)
    assert plan_certificate_purpose(gathered, policy).ops == ()


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_sql_encryption_leaves_nothing_to_do_and_the_overlay_reads_like_a_gather(data):
    h, thumbprints = data.draw(hosts())
    policy = data.draw(binding_policies(thumbprints))
    raw = RawHost(agent_results(h))
    facts = raw.facts()
    first = plan_sql_encryption(facts, policy)
    raw.apply_all(first.write_ops())
    gathered = raw.facts()
    assert overlay_view(facts_after(facts, first.ops)) == overlay_view(gathered)
    assert plan_sql_encryption(gathered, policy).ops == ()


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_role_sequence_then_rollback_returns_the_host_exactly(data):
    """weak_certificates: sql_encryption, then certificate_purpose on the facts it hands on; then rollback."""
    h, thumbprints = data.draw(hosts())
    raw = RawHost(agent_results(h))
    original = copy.deepcopy(raw.results)
    facts = raw.facts()
    binding = plan_sql_encryption(facts, data.draw(binding_policies(thumbprints)))
    purpose = plan_certificate_purpose(facts_after(facts, binding.ops), purpose_policy(**data.draw(PURPOSE)))
    records = [remediate(raw, binding, "sql_encryption"), remediate(raw, purpose, "certificate_purpose")]
    rollback(raw, records)
    assert raw.results == original
    assert rollback(raw, records).ops == ()  # a second rollback finds nothing left
