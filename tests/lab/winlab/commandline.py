"""Decode a WinRM command line the way powershell.exe would read it.

Accepted shapes (reference/ansible-winrm-wire.md section 1):
- `PowerShell -NoProfile ... -EncodedCommand <b64>` as one string, or the
  transport's Command + Arguments joined by spaces (the same thing);
- ansible-core 2.18's double encoding: the decoded script is itself such a
  `PowerShell ... -EncodedCommand <b64>` line, so it is decoded again.
"""

from __future__ import annotations

import base64
import binascii

_MAX_NESTING = 4


class NotPowerShell(ValueError):
    """The command is not a powershell.exe -EncodedCommand invocation."""


def _is_encoded_flag(token: str) -> bool:
    # powershell.exe accepts any unambiguous prefix of -EncodedCommand down to -e / -ec
    t = token.lower().lstrip("-/")
    return token[:1] in "-/" and (t in ("e", "ec") or (len(t) >= 2 and "encodedcommand".startswith(t)))


def _encoded_argument(line: str) -> str | None:
    tokens = line.strip().split()
    if not tokens or tokens[0].strip('"').lower().rsplit("\\", 1)[-1] not in ("powershell", "powershell.exe"):
        return None
    for i, token in enumerate(tokens[1:-1], start=1):
        if _is_encoded_flag(token):
            return tokens[i + 1]
    return None


def decode_script(command_line: str) -> str:
    """The PowerShell script text the command would run; raises NotPowerShell otherwise."""
    line = command_line
    for _level in range(_MAX_NESTING):
        encoded = _encoded_argument(line)
        if encoded is None:
            raise NotPowerShell("expected 'PowerShell ... -EncodedCommand <base64>'")
        try:
            script = base64.b64decode(encoded, validate=True).decode("utf-16-le")
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise NotPowerShell("the -EncodedCommand argument is not base64 of UTF-16LE text") from exc
        if _encoded_argument(script) is None:
            return script.lstrip("\ufeff")
        line = script
    raise NotPowerShell("too many nested -EncodedCommand levels")
