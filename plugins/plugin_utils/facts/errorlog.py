"""What the ERRORLOG lines say: the certificate loaded at the last start, and 10054 evidence.

Lines and error numbers: reference/sqlserver-tls.md 3 (26013/26018 "loaded for
encryption", load failures) and 14a (17830 with network error code 0x2746 =
WSAECONNRESET and its login timings, 17197 login timeouts). A 17830 event is
written as an "Error: 17830, Severity: 20, State: n." line followed by its message;
both are counted as one event.

Each 0x2746 line is classified by where its login time went (``classify_login``;
reference 14a "Reading the timings" (inference); the use of the extended form's split
and the thresholds are this module's choice (inference)). Both message forms are
parsed: the short one ("total, enqueued, network writes, network reads, establishing
SSL, negotiating SSPI, validating login, including user-defined login processing")
and the extended one of newer builds that also splits SSL and SSPI time ("network
reads during SSL", "network writes during SSL", "secure calls during SSL", "enqueued
during SSL", the same four for SSPI).

- queue = enqueued + enqueued during SSL + enqueued during SSPI (waiting for a
  worker, wherever it happened; the short form has only ``enqueued``);
- ssl = establishing SSL - enqueued during SSL (the handshake itself);
- rest = the remainder of max(total, sum of the parts): network reads/writes outside
  SSL, SSPI, login validation, time not itemised.

In this order: ``client_reset`` when there is no ssl time and total <= 10 ms (the
client opened and closed the socket: all zeros, or a few ms of queueing); otherwise
``tls_handshake`` when ssl > 0 and ssl >= queue and ssl >= rest (evidence for
scenarios 1-5, not for 6); otherwise ``starvation`` when queue >= 1000 ms and queue
is at least half of the time (login/worker starvation: scenario 6 on SQL Server 2017
and earlier, reference 14); otherwise ``other`` (slow client or network reads, SSPI,
login validation, short queueing, a line without timings).

A 17830 message usually ends with ``[CLIENT: <address>]`` (reference 14a); ``clients``
counts the lines per address as written (``<local machine>`` for a local connection), so
the fleet pairing can tell which hosts connect to the instance.
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
_CLIENT = re.compile(r"\[CLIENT: ([^\]]+)\]")
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


# 17830 login timings (reference 14a): both message forms, classified as the module
# docstring says.
LOGIN_CLASSES = ("starvation", "tls_handshake", "client_reset", "other")
CLIENT_RESET_MAX_MS = 10
STARVATION_MIN_MS = 1000
_TIMINGS_START = re.compile(r"Time spent during login:")
# One comma-separated part, matched whole: a search over the whole text with a lazy name was
# quadratic in the line's length (a 10,000-character line took a second). At most 12 digits:
# no real timing is longer, and int() refuses strings of more than 4300 digits.
_TIMING_FIELD = re.compile(r"([A-Za-z][A-Za-z -]*) (\d{1,12}) ms\.?")


def login_timings(line: str) -> dict[str, int]:
    """The "<field> <n> ms" pairs of a 17830 message, by field name ({} without timings)."""
    start = _TIMINGS_START.search(line)
    if not start:
        return {}
    text = line[start.end() :].split("[CLIENT:", 1)[0]
    fields = (_TIMING_FIELD.fullmatch(part.strip()) for part in text.split(","))
    return {field[1].strip(): int(field[2]) for field in fields if field}


def login_split(timings: dict[str, int]) -> dict[str, int]:
    """Total, queue (waiting for a worker), ssl (the handshake itself) and rest, in ms."""
    enqueued_ssl = timings.get("enqueued during SSL", 0)
    enqueued_sspi = timings.get("enqueued during SSPI", 0)
    queue = timings.get("enqueued", 0) + enqueued_ssl + enqueued_sspi
    ssl = max(0, timings.get("establishing SSL", 0) - enqueued_ssl)
    measured = (
        timings.get("network writes", 0)
        + timings.get("network reads", 0)
        + max(0, timings.get("negotiating SSPI", 0) - enqueued_sspi)
        + timings.get("validating login", 0)
    )
    whole = max(timings.get("total", 0), queue + ssl + measured)
    return {"total": whole, "queue": queue, "ssl": ssl, "rest": whole - queue - ssl}


def classify_login(timings: dict[str, int]) -> str:
    """One of LOGIN_CLASSES for the timings of one 17830 line (rule: module docstring)."""
    if "total" not in timings:
        return "other"
    split = login_split(timings)
    total, queue, ssl, rest = split["total"], split["queue"], split["ssl"], split["rest"]
    if ssl == 0 and total <= CLIENT_RESET_MAX_MS:
        return "client_reset"
    if ssl > 0 and ssl >= queue and ssl >= rest:
        return "tls_handshake"
    if queue >= STARVATION_MIN_MS and 2 * queue >= total:
        return "starvation"
    return "other"


def evidence(lines: Iterable[str]) -> dict[str, Any]:
    counts = {"17830": 0, "17830_0x2746": 0, "17197": 0}
    sums = {"total": 0, "enqueued": 0, "establishing SSL": 0}
    classes = {name: {"count": 0, "total_ms": 0, "queue_ms": 0, "ssl_ms": 0} for name in LOGIN_CLASSES}
    clients: dict[str, dict[str, int]] = {}
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
            reset = int(network[1], 16) == WSAECONNRESET
            client = _CLIENT.search(line)
            if client:
                seen = clients.setdefault(client[1].strip(), {"errors_17830": 0, "errors_17830_10054": 0})
                seen["errors_17830"] += 1
                seen["errors_17830_10054"] += int(reset)
            if reset:
                counts["17830_0x2746"] += 1
                timings = login_timings(line)
                for name in sums:
                    sums[name] += timings.get(name, 0)
                split = login_split(timings)
                entry = classes[classify_login(timings)]
                entry["count"] += 1
                entry["total_ms"] += split["total"]
                entry["queue_ms"] += split["queue"]
                entry["ssl_ms"] += split["ssl"]
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
        "classes_10054": classes,
        "clients": [{"address": address, **clients[address]} for address in sorted(clients)],
    }
