"""Who may open what: the lab's registry and file knobs (profile fields).

- `denied_keys`: keys whose ACL denies the administrator. Windows opens a registry path one
  key at a time, so a denied key also hides everything below it; reading it fails with
  "Requested registry access is not allowed." (.NET SecurityException), the agent's
  `access_denied`.
- `read_only_keys`: keys the administrator may read but not write, like the
  TrustedInstaller-owned keys of Windows: a write that needs write access on that very key
  (changing its values, creating a subkey in it, deleting one of its subkeys) is denied;
  reading through it, or writing below it in a writable subkey, is not (RegCreateKeyEx checks
  KEY_CREATE_SUB_KEY against the security descriptor of the key it creates in,
  MicrosoftDocs/sdk-api winreg/nf-winreg-regcreatekeyexw.md).
- `locked_files`: files another process holds open without sharing (SQL Server's ERRORLOG.1
  during rotation); opening them fails with a sharing violation.
"""

from __future__ import annotations

from . import registry as regmod
from .model import HostState
from .opcore import OpError

DENIED_MESSAGE = "Requested registry access is not allowed."


def _parts(path: str) -> tuple[str, tuple[str, ...]]:
    hive, segments = regmod.split_path(path)
    return hive, tuple(s.lower() for s in segments)


def _under(path: str, roots: list[str]) -> bool:
    hive, segments = _parts(path)
    for root in roots:
        root_hive, root_segments = _parts(root)
        if hive == root_hive and segments[: len(root_segments)] == root_segments:
            return True
    return False


def _same(path: str, roots: list[str]) -> bool:
    return any(_parts(path) == _parts(root) for root in roots)


def denied(state: HostState, path: str) -> bool:
    """The key, or a key on the way to it, cannot be opened."""
    return _under(path, state.denied_keys)


def check_readable(state: HostState, path: str) -> None:
    if denied(state, path):
        raise OpError("access_denied", DENIED_MESSAGE)


def check_writable(state: HostState, path: str) -> None:
    """Write access on this very key (and the keys on the way must open for reading)."""
    check_readable(state, path)
    if _same(path, state.read_only_keys):
        raise OpError("access_denied", DENIED_MESSAGE)


def deepest_existing(state: HostState, path: str) -> tuple[str, bool]:
    """(path of the deepest existing key on the way, whether that is the key itself)."""
    hive, segments = regmod.split_path(path)
    key = state.registry[hive]
    walked = [hive]
    for segment in segments:
        child = key.subkey(segment)
        if child is None:
            return "\\".join(walked), False
        walked.append(child.name)
        key = child
    return "\\".join(walked), True


def check_create_or_open(state: HostState, path: str) -> None:
    """A write into `path`, creating it if missing: write access is needed on the key itself
    when it exists, else on the deepest existing key (the parent of the first one created)."""
    check_readable(state, path)
    changing, _exists = deepest_existing(state, path)
    check_writable(state, changing)


def locked_message(state: HostState, path: str) -> str | None:
    if path.lower() in (p.lower() for p in state.locked_files):
        return f"The process cannot access the file '{path}' because it is being used by another process."
    return None
