"""Helpers for tests that need a lab: start one in the background, talk to it, always stop it.

``running_lab`` runs the real CLI (``python -m winlab up`` / ``down``) on a
fresh state directory, a random 127.<100-250>.<0-251>.0/24 subnet (a fleet past 254 hosts
goes on in the next /24s) and a free port, so it never collides with an operator's lab on
127.77.0.x:5985.

``EchoRuntime`` is a stand-in host for transport tests: it runs nothing and
answers with what it received, so WinRM behaviour can be checked without the
host model.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .control import control_request
from .inventory import read_manifest
from .process import LAB_ROOT, lab_environment
from .runtime import CommandOutcome, Knobs
from .server import HostAddress

PROFILES_DIR = LAB_ROOT / "profiles"

_ENCODED_COMMAND = re.compile(r"-EncodedCommand\s+(\S+)", re.IGNORECASE)
_EXIT_CODE = re.compile(r"^\s*exit\s+(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
_WRITE_ERROR = re.compile(r"^\s*Write-Error\s+'([^']*)'", re.IGNORECASE | re.MULTILINE)


def decoded_powershell(command_line: str) -> str:
    """The script of a ``-EncodedCommand`` line (UTF-16LE base64), else the line itself."""
    match = _ENCODED_COMMAND.search(command_line)
    if not match:
        return command_line
    try:
        return base64.b64decode(match.group(1), validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return command_line


def agent_request_ops(stdin: bytes) -> list[str]:
    """Op names of an agent request found on a stdin line (docs/agent-protocol.md), else []."""
    for line in stdin.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("ops"), list):
            return [str(op.get("op")) for op in doc["ops"] if isinstance(op, dict)]
    return []


@dataclass
class EchoRuntime:
    """A HostRuntime that echoes: stdout is JSON {host, script, stdin}.

    ``exit N`` on a line of the script sets the exit code, ``Write-Error 'text'``
    writes text to stderr, an agent request on stdin is reported as a batch, and
    a set ``drop_after_ops`` knob drops the connection.
    """

    name: str
    expect_scenarios: list[int] = field(default_factory=list)
    sql_instances: list[dict[str, Any]] = field(default_factory=list)
    boots: int = 1
    commands: list[str] = field(default_factory=list)

    def run_command(self, command_line: str, stdin: bytes, knobs: Knobs) -> CommandOutcome:
        script = decoded_powershell(command_line)
        self.commands.append(script)
        exit_code = _EXIT_CODE.findall(script)
        stdout = json.dumps({"host": self.name, "script": script, "stdin": stdin.decode("utf-8", "replace")})
        ops = agent_request_ops(stdin)
        return CommandOutcome(
            rc=int(exit_code[-1]) if exit_code else 0,
            stdout=stdout.encode("utf-8") + b"\r\n",
            stderr="".join(_WRITE_ERROR.findall(script)).encode("utf-8"),
            drop_connection=knobs.drop_after_ops is not None,
            ops=ops[: knobs.drop_after_ops] if knobs.drop_after_ops is not None else ops,
        )

    def reboot(self) -> None:
        self.boots += 1

    def sql_endpoints(self) -> list[dict[str, Any]]:
        return [{"instance": i["name"], "port": i["port"]} for i in self.sql_instances]

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "boots": self.boots, "commands": len(self.commands)}


def echo_fleet(profile_paths: Sequence[Path], state_dir: Path, now: object) -> list[EchoRuntime]:
    """Runtime factory for CLI tests (``--runtime-factory winlab.testing:echo_fleet``).

    Reads only ``name``, ``expect_scenarios`` and ``sql_instances: [{name, port}]``
    from each YAML profile.
    """
    runtimes = []
    for path in profile_paths:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
            raise ValueError(f"{path}: field 'name': expected a string")
        runtimes.append(
            EchoRuntime(
                name=doc["name"],
                expect_scenarios=list(doc.get("expect_scenarios", [])),
                sql_instances=list(doc.get("sql_instances", [])),
            )
        )
    return runtimes


# ----------------------------------------------------------------- a running lab


@dataclass
class RunningLab:
    state_dir: Path
    inventory: Path
    hosts: dict[str, HostAddress]
    # The supervisor's process id: the lab's own CPU and memory, to tell apart from a client's.
    supervisor_pid: int = 0

    # ---- what the lab wrote into its inventory, as a playbook sees it

    def windows_group(self) -> dict[str, Any]:
        """The inventory's ``windows`` group: ``hosts`` (with their host vars) and ``vars``."""
        return inventory_windows_group(self.inventory)

    def expected_scenarios(self) -> dict[str, list[int]]:
        """Each host's hand-written ``expect_scenarios``, sorted."""
        hosts = self.windows_group()["hosts"]
        return {name: sorted(host["winlab_expect_scenarios"]) for name, host in hosts.items()}

    def sql_endpoints(self) -> list[tuple[str, str, str, int]]:
        """``(host, instance, address, port)`` of every SQL instance's TDS endpoint."""
        hosts = self.windows_group()["hosts"]
        return [
            (name, instance["name"], host["ansible_host"], instance["port"])
            for name, host in hosts.items()
            for instance in host["mssql_tls_instances"]
        ]

    def sql_endpoint(self, host: str, instance: str = "MSSQLSERVER") -> tuple[str, int]:
        """``(address, port)`` of one instance's TDS endpoint."""
        for name, instance_name, address, port in self.sql_endpoints():
            if (name, instance_name) == (host, instance):
                return address, port
        raise KeyError(f"no SQL instance {instance!r} on lab host {host!r}")

    # ---- the control routes

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: control_request(host, "GET", "stats") for name, host in self.hosts.items()}

    def reset_stats(self) -> dict[str, dict[str, Any]]:
        """Reset every host's counters; returns the counters as they were."""
        return {name: control_request(host, "POST", "stats/reset") for name, host in self.hosts.items()}

    def knobs(self, host: str) -> dict[str, Any]:
        return control_request(self.hosts[host], "GET", "knobs")

    def set_knobs(self, host: str, **changes: Any) -> dict[str, Any]:
        return control_request(self.hosts[host], "POST", "knobs", changes)

    def reboot(self, host: str) -> dict[str, Any]:
        return control_request(self.hosts[host], "POST", "reboot")

    def state(self, host: str) -> dict[str, Any]:
        return control_request(self.hosts[host], "GET", "state")


def inventory_windows_group(inventory: Path) -> dict[str, Any]:
    return yaml.safe_load(Path(inventory).read_text())["all"]["children"]["windows"]


def lab_command(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run ``python -m winlab <args>`` with winlab importable."""
    return subprocess.run(
        [sys.executable, "-m", "winlab", *args],
        env=lab_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def random_subnet() -> str:
    # Room for four /24s after it: up to 1016 hosts (server.host_address).
    return f"127.{random.randint(100, 250)}.{random.randint(0, 251)}"


@contextmanager
def running_lab(
    profiles: Sequence[Path],
    *,
    latency_ms: int = 0,
    runtime_factory: str | None = None,
    tds: bool = True,
    state_dir: Path | None = None,
    https: bool = False,
    copies: int = 1,
    ready_timeout: float = 60.0,
) -> Iterator[RunningLab]:
    """Start a lab serving ``profiles`` (files or directories); always stop it on exit.

    ``runtime_factory`` replaces the host model (e.g. ``winlab.testing:echo_fleet``,
    which needs ``tds=False``: TDS endpoints read the host model's state). ``copies``
    serves that many clones of every profile (``up --copies``); a large fleet needs a
    longer ``ready_timeout`` the first time its hosts are built in ``state_dir``.
    """
    with tempfile.TemporaryDirectory(prefix="winlab-") as scratch:
        lab_dir = Path(state_dir) if state_dir is not None else Path(scratch) / "lab"
        inventory = lab_dir / "inventory.yml"
        options = [
            "--latency-ms",
            str(latency_ms),
            *(["--https"] if https else []),
            *(["--runtime-factory", runtime_factory] if runtime_factory else []),
            *([] if tds else ["--no-tds"]),
            *(["--copies", str(copies)] if copies != 1 else []),
            "--ready-timeout",
            str(ready_timeout),
        ]
        _up(lab_dir, inventory, [*options, "--profiles", *map(str, profiles)], timeout=ready_timeout + 30)
        try:
            manifest = read_manifest(lab_dir)
            yield RunningLab(
                state_dir=lab_dir,
                inventory=inventory,
                hosts={h.name: h.address for h in manifest.hosts},
                supervisor_pid=manifest.pid,
            )
        finally:
            down = lab_command("down", "--state-dir", str(lab_dir))
            if down.returncode != 0:
                raise RuntimeError(f"winlab down failed:\n{down.stderr}{down.stdout}")


def _up(lab_dir: Path, inventory: Path, options: list[str], timeout: float = 90) -> None:
    failure = ""
    for _attempt in range(3):  # another process may take the port or subnet first: pick again
        subnet = random_subnet()
        result = lab_command(
            "up",
            "--state-dir",
            str(lab_dir),
            "--inventory",
            str(inventory),
            "--subnet",
            subnet,
            "--port",
            str(free_port(subnet + ".1")),
            *options,
            timeout=timeout,
        )
        if result.returncode == 0:
            return
        failure = result.stderr + result.stdout
        if "Address already in use" not in failure:
            break
    raise RuntimeError(f"winlab up failed:\n{failure}")


# ------------------------------------------------------ commands over the real endpoint


def winrm_command_runner(
    inventory: Path, host: str, **protocol_options: Any
) -> Callable[[str, bytes], tuple[int, bytes, bytes]]:
    """(command line, stdin) -> (rc, stdout, stderr) on a lab host, over its WinRM endpoint.

    One shell and one command per call, stdin included, the way ansible-core's winrm
    plugin runs a command: for tests and benchmarks that talk to the lab without Ansible.
    ``protocol_options`` go to ``winrm.Protocol`` (``read_timeout_sec``, ``operation_timeout_sec``).
    """
    import winrm  # pywinrm: a test dependency, not one of the lab's

    windows = inventory_windows_group(inventory)
    address, settings = windows["hosts"][host], windows["vars"]
    protocol = winrm.Protocol(
        endpoint=f"http://{address['ansible_host']}:{address['ansible_port']}/wsman",
        transport="basic",
        username=settings["ansible_user"],
        password=settings["ansible_password"],
        # Plain HTTP on loopback: nothing to validate; saying so keeps pywinrm off REQUESTS_CA_BUNDLE.
        server_cert_validation="ignore",
        **protocol_options,
    )

    def execute(command: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        shell = protocol.open_shell()
        try:
            command_id = protocol.run_command(shell, command, console_mode_stdin=False)
            protocol.send_command_input(shell, command_id, stdin, end=True)
            stdout, stderr, rc = protocol.get_command_output(shell, command_id)
            protocol.cleanup_command(shell, command_id)
            return rc, stdout, stderr
        finally:
            protocol.close_shell(shell)

    return execute
