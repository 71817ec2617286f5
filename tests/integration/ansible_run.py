"""Run the real ansible / ansible-playbook executables from the project venv against a lab inventory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_LOCAL_TEMP=str(REPO / ".ansible" / "tmp"),
        NO_PROXY="127.0.0.0/8,localhost",
    )
    env.update(extra)
    return env


def run(tool: str, *args: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=REPO,
        env=ansible_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.M,
)


def play_recap(stdout: str) -> dict[str, dict[str, int]]:
    """Per-host counters of the PLAY RECAP of the default callback."""
    recap = stdout[stdout.rindex("PLAY RECAP") :] if "PLAY RECAP" in stdout else ""
    counters = ("ok", "changed", "unreachable", "failed", "skipped")
    return {m["host"]: {k: int(m[k]) for k in counters} for m in _RECAP.finditer(recap)}


def run_playbook(
    inventory: Path, playbook: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, int]]]:
    proc = run("ansible-playbook", "-i", str(inventory), str(playbook), *args, **env)
    return proc, play_recap(proc.stdout)
