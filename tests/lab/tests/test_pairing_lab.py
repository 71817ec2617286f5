"""Fleet pairing in the lab: client hosts, groups and host variables in the inventory, and
ERRORLOG lines that name another lab host's address ({host:NAME})."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from labtest import NOW, PROFILES, base_profile, load_fleet, make_host
from winlab import inventory, sqlserver
from winlab.profiles import ProfileError, outside_address, parse_profile
from winlab.server import HostAddress

PAIRING = ["app2012r2", "app2016old", "sql2019dhe", "sql2022gcm"]
ADDRESSES = {name: f"127.9.9.{i + 1}" for i, name in enumerate(PAIRING)}
_CLIENT = re.compile(r"\[CLIENT: ([^\]]+)\]")


def errorlog_clients(host, instance: str = "MSSQLSERVER") -> list[str]:
    inst = next(i for i in host.state.sql_instances if i.name == instance)
    text = host.state.file(inst.errorlog).text or ""
    return _CLIENT.findall(text)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    paths = [PROFILES / f"{name}.yml" for name in PAIRING]
    return load_fleet(paths, tmp_path_factory.mktemp("pairing"), now=NOW, addresses=ADDRESSES)


def test_an_application_server_is_a_host_without_sql_server(fleet) -> None:
    app = fleet["app2012r2"]
    assert app.sql_endpoints() == [] and app.state.sql_instances == []
    assert app.groups == ["mssql_tls_clients"]
    assert app.inventory_vars == {"mssql_tls_connects_to": ["sql2019dhe", "sql2022gcm/MSSQLSERVER"]}
    assert {"server": "sql2019dhe", "instance": "MSSQLSERVER", "driver": "ODBC13+", "scenario": 5} in (
        app.expect_pairs
    )


def test_the_errorlog_names_the_clients_by_their_lab_address(fleet) -> None:
    assert set(errorlog_clients(fleet["sql2019dhe"])) == {ADDRESSES["app2012r2"]}
    assert set(errorlog_clients(fleet["sql2022gcm"])) == {ADDRESSES["app2012r2"], ADDRESSES["app2016old"]}


def test_a_host_is_rebuilt_when_its_clients_move_and_kept_when_they_do_not(tmp_path: Path) -> None:
    paths = [PROFILES / "sql2019dhe.yml"]
    host = load_fleet(paths, tmp_path, now=NOW)["sql2019dhe"]
    # app2012r2 is not in this fleet: the line names an address of no lab host
    assert errorlog_clients(host) == [outside_address("app2012r2")] * 6
    host.resolve_addresses({"app2012r2": "127.3.3.3"})
    assert set(errorlog_clients(host)) == {"127.3.3.3"}
    marker = host.state.boot.boot_utc
    again = load_fleet(paths, tmp_path, now=NOW)["sql2019dhe"]  # a restart of the same lab
    again.resolve_addresses({"app2012r2": "127.3.3.3"})
    assert again.state.boot.boot_utc == marker and set(errorlog_clients(again)) == {"127.3.3.3"}


def test_outside_addresses_are_test_net_1_and_stable() -> None:
    assert outside_address("x") == outside_address("x")
    assert outside_address("x").startswith("192.0.2.")


def test_a_malformed_placeholder_names_the_line(tmp_path: Path, keys) -> None:
    doc = base_profile()
    doc["sql_instances"][0]["errorlog_extra"] = [{"lines": ["[CLIENT: {host:}]"]}]
    with pytest.raises(ProfileError, match=r"errorlog_extra\[0\]\.lines\[0\]: expected \{host:NAME\}"):
        parse_profile(doc, "inline")
    doc["sql_instances"][0]["errorlog_extra"] = [{"lines": ["[CLIENT: {host:app01}]"]}]
    host = make_host(doc, tmp_path, keys)
    assert sqlserver.loaded_certificate(host.state, "MSSQLSERVER") is not None


def test_the_inventory_puts_clients_in_their_group_with_their_variables(fleet) -> None:
    hosts = tuple(
        inventory.describe_host(runtime, HostAddress(name, ADDRESSES[name], 5985, "http"))
        for name, runtime in fleet.items()
    )
    manifest = inventory.Manifest(pid=1, username="Administrator", hosts=hosts)
    again = inventory.manifest_from_json(inventory.manifest_json(manifest))
    assert again == manifest
    doc = inventory.inventory_document(again, "secret")["all"]["children"]
    assert sorted(doc["mssql_tls_clients"]["hosts"]) == ["app2012r2", "app2016old", "sql2019dhe"]
    app = doc["windows"]["hosts"]["app2016old"]
    assert app["mssql_tls_connects_to"] == ["sql2019dhe"] and app["mssql_tls_instances"] == []
    assert app["winlab_expect_pairs"] == [
        {"server": "sql2022gcm", "instance": "MSSQLSERVER", "driver": "MDAC", "scenario": 1, "remains": True}
    ]
    assert "winlab_expect_pairs" not in doc["windows"]["hosts"]["sql2022gcm"]
