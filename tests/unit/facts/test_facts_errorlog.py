import re

from ansible_collections.mssql.tls.plugins.plugin_utils.facts import errorlog

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
