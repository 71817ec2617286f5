"""``python -m winlab`` up / stats / knobs / reboot / down as separate processes, as make and CI run them.

The hosts are EchoRuntimes (``--runtime-factory winlab.testing:echo_fleet``),
so these tests exercise process management and the inventory, not the host model.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pytest
import winrm
import yaml
from winlab.pytest_plugin import profile_path
from winlab.runtime import Knobs
from winlab.testing import free_port, lab_command, random_subnet, running_lab

ECHO = ["--runtime-factory", "winlab.testing:echo_fleet", "--no-tds"]


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "a_sql2016.yml").write_text(
        "name: sql2016-dhe\nexpect_scenarios: [3, 5]\n"
        "sql_instances:\n  - {name: MSSQLSERVER, port: 1433}\n  - {name: REPORTS, port: 14330}\n"
    )
    (directory / "b_web.yml").write_text("name: web01\n")
    (directory / "notes.txt").write_text("not a profile\n")
    return directory


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    yield path
    lab_command("down", "--state-dir", str(path))  # whatever a test left behind


def up(state_dir: Path, profiles: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], str, int]:
    subnet = random_subnet()
    port = free_port(subnet + ".1")
    result = lab_command(
        "up",
        "--state-dir",
        str(state_dir),
        "--profiles",
        str(profiles),
        "--inventory",
        str(state_dir / "inventory.yml"),
        "--subnet",
        subnet,
        "--port",
        str(port),
        *ECHO,
        *extra,
    )
    return result, subnet, port


def running(pid: int) -> bool:
    """Alive and not a zombie (a finished supervisor waits for init to reap it)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status[status.rindex(")") + 2] not in "ZX"


def lab_pids(state_dir: Path) -> list[int]:
    found = subprocess.run(["pgrep", "-f", str(state_dir)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def test_up_serves_every_profile_writes_the_inventory_and_down_leaves_nothing(
    state_dir: Path, profiles: Path
) -> None:
    result, subnet, port = up(state_dir, profiles)
    assert result.returncode == 0, result.stderr
    pid = int((state_dir / "lab.pid").read_text())
    assert running(pid)
    assert lab_pids(state_dir) == [pid]
    assert os.getpgid(pid) == pid  # its own process group, so down can stop everything it started

    inventory = yaml.safe_load((state_dir / "inventory.yml").read_text())
    windows = inventory["all"]["children"]["windows"]
    password = (state_dir / "password").read_text().strip()
    assert windows["vars"] == {
        "ansible_connection": "winrm",
        "ansible_winrm_scheme": "http",
        "ansible_winrm_transport": "basic",
        "ansible_user": "Administrator",
        "ansible_password": password,
    }
    assert windows["hosts"] == {
        "sql2016-dhe": {
            "ansible_host": f"{subnet}.1",
            "ansible_port": port,
            "winlab_expect_scenarios": [3, 5],
            "mssql_tls_instances": [
                {"name": "MSSQLSERVER", "port": 1433},
                {"name": "REPORTS", "port": 14330},
            ],
        },
        "web01": {
            "ansible_host": f"{subnet}.2",
            "ansible_port": port,
            "winlab_expect_scenarios": [],
            "mssql_tls_instances": [],
        },
    }
    assert set(inventory["all"]["children"]["mssql_tls_lab"]["hosts"]) == {"sql2016-dhe", "web01"}
    for secret in ("password", "inventory.yml"):
        assert stat.S_IMODE((state_dir / secret).stat().st_mode) == 0o600

    session = winrm.Session(
        f"http://{subnet}.2:{port}/wsman", auth=("Administrator", password), transport="basic"
    )
    assert json.loads(session.run_ps("Get-Date").std_out)["host"] == "web01"
    stats = json.loads(lab_command("stats", "--state-dir", str(state_dir)).stdout)
    assert {h: s["commands"] for h, s in stats.items()} == {"sql2016-dhe": 0, "web01": 1}

    down = lab_command("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not running(pid)
    assert lab_pids(state_dir) == []
    assert not (state_dir / "lab.pid").exists()


def test_stats_reset_prints_the_counters_then_zeroes_them(state_dir: Path, profiles: Path) -> None:
    result, subnet, port = up(state_dir, profiles)
    assert result.returncode == 0, result.stderr
    password = (state_dir / "password").read_text().strip()
    winrm.Session(
        f"http://{subnet}.1:{port}/wsman", auth=("Administrator", password), transport="basic"
    ).run_ps("Get-Date")
    before = json.loads(lab_command("stats", "--state-dir", str(state_dir), "--reset").stdout)
    after = json.loads(lab_command("stats", "--state-dir", str(state_dir)).stdout)
    assert (before["sql2016-dhe"]["commands"], after["sql2016-dhe"]["commands"]) == (1, 0)
    assert set(after["web01"]) >= {"commands", "shells", "batches", "bytes_in", "bytes_out"}


def test_a_second_up_is_refused_and_one_supervisor_keeps_running(state_dir: Path, profiles: Path) -> None:
    first, _subnet, _port = up(state_dir, profiles)
    assert first.returncode == 0, first.stderr
    pid = int((state_dir / "lab.pid").read_text())
    second, _subnet, _port = up(state_dir, profiles)
    assert second.returncode == 1
    assert "already running" in second.stderr and str(pid) in second.stderr
    assert lab_pids(state_dir) == [pid]
    assert int((state_dir / "lab.pid").read_text()) == pid


def test_concurrent_ups_start_exactly_one_supervisor(state_dir: Path, profiles: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: up(state_dir, profiles)[0], range(2)))
    assert sorted(r.returncode for r in results) == [0, 1], [r.stderr for r in results]
    assert "already running" in next(r.stderr for r in results if r.returncode == 1)
    assert lab_pids(state_dir) == [int((state_dir / "lab.pid").read_text())]


def test_down_kills_a_supervisor_that_does_not_answer_sigterm(state_dir: Path, profiles: Path) -> None:
    result, _subnet, _port = up(state_dir, profiles)
    assert result.returncode == 0, result.stderr
    pid = int((state_dir / "lab.pid").read_text())
    os.kill(pid, signal.SIGSTOP)  # a stopped process leaves SIGTERM pending; only SIGKILL ends it
    down = lab_command("down", "--state-dir", str(state_dir), "--timeout", "0.5")
    assert down.returncode == 0, down.stderr
    assert not running(pid)
    assert lab_pids(state_dir) == []


def test_down_without_a_lab_succeeds(state_dir: Path) -> None:
    down = lab_command("down", "--state-dir", str(state_dir))
    assert down.returncode == 0
    assert "no lab was running" in down.stdout


def test_up_on_a_taken_port_fails_with_the_log_tail_and_leaves_no_process(
    state_dir: Path, profiles: Path
) -> None:
    subnet = random_subnet()
    with socket.socket() as blocker:
        blocker.bind((f"{subnet}.2", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = lab_command(
            "up",
            "--state-dir",
            str(state_dir),
            "--profiles",
            str(profiles),
            "--inventory",
            str(state_dir / "inventory.yml"),
            "--subnet",
            subnet,
            "--port",
            str(port),
            *ECHO,
        )
    assert result.returncode == 1
    assert f"WinRM endpoint of web01 cannot bind {subnet}.2:{port}" in result.stderr
    assert "lab.log ends with" in result.stderr
    assert lab_pids(state_dir) == []
    assert not (state_dir / "inventory.yml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profiles", "/nonexistent/profiles"], "--profiles: /nonexistent/profiles is neither"),
        (["--subnet", "10.0.0"], "--subnet: subnet '10.0.0': expected three octets inside 127.0.0.0/8"),
    ],
)
def test_up_names_the_bad_option(state_dir: Path, profiles: Path, args: list[str], message: str) -> None:
    base = {"--profiles": str(profiles), "--subnet": random_subnet()}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = lab_command(
        "up",
        "--state-dir",
        str(state_dir),
        "--inventory",
        str(state_dir / "inv.yml"),
        *[x for kv in base.items() for x in kv],
        *ECHO,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert lab_pids(state_dir) == []


def test_up_with_an_empty_profile_directory_fails_clearly(state_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result, _subnet, _port = up(state_dir, empty)
    assert result.returncode == 1
    assert "no profile (*.yml, *.yaml) found" in result.stderr


def test_knobs_reboot_and_state_commands(state_dir: Path, profiles: Path) -> None:
    result, _subnet, _port = up(state_dir, profiles, "--latency-ms", "25")
    assert result.returncode == 0, result.stderr
    shown = json.loads(lab_command("knobs", "--state-dir", str(state_dir)).stdout)
    assert shown == dict.fromkeys(("sql2016-dhe", "web01"), asdict(Knobs(latency_ms=25)))
    changed = lab_command(
        "knobs", "--state-dir", str(state_dir), "web01", "--drop-after-ops", "2", "--reboot-down-s", "0.5"
    )
    assert json.loads(changed.stdout) == {
        "web01": asdict(Knobs(latency_ms=25, drop_after_ops=2, reboot_down_s=0.5))
    }
    faults = lab_command(
        "knobs",
        "--state-dir",
        str(state_dir),
        "web01",
        "--fault-journal-id",
        ".rollback.",
        "--reboot-on-drop",
        "--journal-fail-after-lines",
        "1",
        "--reply-delay-s",
        "2.5",
    )
    assert json.loads(faults.stdout)["web01"] == asdict(
        Knobs(
            latency_ms=25,
            drop_after_ops=2,
            reboot_down_s=0.5,
            fault_journal_id=".rollback.",
            reboot_on_drop=True,
            journal_fail_after_lines=1,
            reply_delay_s=2.5,
        )
    )
    unknown = lab_command("knobs", "--state-dir", str(state_dir), "nosuchhost", "--no-drop")
    assert unknown.returncode == 1 and "unknown host(s) ['nosuchhost']" in unknown.stderr
    assert json.loads(lab_command("reboot", "--state-dir", str(state_dir), "web01").stdout) == {
        "rebooted": "web01"
    }
    assert json.loads(lab_command("state", "--state-dir", str(state_dir), "web01").stdout)["boots"] == 2


def test_commands_other_than_up_and_down_need_a_running_lab(state_dir: Path) -> None:
    result = lab_command("stats", "--state-dir", str(state_dir))
    assert result.returncode == 1
    assert "no lab is running" in result.stderr


def test_running_lab_helper_gives_hosts_counters_knobs_and_always_stops(profiles: Path) -> None:
    with running_lab([profiles], runtime_factory="winlab.testing:echo_fleet", tds=False, https=True) as lab:
        assert set(lab.hosts) == {"sql2016-dhe", "web01"}
        host = lab.hosts["web01"]
        password = (lab.state_dir / "password").read_text().strip()
        session = winrm.Session(
            f"https://{host.address}:{host.port}/wsman",
            auth=("Administrator", password),
            transport="basic",
            server_cert_validation="ignore",
        )
        session.run_ps("Get-Date")
        assert lab.stats()["web01"]["commands"] == 1
        assert lab.reset_stats()["web01"]["commands"] == 1
        assert lab.stats()["web01"]["commands"] == 0
        assert lab.set_knobs("web01", latency_ms=5) == asdict(Knobs(latency_ms=5))
        lab.reboot("web01")
        assert lab.state("web01")["boots"] == 2
        state_dir = lab.state_dir
        assert (
            yaml.safe_load(lab.inventory.read_text())["all"]["children"]["windows"]["vars"][
                "ansible_winrm_scheme"
            ]
            == "https"
        )
    assert lab_pids(state_dir) == []


def test_profile_names_resolve_to_files_and_unknown_names_list_the_known(profiles: Path) -> None:
    assert profile_path("b_web", profiles) == profiles / "b_web.yml"
    known = r"known profiles: \['a_sql2016', 'b_web'\]"
    with pytest.raises(ValueError, match=r"profile 'nope': no nope.yml .* " + known):
        profile_path("nope", profiles)
