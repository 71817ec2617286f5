"""What the ERRORLOG lines say: the certificate loaded at the last start, and 10054 evidence.

Lines and error numbers: reference/sqlserver-tls.md 3 (26013/26018 "loaded for
encryption", load failures) and 14a (17830 with network error code 0x2746 =
WSAECONNRESET and its login timings, 17197 login timeouts). A 17830 event is
written as an "Error: 17830, Severity: 20, State: n." line followed by its message;
both are counted as one event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

# .NET regexes sent to the agent's file.tail: keep only the lines these parsers read.
STARTUP_PATTERN = (
    r"loaded for encryption|Cert Hash\(sha1\)|certificate|Registry startup parameters|"
    r"SQL Server is starting|Server process ID is|Error: 2601[4-8]|Error: 17182|TDSSNIClient"
)
EVIDENCE_PATTERN = r"Error: 17830|Error: 17197|Network error code 0x|Login failed due to timeout"

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)\s")
_LOADED = re.compile(r'Cert Hash\(sha1\) "([0-9A-Fa-f]{40})"\] was successfully loaded for encryption')
_SELF_GENERATED = re.compile(r"self-generated certificate was successfully loaded for encryption", re.I)
_LOAD_PROBLEM = re.compile(
    r"does not have access to it|Unable to load user-specified certificate|"
    r"Unable to initialize SSL encryption|TDSSNIClient initialization failed",
    re.I,
)
_HEADER = re.compile(r"Error: (17830|17197), Severity")
_NETWORK_ERROR = re.compile(r"Network error code (0x[0-9A-Fa-f]+) occurred while establishing a connection")
_LOGIN_TIMEOUT = re.compile(r"Login failed due to timeout")
_TIMING = re.compile(r"\b(total|enqueued|establishing SSL) (\d+) ms")
WSAECONNRESET = 0x2746


def _timestamp(line: str) -> str | None:
    match = _TIMESTAMP.match(line)
    return match[1] if match else None


def loaded_certificate(logs_newest_first: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The newest "loaded for encryption" line: from the current log, else the previous one."""
    for lines in logs_newest_first:
        for line in reversed(lines):
            loaded = _LOADED.search(line)
            if loaded or _SELF_GENERATED.search(line):
                return {
                    "thumbprint": loaded[1].lower() if loaded else None,
                    "self_generated": loaded is None,
                    "logged_at": _timestamp(line),
                    "line": line.strip(),
                }
    return {"thumbprint": None, "self_generated": False, "logged_at": None, "line": None}


def load_problems(lines: Iterable[str]) -> list[str]:
    return [line.strip() for line in lines if _LOAD_PROBLEM.search(line)]


def evidence(lines: Iterable[str]) -> dict[str, Any]:
    counts = {"17830": 0, "17830_0x2746": 0, "17197": 0}
    sums = {"total": 0, "enqueued": 0, "establishing SSL": 0}
    pending: str | None = None  # an "Error: n" header waiting for its message line
    for line in lines:
        header = _HEADER.search(line)
        if header:
            if pending:
                counts[pending] += 1  # previous header had no (English) message line
            pending = header[1]
            continue
        network = _NETWORK_ERROR.search(line)
        if network:
            counts["17830"] += 1
            if int(network[1], 16) == WSAECONNRESET:
                counts["17830_0x2746"] += 1
                for name, ms in _TIMING.findall(line):
                    sums[name] += int(ms)
            pending = None if pending == "17830" else pending
            continue
        if _LOGIN_TIMEOUT.search(line):
            counts["17197"] += 1
            pending = None if pending == "17197" else pending
            continue
    if pending:
        counts[pending] += 1
    return {
        "errors_17830": counts["17830"],
        "errors_17830_10054": counts["17830_0x2746"],
        "errors_17197": counts["17197"],
        "login_ms_10054": {
            "total": sums["total"],
            "enqueued": sums["enqueued"],
            "establishing_ssl": sums["establishing SSL"],
        },
    }
