"""Shared pieces of the op handlers: the error type, the context, path helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .model import HostState
from .sqlserver import LabClock


class OpError(Exception):
    """One op failed; `kind` is one of the protocol's error kinds, `detail` its optional
    structured facts (the error's `detail` object, docs/agent-protocol.md)."""

    def __init__(self, kind: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.detail = detail


@dataclass
class OpContext:
    state: HostState
    clock: LabClock
    # Set by os.reboot: seconds after the reply at which the host goes away and restarts.
    reboot_after_s: float | None = None


def entry_error(kind: str, message: str) -> dict[str, str]:
    """The per-entry error of a multi-entry read (docs/agent-protocol.md)."""
    return {"kind": kind, "message": message}


def ordinal_ignore_case(text: str) -> tuple[int, ...]:
    """Sort key of StringComparer.OrdinalIgnoreCase: code units compared after upper-casing each
    (so '_' sorts after the letters, unlike a lower-cased comparison); the agent sorts this way."""
    return tuple(ord(c.upper()) if len(c.upper()) == 1 else ord(c) for c in text)


_VAR = re.compile(r"%([^%]+)%")


def expand_env(state: HostState, text: str) -> str:
    """%VAR% expansion as ExpandEnvironmentVariables does it: unknown names stay as they are."""
    env = {k.lower(): v for k, v in state.env.items()}
    return _VAR.sub(lambda m: env.get(m.group(1).lower(), m.group(0)), text)


def has_expect(op: dict[str, Any]) -> bool:
    """`expect` present (even null) means a precondition; absent means none."""
    return "expect" in op


def invalid(message: str) -> OpError:
    return OpError("invalid_request", message)
