import re

from ansible_collections.mssql.tls.plugins.plugin_utils.facts import errorlog
from ansible_collections.mssql.tls.tests.unit.facts.winhost import login_error_lines

TP = "4515A756DDEE5FF8619C33526712E99EB60AEDBB"
TS = "2026-11-29 22:00:03.45 Server      "
LOADED = f'{TS}The certificate [Cert Hash(sha1) "{TP}"] was successfully loaded for encryption.'
SELF = (
    "2026-11-20 02:11:44.90 Server      A self-generated certificate was successfully loaded for encryption."
)
HEADER = "2026-11-29 14:02:11.41 Logon       Error: 17830, Severity: 20, State: 11."
RESET = (
    "2026-11-29 14:02:11.41 Logon       Network error code 0x2746 occurred while establishing a "
    "connection; the connection has been closed. This may have been caused by client or server login "
    "timeout expiration. Time spent during login: total {total} ms, enqueued {enqueued} ms, "
    "network writes 0 ms, network reads 0 ms, "
    "establishing SSL {ssl} ms, negotiating SSPI 0 ms, validating login 0 ms, including user-defined login "
    "processing 0 ms. [CLIENT: 10.0.0.21]"
)
TIMEOUT = [
    "2026-11-29 14:05:00.10 Logon       Error: 17197, Severity: 20, State: 1.",
    "2026-11-29 14:05:00.10 Logon       Login failed due to timeout; the connection has been closed. "
    "This error may indicate heavy server load. Reduce the load on the server and retry login. "
    "[CLIENT: 10.0.0.22]",
]


def test_the_newest_loaded_line_wins_and_thumbprints_are_lower_case():
    result = errorlog.loaded_certificate([[SELF, LOADED], []])
    assert result["thumbprint"] == TP.lower()
    assert result["self_generated"] is False
    assert result["logged_at"] == "2026-11-29 22:00:03.45"


def test_the_previous_log_is_read_when_the_current_one_was_cycled():
    result = errorlog.loaded_certificate(
        [["2026-11-30 00:00:00.00 spid51      Attempting to cycle error log."], [SELF]]
    )
    assert result["self_generated"] is True and result["thumbprint"] is None
    assert errorlog.loaded_certificate([[], []])["line"] is None


def test_17830_header_and_message_count_once_and_timings_add_up():
    lines = [
        HEADER,
        RESET.format(total=4, enqueued=1, ssl=3),
        HEADER,
        RESET.format(total=9, enqueued=5, ssl=2),
    ]
    evidence = errorlog.evidence(lines + TIMEOUT)
    assert evidence["errors_17830"] == 2
    assert evidence["errors_17830_10054"] == 2
    assert evidence["errors_17197"] == 1
    assert evidence["login_ms_10054"] == {"total": 13, "enqueued": 6, "establishing_ssl": 5}


def test_other_network_errors_are_17830_but_not_10054():
    other = RESET.format(total=30001, enqueued=0, ssl=0).replace("0x2746", "0x68")
    evidence = errorlog.evidence([HEADER, other])
    assert (evidence["errors_17830"], evidence["errors_17830_10054"]) == (1, 0)
    assert evidence["login_ms_10054"]["total"] == 0


def test_headers_without_an_english_message_still_count():
    evidence = errorlog.evidence(
        [HEADER, "2026-11-29 14:02:11.41 Logon       ネットワーク エラー コード 0x2746", HEADER]
    )
    assert evidence["errors_17830"] == 2
    assert evidence["errors_17830_10054"] == 0


def test_load_problems_are_collected():
    lines = [
        f'{TS}Found the certificate [Cert Hash(sha1) "{TP}"] in the local computer '
        "store but the SQL Server service account does not have access to it.",
        LOADED,
    ]
    assert errorlog.load_problems(lines) == [lines[0]]


def test_the_file_tail_patterns_keep_every_line_the_parsers_read():
    startup = re.compile(errorlog.STARTUP_PATTERN)
    evidence = re.compile(errorlog.EVIDENCE_PATTERN)
    assert startup.search(LOADED) and startup.search(SELF)
    assert all(evidence.search(line) for line in [HEADER, RESET, *TIMEOUT])
    assert not evidence.search("2026-11-29 14:05:00.10 spid12s     Recovery is complete.")


# --- 17830 lines by where the login time went (reference 14a) -------------------------------------
def classes_of(*events):
    evidence = errorlog.evidence([line for event in events for line in event])
    return {name: entry["count"] for name, entry in evidence["classes_10054"].items() if entry["count"]}


def test_both_message_forms_are_read_field_by_field():
    short = errorlog.login_timings(login_error_lines(15041, 14987, 0, network_reads=1)[1])
    assert short == {
        "total": 15041,
        "enqueued": 14987,
        "network writes": 0,
        "network reads": 1,
        "establishing SSL": 0,
        "negotiating SSPI": 0,
        "validating login": 0,
        "including user-defined login processing": 0,
    }
    extended = errorlog.login_timings(
        login_error_lines(40, 0, 38, during_ssl={"reads": 30, "secure_calls": 8})[1]
    )
    assert len(extended) == 16
    assert extended["network reads during SSL"] == 30 and extended["secure calls during SSL"] == 8
    assert extended["enqueued during SSPI"] == 0 and extended["establishing SSL"] == 38
    assert errorlog.login_timings("Network error code 0x2746 occurred while establishing a connection") == {}


def test_a_login_that_waited_15_seconds_in_the_queue_is_starvation():
    assert classes_of(login_error_lines(15041, 14987, 0, network_reads=1)) == {"starvation": 1}


def test_a_login_that_failed_inside_the_tls_handshake_is_a_handshake_failure_even_when_quick():
    assert classes_of(login_error_lines(4, 1, 3)) == {"tls_handshake": 1}
    assert classes_of(login_error_lines(15000, 400, 14600)) == {"tls_handshake": 1}


def test_all_zero_timings_or_a_few_ms_of_queueing_are_a_client_that_opened_and_closed_the_socket():
    assert classes_of(login_error_lines(0, 0, 0), login_error_lines(3, 3, 0)) == {"client_reset": 2}


def test_slow_client_reads_short_queueing_sspi_and_lines_without_timings_are_other():
    no_timings = [
        HEADER,
        "2026-11-29 14:02:11.41 Logon       Network error code 0x2746 occurred while "
        "establishing a connection; the connection has been closed.",
    ]
    assert classes_of(
        login_error_lines(501, 0, 0, network_reads=501),
        login_error_lines(600, 590, 0),  # queued, but not for long: below the 1000 ms floor
        login_error_lines(9000, 10, 0, sspi=8990),
        no_timings,
    ) == {"other": 4}


def test_the_extended_form_moves_ssl_time_spent_enqueued_to_the_queue():
    waiting = login_error_lines(15000, 10, 14980, during_ssl={"enqueued": 14900, "secure_calls": 80})
    handshaking = login_error_lines(15000, 10, 14980, during_ssl={"reads": 14900, "secure_calls": 80})
    assert classes_of(waiting) == {"starvation": 1}
    assert classes_of(handshaking) == {"tls_handshake": 1}


def test_class_sums_are_kept_next_to_the_counts_and_other_codes_are_not_classified():
    evidence = errorlog.evidence(
        [
            *login_error_lines(15000, 14990, 0),
            *login_error_lines(5000, 4000, 0),
            *login_error_lines(4, 1, 3),
            *login_error_lines(15000, 15000, 0, code="0x68"),
        ]
    )
    assert evidence["errors_17830"] == 4 and evidence["errors_17830_10054"] == 3
    assert evidence["classes_10054"] == {
        "starvation": {"count": 2, "total_ms": 20000, "queue_ms": 18990, "ssl_ms": 0},
        "tls_handshake": {"count": 1, "total_ms": 4, "queue_ms": 1, "ssl_ms": 3},
        "client_reset": {"count": 0, "total_ms": 0, "queue_ms": 0, "ssl_ms": 0},
        "other": {"count": 0, "total_ms": 0, "queue_ms": 0, "ssl_ms": 0},
    }
    assert evidence["login_ms_10054"] == {"total": 20004, "enqueued": 18991, "establishing_ssl": 3}


def test_the_file_tail_pattern_keeps_the_extended_form():
    evidence = re.compile(errorlog.EVIDENCE_PATTERN)
    assert all(evidence.search(line) for line in login_error_lines(1, 0, 1, during_ssl={}))
