"""pytest fixtures for a running lab; register with ``pytest_plugins = ["winlab.pytest_plugin"]``.

- ``lab``: one lab serving every profile in tests/lab/profiles, for the whole session;
- ``make_lab``: a factory, ``make_lab("profile_a", "profile_b", latency_ms=300)``,
  whose labs stop when the test ends.

Both start the lab through the CLI on a random loopback subnet and port, and
stop it afterwards even when the test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from .testing import PROFILES_DIR, RunningLab, running_lab


def profile_path(name: str, profiles_dir: Path = PROFILES_DIR) -> Path:
    for suffix in (".yml", ".yaml"):
        candidate = profiles_dir / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in profiles_dir.glob("*.y*ml"))
    raise ValueError(f"profile {name!r}: no {name}.yml in {profiles_dir}; known profiles: {known}")


@pytest.fixture(scope="session")
def lab() -> Iterator[RunningLab]:
    with running_lab([PROFILES_DIR]) as running:
        yield running


@pytest.fixture
def make_lab() -> Iterator[Callable[..., RunningLab]]:
    with ExitStack() as labs:

        def start(*profile_names: str, latency_ms: int = 0) -> RunningLab:
            if not profile_names:
                raise ValueError("make_lab: expected at least one profile name")
            profiles = [profile_path(name) for name in profile_names]
            return labs.enter_context(running_lab(profiles, latency_ms=latency_ms))

        yield start
