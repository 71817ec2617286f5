"""Which certificate SQL Server loads at its next start (reference/sqlserver-tls.md 3), and key DACLs as SDDL
(docs/reference-windows-bindings.md 5)."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.plan import key_acl
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.certificate_choice import (
    next_start_certificate,
    restart_changes_certificate,
)
from ansible_collections.mssql.tls.tests.unit.facts.certmaker import CLIENT_AUTH
from ansible_collections.mssql.tls.tests.unit.facts.winhost import SELF_GENERATED_LINE, Instance, facts_of
from ansible_collections.mssql.tls.tests.unit.plan.certhost import SID_MSSQLSERVER, auto, bound, cert, host


def next_start(h):
    facts = facts_of(h)
    (instance,) = facts["sql"]["instances"]
    return next_start_certificate(facts, instance), restart_changes_certificate(facts, instance)


def test_a_bound_certificate_is_what_the_next_start_loads():
    tp, entry = cert("sha512")
    nxt, restart = next_start(host([entry], [bound(tp)]))
    assert (nxt.kind, nxt.thumbprint, nxt.weak, nxt.hashes) == ("bound", tp, True, ("sha512",))
    assert restart is False  # it loaded that one last time too


@pytest.mark.parametrize(
    ("entry_args", "reason"), [({"has_private_key": False}, "no_private_key"), (None, "missing_from_store")]
)
def test_a_bound_certificate_that_cannot_load_fails_the_start(entry_args, reason):
    tp, entry = cert(**(entry_args or {}))
    nxt, restart = next_start(host([entry] if entry_args else [], [bound(tp)]))
    assert (nxt.kind, nxt.reason) == ("start_fails", reason) and restart is True


def test_nothing_bound_one_candidate_is_picked_several_are_one_of():
    weak_tp, weak = cert("sha512", serial=1)
    good_tp, good = cert("sha256", serial=2)
    nxt, _warnings = next_start(host([weak], [auto(weak_tp)]))
    assert (nxt.kind, nxt.thumbprint, nxt.weak) == ("auto_pick", weak_tp, True)
    nxt, restart = next_start(host([weak, good], [auto(good_tp)]))
    assert (nxt.kind, set(nxt.candidates), nxt.weak) == ("auto_pick_one_of", {weak_tp, good_tp}, True)
    assert restart is False  # what it loaded is still among them


def test_no_candidate_means_self_generated_and_a_restart_changes_a_loaded_weak_one():
    tp, entry = cert("sha512", eku=(CLIENT_AUTH,))
    nxt, restart = next_start(host([entry], [auto(tp)]))
    assert (nxt.kind, nxt.weak) == ("self_generated", False) and restart is True
    nxt, restart = next_start(host([entry], [Instance(errorlog=[SELF_GENERATED_LINE])]))
    assert nxt.kind == "self_generated" and restart is False
    assert next_start(host([entry], [auto(None)]))[1] is False  # ERRORLOG silent: nothing known


SID = SID_MSSQLSERVER


@pytest.mark.parametrize(
    ("sddl", "granted"),
    [
        ("D:PAI(A;;FA;;;SY)(A;;FA;;;BA)", False),
        (f"D:PAI(A;;GR;;;{SID})", True),
        (f"D:PAI(A;;0x80000000;;;{SID.lower()})", True),
        (f"D:PAI(A;;0x20089;;;{SID})", True),  # FileSystemRights.Read (dbatools)
        (f"D:PAI(A;;0x80120089;;;{SID})", True),  # the CertEnroll mask
        (f"D:PAI(A;;FA;;;{SID})", True),
        (f"D:PAI(A;;0x20008;;;{SID})", False),  # part of Read only
        (f"D:PAI(A;OICIIO;GR;;;{SID})", False),  # inherit-only: not for the key itself
        (f"D:PAI(D;;GR;;;{SID})", False),
    ],
)
def test_read_access_is_recognised_in_every_form(sddl, granted):
    assert key_acl.grants_read(sddl, SID) is granted


def test_the_grant_goes_before_inherited_entries_and_is_idempotent():
    sddl = "D:AI(A;;FA;;;SY)(A;ID;FA;;;BA)"
    granted = key_acl.grant_read(sddl, SID)
    assert granted == f"D:AI(A;;FA;;;SY)(A;;GR;;;{SID})(A;ID;FA;;;BA)"
    assert key_acl.grant_read(granted, SID) == granted
    assert key_acl.grant_read("D:", SID) == f"D:(A;;GR;;;{SID})"
    assert key_acl.denies_read(f"D:(D;;GA;;;{SID})", SID)


def test_sddl_that_is_not_a_dacl_is_refused():
    with pytest.raises(key_acl.SddlError):
        key_acl.parse_dacl("O:BAG:SY")
    with pytest.raises(key_acl.SddlError, match="unknown access right"):
        key_acl.parse_dacl("D:(A;;ZZ;;;SY)")
