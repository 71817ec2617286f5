"""Shared pieces of the op handlers: the error type, the context, path helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .model import HostState
from .sqlserver import LabClock


class OpError(Exception):
    """One op failed; `kind` is one of the protocol's error kinds."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class OpContext:
    state: HostState
    clock: LabClock


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
