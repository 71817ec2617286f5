"""The TLS 1.2 safety gate counts the client hosts that connect to a SQL Server (fleet pairing)."""

from __future__ import annotations

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.assess.pairing import pair_fleet
from ansible_collections.mssql.tls.plugins.plugin_utils.plan import gate
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.protocols import (
    plan_protocol_changes,
    protocol_policy,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.plan.result import blocker_message, warning_message
from ansible_collections.mssql.tls.tests.unit.assess.pairing_hosts import (
    ODBC17,
    app_server,
    client,
    server,
    sql_server,
)

SQL01 = sql_server(clients=("10.0.0.5",))


def peers_of(*members):
    return gate.parse_peers(pair_fleet(list(members))["peers"].get("sql01", []))


def test_disabling_tls10_on_a_server_whose_observed_client_speaks_only_tls10_is_refused_by_name():
    peers = peers_of(client("app", app_server(), "10.0.0.5"), server("sql01", SQL01))
    plan = plan_protocol_changes(SQL01, protocol_policy(), peers)
    refused = [b for b in plan.blockers if b.code == "client_host_without_tls12"]
    assert sorted((b.data["client"], b.data["driver"], b.data["source"]) for b in refused) == [
        ("app", "SQL Server", "observed"),
        ("app", "SQL Server Native Client 11.0", "observed"),
    ]
    assert not any(op.change.target.endswith(r"TLS 1.0\Server\Enabled") for op in plan.ops)
    assert any(op.change.target.endswith(r"TLS 1.0\Client\Enabled") for op in plan.ops)
    text = blocker_message(next(b for b in refused if "Native" in b.data["driver"]), "en")
    assert "app" in text and "11.0.6538" in text


def test_force_disables_it_anyway_and_records_every_forced_client():
    peers = peers_of(client("app", app_server(), "10.0.0.5"), server("sql01", SQL01))
    plan = plan_protocol_changes(SQL01, protocol_policy(force=True), peers)
    assert plan.forced and all(b.forced for b in plan.blockers if b.code == "client_host_without_tls12")
    assert any(op.change.target.endswith(r"TLS 1.0\Server\Enabled") for op in plan.ops)


def test_clients_whose_drivers_all_have_tls12_do_not_block():
    modern = app_server(version=(10, 0, 20348, 2700), odbc=(ODBC17,))
    peers = peers_of(client("app", modern, "10.0.0.5"), server("sql01", SQL01))
    assert peers and all("TLS 1.2" in p.protocols for p in peers)
    plan = plan_protocol_changes(SQL01, protocol_policy(), peers)
    assert not [b for b in plan.blockers if b.code == "client_host_without_tls12"]


def test_the_built_in_driver_of_a_client_follows_builtin_driver_blocks():
    old_windows = app_server(odbc=())
    peers = peers_of(client("app", old_windows, "10.0.0.5"), server("sql01", SQL01))
    plan = plan_protocol_changes(SQL01, protocol_policy(builtin_driver_blocks=False), peers)
    (warning,) = [w for w in plan.warnings if w.code.startswith("builtin_driver_peer")]
    assert "app" in warning_message(warning, "en") and "組み込み" in warning_message(warning, "ja")
    assert not [b for b in plan.blockers if b.code == "client_host_without_tls12"]


@pytest.mark.parametrize(
    ("peers", "error"),
    [
        ("app01", r"peers: expected a list"),
        ([{"host": "app01", "driver": "x"}], r"peers\[0\]\.protocols: expected a list"),
        ([{"host": "", "driver": "x", "protocols": []}], r"peers\[0\]\.host: expected a non-empty string"),
        (
            [{"host": "a", "driver": "x", "protocols": ["TLS 9"]}],
            r"peers\[0\]\.protocols\[0\]: expected one of",
        ),
        (
            [{"host": "a", "driver": "x", "protocols": [], "source": "guess"}],
            r"peers\[0\]\.source: expected one of",
        ),
        ([{"host": "a", "driver": "x", "protocols": [], "colour": 1}], r"peers\[0\]: unknown field"),
    ],
)
def test_peers_that_do_not_describe_client_hosts_are_refused_by_field(peers, error):
    with pytest.raises(gate.PeerError, match=error):
        gate.parse_peers(peers)
