"""Fleets past the profile directory: ``up --copies N`` clones every profile; addresses go past one /24."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from labtest import PROFILES, client
from winlab.errors import LabError
from winlab.host import load_fleet
from winlab.profiles import load_profile
from winlab.replicate import copy_profile, replicate_profiles
from winlab.server import host_address
from winlab.testing import running_lab, winrm_command_runner


def test_host_addresses_continue_in_the_next_24s() -> None:
    assert host_address("127.77.0", 0) == "127.77.0.1"
    assert host_address("127.77.0", 253) == "127.77.0.254"
    assert host_address("127.77.0", 254) == "127.77.1.1"
    assert host_address("127.77.0", 499) == "127.77.1.246"
    assert len({host_address("127.77.0", i) for i in range(1000)}) == 1000
    with pytest.raises(ValueError, match="runs out of /24s"):
        host_address("127.77.255", 254)


def test_a_copy_is_a_clone_with_its_own_inventory_name() -> None:
    doc = yaml.safe_load((PROFILES / "s4.yml").read_text())
    copy = copy_profile(doc, 7, 50)
    assert copy["name"] == "s4-07"
    assert (copy["computer_name"], copy["fqdn"]) == ("S4", "s4.lab.example.com")
    assert {c["shared_key"] for c in copy["certificates"]} == {
        f"copies-of-s4--{c['name']}" for c in doc["certificates"]
    }
    assert {k: v for k, v in copy.items() if k not in ("name", "computer_name", "fqdn", "certificates")} == {
        k: v for k, v in doc.items() if k not in ("name", "computer_name", "fqdn", "certificates")
    }


def test_copies_keep_a_shared_key_and_the_cluster_names() -> None:
    doc = yaml.safe_load((PROFILES / "fci-node1.yml").read_text())
    copy = copy_profile(doc, 1, 3)
    assert [c.get("shared_key") for c in copy["certificates"]] == [
        c.get("shared_key") for c in doc["certificates"]
    ]
    assert copy["computer_name"] == doc.get("computer_name", "FCI-NODE1")


def test_replicated_profiles_load_and_expect_what_their_original_expects(tmp_path: Path) -> None:
    originals = [PROFILES / "s3.yml", PROFILES / "mixed-2012r2.yml", PROFILES / "fci-node1.yml"]
    paths = replicate_profiles(originals, 3, tmp_path / "copies")
    assert len(paths) == 9
    for path in paths:
        copy, original = load_profile(path), load_profile(PROFILES / f"{path.stem.rsplit('-', 1)[0]}.yml")
        assert copy.expect_scenarios == original.expect_scenarios
        assert (copy.computer_name, copy.dns_domain) == (original.computer_name, original.dns_domain)
    assert replicate_profiles(originals, 1, tmp_path / "unused") == originals
    assert not (tmp_path / "unused").exists()
    with pytest.raises(LabError, match="--copies"):
        replicate_profiles(originals, 0, tmp_path / "none")


def test_the_copies_of_a_profile_build_the_same_host(tmp_path: Path) -> None:
    paths = replicate_profiles([PROFILES / "s4.yml"], 2, tmp_path / "copies")
    hosts = load_fleet(paths, tmp_path / "lab")
    first, second = (hosts[name].snapshot() for name in ("s4-1", "s4-2"))
    assert first["name"] != second["name"]
    # Same computer, same certificates (the shared keys), so the same audit.
    mine = first["cert_stores"]["My"]
    assert mine and [c["thumbprint"] for c in mine] == [c["thumbprint"] for c in second["cert_stores"]["My"]]
    shared = [k for k in (tmp_path / "lab" / "keys").iterdir() if k.name.startswith("shared--copies-of-s4--")]
    assert len(shared) == len(yaml.safe_load((PROFILES / "s4.yml").read_text())["certificates"])


def test_a_lab_of_copies_serves_every_copy_on_its_own_endpoint(tmp_path: Path) -> None:
    with running_lab([PROFILES / "s3.yml", PROFILES / "compliant.yml"], copies=3, tds=False) as lab:
        assert sorted(lab.hosts) == [f"{p}-{k}" for p in ("compliant", "s3") for k in (1, 2, 3)]
        assert len({h.address for h in lab.hosts.values()}) == 6
        assert lab.expected_scenarios()["s3-2"] == [3]
        request = client.build_request([{"op": "os.info"}])
        command, stdin = client.build_command(request)
        _rc, stdout, _stderr = winrm_command_runner(lab.inventory, "s3-3")(command, stdin)
        assert json.loads(stdout)["results"][0]["data"]["computer_name"] == "S3"
        stats = lab.stats()
        assert stats["s3-3"]["commands"] == 1 and stats["s3-1"]["commands"] == 0
        assert lab.supervisor_pid > 0


def test_a_fleet_past_254_hosts_answers_on_the_next_24(tmp_path: Path) -> None:
    profile = tmp_path / "one.yml"
    profile.write_text("name: one\nexpect_scenarios: []\n")
    with running_lab([profile], copies=260, runtime_factory="winlab.testing:echo_fleet", tds=False) as lab:
        assert len(lab.hosts) == 260
        first, last = lab.hosts["one-001"], lab.hosts["one-260"]
        assert first.address.rsplit(".", 1)[0] != last.address.rsplit(".", 1)[0]
        assert last.address.endswith(".6")
        assert lab.stats()["one-260"]["commands"] == 0
