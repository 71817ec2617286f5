"""Property tests: whatever an ERRORLOG holds, its parsers return their shapes, fast.

An ERRORLOG is written by SQL Server, but also holds text a client chose (login names, client
addresses, application names in some messages) and can be edited by anyone who can write the
log folder. Random text, realistic lines mutated (truncated, spliced, digits made huge) and
10,000-character lines go into loaded_certificate, load_problems, login_timings,
classify_login and evidence. The only outcome is a result of the documented shape: never an
exception, never a number that cannot be converted, never time that grows with the square of a
line's length (the hypothesis deadline and the explicit timing test catch that).
"""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.mssql.tls.plugins.plugin_utils.facts import errorlog
from ansible_collections.mssql.tls.tests.unit.facts.winhost import (
    SELF_GENERATED_LINE,
    loaded_line,
    login_error_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=300,
    deadline=datetime.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)

TP = "4515A756DDEE5FF8619C33526712E99EB60AEDBB"
REAL_LINES = [
    loaded_line(TP),
    SELF_GENERATED_LINE,
    *login_error_lines(15041, 14987, 0, network_reads=1),
    *login_error_lines(5003, 0, 5003, during_ssl={"reads": 1, "writes": 2, "enqueued": 3}),
    *login_error_lines(4, 1, 3, code="0x68"),
    "2026-11-29 14:05:00.10 Logon       Error: 17197, Severity: 20, State: 1.",
    "2026-11-29 14:05:00.10 Logon       Login failed due to timeout; the connection has been closed.",
    "2026-11-29 22:00:03.45 Server      Unable to load user-specified certificate [Cert Hash(sha1) "
    f'"{TP}"]. The server will not accept a connection.',
    "2026-11-29 22:00:03.45 Server      TDSSNIClient initialization failed with error 0x80092004.",
]
HOSTILE = [
    "'; DROP TABLE x; --",
    '$(New-Item HKLM:\\SOFTWARE\\Pwned) `whoami` {{ lookup("pipe", "id") }}',
    "<script>alert(1)</script>",
    "\x00\x1b[31m\u202e\ufeff\ud7ff",
    "9" * 5000,
    "0x" + "f" * 5000,
]


@st.composite
def mutated_line(draw) -> str:
    """A real ERRORLOG line, then truncated, spliced with text or given huge numbers."""
    line = draw(st.sampled_from(REAL_LINES))
    for _mutation in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["truncate", "insert", "huge_number", "drop_commas", "repeat"]))
        position = draw(st.integers(0, len(line)))
        if kind == "truncate":
            line = line[:position]
        elif kind == "insert":
            text = draw(st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE)))
            line = line[:position] + text + line[position:]
        elif kind == "huge_number":
            line = re.sub(r"\d+", lambda _m: "9" * draw(st.integers(1, 6000)), line, count=1)
        elif kind == "drop_commas":
            line = line.replace(",", " ")
        else:
            line = line * draw(st.integers(2, 30))
    return line


lines = st.lists(st.one_of(st.text(max_size=300), mutated_line(), st.sampled_from(HOSTILE)), max_size=20)


@FUZZ
@given(st.lists(lines, max_size=3))
def test_loaded_certificate(logs):
    result = errorlog.loaded_certificate(logs)
    assert set(result) == {"thumbprint", "self_generated", "logged_at", "line"}
    assert result["thumbprint"] is None or re.fullmatch(r"[0-9a-f]{40}", result["thumbprint"])
    assert isinstance(result["self_generated"], bool)
    assert result["line"] is None or any(result["line"] == line.strip() for log in logs for line in log)


@FUZZ
@given(lines)
def test_load_problems(log):
    problems = errorlog.load_problems(log)
    assert all(isinstance(p, str) for p in problems) and len(problems) <= len(log)


@FUZZ
@given(st.one_of(st.text(max_size=2000), mutated_line()))
def test_login_timings_and_class(line):
    timings = errorlog.login_timings(line)
    assert all(isinstance(k, str) and isinstance(v, int) and 0 <= v < 10**12 for k, v in timings.items())
    split = errorlog.login_split(timings)
    assert split["total"] == split["queue"] + split["ssl"] + split["rest"] and split["rest"] >= 0
    assert errorlog.classify_login(timings) in errorlog.LOGIN_CLASSES


@FUZZ
@given(lines)
def test_evidence(log):
    result = errorlog.evidence(log)
    assert 0 <= result["errors_17830_10054"] <= result["errors_17830"]
    assert 0 <= result["errors_17197"] <= len(log)
    classes = result["classes_10054"]
    assert set(classes) == set(errorlog.LOGIN_CLASSES)
    assert sum(c["count"] for c in classes.values()) == result["errors_17830_10054"]


def test_a_timing_of_thousands_of_digits_is_ignored_not_a_crash():
    # int() refuses more than 4300 digits (CPython's integer string conversion limit).
    huge = login_error_lines(5003, 0, 5003)[1].replace("total 5003 ms", "total " + "9" * 5000 + " ms")
    result = errorlog.evidence([huge])
    # the event counts; the unreadable field is left out, the others are read
    assert result["errors_17830_10054"] == 1
    assert result["login_ms_10054"] == {"total": 0, "enqueued": 0, "establishing_ssl": 5003}


def test_two_hundred_lines_of_ten_thousand_characters_parse_in_linear_time():
    # file.tail returns up to 200 lines per pattern; a lazy regex over the whole line made each
    # 10,000-character line cost a second (quadratic), so one hostile log stalled the audit.
    head = login_error_lines(5003, 0, 5003)[1].split("Time spent during login:")[0]
    bodies = ["a " * 5000, "ab" * 5000, "a," * 5000, " " * 10000, "x" * 9990 + " 1 ms"]
    log = [f"{head}Time spent during login: total {body}" for body in bodies] * 40
    started = time.monotonic()
    errorlog.evidence(log)
    errorlog.loaded_certificate([log])
    errorlog.load_problems(log)
    assert time.monotonic() - started < 2.0
