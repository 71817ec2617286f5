"""Which client connects to which SQL Server: declared, observed in the ERRORLOG, else assumed."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing_links import (
    Member,
    PairingError,
    links,
    member,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.facts import errorlog
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import (
    app_server,
    client,
    server,
    sql_server,
)
from ansible_collections.mssql.tls.tests.unit.facts.winhost import login_error_lines

APP = app_server()


def pairs_of(members):
    found, notes = links(members)
    return {(k.client, k.server, k.instance): k.sources for k in found}, notes


def test_17830_lines_are_counted_per_client_address_as_sql_server_wrote_it():
    lines = [
        *login_error_lines(12, 0, 11, client="10.0.0.5"),
        *login_error_lines(12, 0, 11, client="10.0.0.5"),
        *login_error_lines(30001, code="0x68", client="10.0.0.9"),
        *login_error_lines(1, client="<local machine>"),
    ]
    assert errorlog.evidence(lines)["clients"] == [
        {"address": "10.0.0.5", "errors_17830": 2, "errors_17830_10054": 2},
        {"address": "10.0.0.9", "errors_17830": 1, "errors_17830_10054": 0},
        {"address": "<local machine>", "errors_17830": 1, "errors_17830_10054": 1},
    ]


def test_an_errorlog_naming_the_clients_address_links_it_to_that_instance_as_observed():
    found, notes = links([client("app", APP, "10.0.0.5"), server("sql01", sql_server(clients=("10.0.0.5",)))])
    (link,) = found
    assert (link.client, link.server, link.instance, link.sources) == (
        "app",
        "sql01",
        "MSSQLSERVER",
        ("observed",),
    )
    assert link.seen == ({"address": "10.0.0.5", "errors_17830": 1, "errors_17830_10054": 1},)
    assert notes == []


def test_a_declared_server_pairs_every_instance_and_host_slash_instance_only_that_one():
    two = sql_server()
    two["sql"]["instances"].append({**two["sql"]["instances"][0], "name": "REPORTS", "id": "MSSQL15.REPORTS"})
    found, _notes = pairs_of([client("app", APP, connects_to=("sql01",)), server("sql01", two)])
    assert set(found) == {("app", "sql01", "MSSQLSERVER"), ("app", "sql01", "REPORTS")}
    found, _notes = pairs_of([client("app", APP, connects_to=("SQL01\\reports",)), server("sql01", two)])
    assert found == {("app", "sql01", "REPORTS"): ("declared",)}


def test_a_pair_both_declared_and_observed_records_both_sources():
    found, _notes = pairs_of(
        [
            client("app", APP, "10.0.0.5", connects_to=("sql01",)),
            server("sql01", sql_server(clients=("10.0.0.5",))),
        ]
    )
    assert found == {("app", "sql01", "MSSQLSERVER"): ("declared", "observed")}


def test_a_client_with_neither_is_assumed_against_every_other_sql_server():
    found, _notes = pairs_of(
        [
            client("app", APP),
            server("sql01", sql_server()),
            server("sql02", sql_server("sql02")),
            server("web", APP),
        ]
    )
    assert found == {
        ("app", "sql01", "MSSQLSERVER"): ("assumed",),
        ("app", "sql02", "MSSQLSERVER"): ("assumed",),
    }


def test_a_host_that_is_client_and_server_is_not_assumed_against_itself_but_local_lines_pair_it():
    both = sql_server(clients=("<local machine>",))
    found, _notes = pairs_of([client("sql01", both)])
    assert found == {("sql01", "sql01", "MSSQLSERVER"): ("observed",)}
    found, _notes = pairs_of([client("sql01", sql_server())])
    assert found == {}


def test_what_cannot_be_matched_is_a_note_never_a_guess():
    members = [
        client("app", APP, "10.0.0.5", connects_to=("nosuch", "web", "sql01/NOPE")),
        server("web", APP, "10.0.0.6"),
        server("sql01", sql_server(clients=("10.0.0.6", "10.9.9.9"))),
        Member("down", client=True),
    ]
    found, notes = links(members)
    assert found == []
    assert [(n.code, n.host) for n in notes] == [
        ("not_a_sql_server", "app"),
        ("unknown_host", "app"),
        ("unknown_instance", "app"),
        ("no_facts", "down"),
        ("address_not_a_client", "sql01"),
        ("address_not_in_inventory", "sql01"),
    ]


def test_inventory_variables_are_read_and_refused_by_name():
    made = member("app", {"ansible_host": "10.0.0.5", "mssql_tls_connects_to": "sql01"}, APP, True)
    assert (made.address, made.connects_to, made.drivers_in_use) == ("10.0.0.5", ("sql01",), None)
    assert member("app", {}, APP, True).address == "app"
    with pytest.raises(PairingError, match=r"hostvars\[app\]\.mssql_tls_connects_to: expected a list"):
        member("app", {"mssql_tls_connects_to": [1]}, APP, True)
    with pytest.raises(PairingError, match=r"hostvars\[app\]\.mssql_tls_client_drivers"):
        member("app", {"mssql_tls_client_drivers": {"SNAC11": True}}, APP, True)
