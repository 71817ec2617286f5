"""Which keys a registry write creates: what the plan journals before the write runs.

Rollback removes exactly these keys when it undoes the write, even when the write's progress line
was lost (tests/integration/test_fault_matrix.py cuts the journal there), so they must be right
before anything runs: below the read root from the nodes, above an absent root from the agent's
``existing_depth``.
"""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.registry import RegistryView, UnknownState

ROOT = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\WinHttp"
ABSENT = {"exists": False, "values": {}, "subkeys": {}}


def test_an_absent_root_whose_parents_exist_creates_only_the_root() -> None:
    view = RegistryView({ROOT: {**ABSENT, "existing_depth": 5}})
    assert view.missing_keys(ROOT) == (ROOT,)


def test_an_absent_root_creates_every_key_below_the_existing_depth() -> None:
    view = RegistryView({ROOT: {**ABSENT, "existing_depth": 4}})
    assert view.missing_keys(ROOT + r"\Sub") == (
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings",
        ROOT,
        ROOT + r"\Sub",
    )
    assert RegistryView({ROOT: {**ABSENT, "existing_depth": 0}}).missing_keys(ROOT)[0] == r"HKLM\SOFTWARE"


def test_without_existing_depth_the_keys_above_the_root_are_taken_to_exist() -> None:
    assert RegistryView({ROOT: ABSENT}).missing_keys(ROOT) == (ROOT,)


def test_below_an_existing_root_the_nodes_say_which_keys_are_missing() -> None:
    view = RegistryView(
        {ROOT: {"exists": True, "values": {}, "subkeys": {"A": {"values": {}, "subkeys": {}}}}}
    )
    assert view.missing_keys(ROOT + r"\A") == ()
    assert view.missing_keys(ROOT + r"\A\B\C") == (ROOT + r"\A\B", ROOT + r"\A\B\C")


@pytest.mark.parametrize("bad", [True, -1, 6, "4", None])
def test_an_existing_depth_that_cannot_be_right_is_ignored(bad) -> None:
    assert RegistryView({ROOT: {**ABSENT, "existing_depth": bad}}).missing_keys(ROOT) == (ROOT,)


def test_a_path_no_read_covers_is_unknown() -> None:
    with pytest.raises(UnknownState):
        RegistryView({ROOT: ABSENT}).missing_keys(r"HKLM\SOFTWARE\Other")
