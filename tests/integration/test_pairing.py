"""Fleet pairing on a lab fleet with client hosts: the audit pairs the application servers with
the SQL Server instances, the safety gate counts them, remediation clears what it can."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from winlab.pytest_plugin import profile_path
from winlab.testing import running_lab

from .ansible_run import REPO, run_playbook
from .browser import dump_dom, hex_colour, pixel_count, screenshot

AUDIT = REPO / "playbooks" / "audit.yml"
PAIRING = REPO / "tests" / "integration" / "playbooks" / "pairing.yml"
FLEET = ("app2012r2", "app2016old", "sql2019dhe", "sql2022gcm")
SCHANNEL = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
FAILING = ("fails", "intermittent")


@pytest.fixture(scope="module")
def fleet():
    with running_lab([profile_path(name) for name in FLEET]) as lab:
        yield lab


def expected_pairs(lab, remaining_only: bool = False) -> set[tuple]:
    """The hand-written failing pairs of every client profile (winlab_expect_pairs)."""
    hosts = lab.windows_group()["hosts"]
    return {
        (name, f"{p['server']}/{p['instance']}", p["driver"], p["scenario"])
        for name, host in hosts.items()
        for p in host.get("winlab_expect_pairs", [])
        if p.get("remains") or not remaining_only
    }


def failing_pairs(pairing: dict) -> set[tuple]:
    """(client, server/INSTANCE, driver, scenario) of the failing pairs (pairing result or report)."""
    return {
        (p["client"], f"{p['server']}/{p['instance']}", p["driver"], p["scenario"])
        for p in pairing["pairs"]
        if p["status"] in FAILING
    }


def run_pairing(lab, tmp_path: Path, *extra: str):
    out = tmp_path / "pairing.json"
    proc, recap = run_playbook(
        lab.inventory,
        PAIRING,
        "-e",
        f"pairing_out={out}",
        "-e",
        f"pairing_after_out={tmp_path / 'after.json'}",
        "-e",
        f"mssql_tls_report_dir={tmp_path / 'report'}",
        *extra,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc, recap, out


@pytest.fixture(scope="module")
def audited(fleet, tmp_path_factory):
    """The operator's audit (playbooks/audit.yml, check mode) of the fleet with client hosts."""
    report_dir = tmp_path_factory.mktemp("pairing-audit")
    states = {host: fleet.state(host) for host in fleet.hosts}
    fleet.reset_stats()
    proc, _recap = run_playbook(fleet.inventory, AUDIT, "--check", "-e", f"mssql_tls_report_dir={report_dir}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = json.loads((report_dir / "report.json").read_text())
    return {"report": report, "dir": report_dir, "stats": fleet.stats(), "states": states}


def host(report: dict, name: str) -> dict:
    return next(h for h in report["hosts"] if h["name"] == name)


def test_the_matrix_shows_exactly_the_hand_written_failing_pairs(fleet, audited) -> None:
    section = audited["report"]["pairing"]
    assert failing_pairs(section) == expected_pairs(fleet)
    assert section["notes"] == [] and section["clients"] == ["app2012r2", "app2016old", "sql2019dhe"]
    failing_cells = {
        (c["client"], c["server"]): c["scenarios"] for c in section["cells"] if c["status"] in FAILING
    }
    assert failing_cells == {
        ("app2012r2", "sql2019dhe"): [5],
        ("app2012r2", "sql2022gcm"): [1, 2],
        ("app2016old", "sql2022gcm"): [1],
    }


def test_every_host_has_its_own_and_its_cross_host_scenarios(fleet, audited) -> None:
    found = {h["name"]: h["scenarios"] for h in audited["report"]["hosts"]}
    assert found == fleet.expected_scenarios()


def test_the_2019_server_with_tls_dhe_gets_a_cross_host_scenario_5_naming_its_2012r2_client(audited) -> None:
    sql2019 = host(audited["report"], "sql2019dhe")
    assert sql2019["scenarios"] == [3, 5]  # 3 of its own, 5 only across hosts (the OS is fixed)
    (finding,) = [f for f in sql2019["findings"] if f["scenario"] == 5]
    assert (finding["id"], finding["target"]) == (
        "pair.s5.dhe_leading_zero_mismatch",
        "app2012r2->sql2019dhe/MSSQLSERVER",
    )
    assert finding["data"]["client"] == "app2012r2" and "app2012r2" in finding["title"]
    assert finding["data"]["sources"] == ["pairing.source.declared", "pairing.source.observed"]
    assert finding["data"]["errors_10054"] == 6  # the ERRORLOG lines that name its lab address
    assert finding in host(audited["report"], "app2012r2")["findings"]


def test_every_source_is_recorded(audited) -> None:
    cells = {(c["client"], c["server"]): c["sources"] for c in audited["report"]["pairing"]["cells"]}
    assert cells == {
        ("app2012r2", "sql2019dhe"): ["declared", "observed"],
        ("app2012r2", "sql2022gcm"): ["declared", "observed"],
        ("app2016old", "sql2019dhe"): ["declared"],
        ("app2016old", "sql2022gcm"): ["observed"],
        ("sql2019dhe", "sql2022gcm"): ["declared"],
    }


def test_the_audit_still_costs_one_winrm_command_per_host_clients_included(fleet, audited) -> None:
    assert {host: s["commands"] for host, s in audited["stats"].items()} == dict.fromkeys(FLEET, 1)
    assert {host: fleet.state(host) for host in fleet.hosts} == audited["states"]


def test_junit_fails_exactly_the_failing_pairs(fleet, audited) -> None:
    from xml.etree import ElementTree as ET

    suites = ET.parse(audited["dir"] / "junit.xml").getroot()
    (suite,) = [s for s in suites if s.get("name") == "pairing"]
    failed = {
        (c.get("classname").rsplit(".", 1)[1], c.get("name")) for c in suite if c.find("failure") is not None
    }
    assert failed == {
        (client, f"{driver} -> {instance}") for client, instance, driver, _n in expected_pairs(fleet)
    }


def test_chromium_shows_the_pairing_matrix_with_one_linked_cell_per_failing_pair_of_hosts(
    audited, tmp_path
) -> None:
    page = audited["dir"] / "report.html"
    dom = dump_dom(page)
    start = dom.index('<table class="pairing"')
    table = dom[start : dom.index("</table>", start)]
    assert re.findall(r'<tr><th><a href="#host-([^"]+)">', table) == ["app2012r2", "app2016old", "sql2019dhe"]
    links = re.findall(r'<td class="cell pair-(fails|intermittent)"[^>]*><a href="#([^"]+)">', table)
    assert sorted(kind for kind, _anchor in links) == ["fails", "fails", "intermittent"]
    assert all(f'id="{anchor}"' in dom for _kind, anchor in links)
    png = screenshot(page, tmp_path / "report.png", height=2600)
    # each failing cell is a coloured box of at least ~60x20 px, in colours used nowhere else
    assert pixel_count(png, hex_colour("#ffb8b3")) > 2 * 1200
    assert pixel_count(png, hex_colour("#ffd8a8")) > 1200
    assert pixel_count(png, hex_colour("#d2f4d9")) > 2 * 1200


def test_the_gate_refuses_to_disable_tls10_for_the_observed_client_and_proceeds_with_force(tmp_path) -> None:
    with running_lab([profile_path(name) for name in FLEET]) as lab:
        _proc, _recap, out = run_pairing(
            lab, tmp_path, "-e", "pairing_fix=true", "-e", "pairing_tls12_only=true"
        )
        result = json.loads(Path(f"{out}.tls12.sql2019dhe.json").read_text())
        refused = [b for b in result["blocked"] if b["code"] == "client_host_without_tls12"]
        assert {(b["data"]["client"], b["data"]["driver"], b["data"]["source"]) for b in refused} == {
            ("app2012r2", "SQL Server Native Client 11.0", "observed"),
            ("app2012r2", "SQL Server", "observed"),
            ("app2016old", "SQL Server", "declared"),
        }
        assert not any(b["forced"] for b in refused)
        assert any("app2012r2" in b["message"] and "11.0.6538" in b["message"] for b in refused)
        server_tls10 = f"{SCHANNEL}\\Protocols\\TLS 1.0\\Server"
        assert server_tls10 not in {c["target"].rsplit("\\", 1)[0] for c in result["plan"]["changes"]}

        _proc, _recap, out = run_pairing(
            lab,
            tmp_path,
            "-e",
            "pairing_fix=true",
            "-e",
            "pairing_tls12_only=true",
            "-e",
            "mssql_tls_force=true",
        )
        forced = json.loads(Path(f"{out}.tls12.sql2019dhe.json").read_text())
        assert forced["forced"] and all(
            b["forced"] for b in forced["blocked"] if b["code"] == "client_host_without_tls12"
        )
        assert server_tls10 in {c["target"].rsplit("\\", 1)[0] for c in forced["plan"]["changes"]}
        after = json.loads((tmp_path / "after.json").read_text())
        # the forced server now cuts off exactly the drivers the gate named (a configured state:
        # the facts read the registry, the reboot that activates it is still pending)
        cut_off = {(c, d) for c, s, d, n in failing_pairs(after) if s == "sql2019dhe/MSSQLSERVER" and n == 1}
        assert cut_off == {("app2012r2", "SNAC11"), ("app2012r2", "MDAC"), ("app2016old", "MDAC")}


def test_after_the_fix_only_the_pairs_blocked_by_an_upgrade_remain_and_name_it(tmp_path) -> None:
    with running_lab([profile_path(name) for name in FLEET]) as lab:
        _proc, _recap, _out = run_pairing(lab, tmp_path, "-e", "pairing_fix=true")
        after = json.loads((tmp_path / "after.json").read_text())
        assert failing_pairs(after) == expected_pairs(lab, remaining_only=True)
        assert "sql2019dhe" not in after["findings"]  # removing TLS_DHE there cleared the scenario 5
        upgrades = {p["driver"]: p["clears_with"] for p in after["pairs"] if p["scenario"] == 1}
        assert "11.0.6538" in upgrades["SNAC11"] and "ODBC Driver 18" in upgrades["MDAC"]
