"""Reboot: schedule through a journaled os.reboot, then poll until the boot time changes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.reboot import (
    RebootError,
    schedule,
    wait_for_new_boot,
)
from ansible_collections.mssql.tls.plugins.plugin_utils.agent.client import BatchResult, OpResult

NOW = dt.datetime(2026, 12, 7, 19, 0, tzinfo=dt.UTC)
RUN = "20261207T190000Z-ab12cd"


class Clock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds

    def monotonic(self):
        return self.t


def test_schedule_sends_one_journaled_os_reboot_and_returns_the_old_boot_time():
    sent = []

    def run_batch(ops, journal):
        sent.append((ops, journal))
        return BatchResult([OpResult("os.reboot", True, {"previous_boot_utc": "2026-12-01T00:00:00Z"})])

    previous, journal_id = schedule(run_batch, reason="mssql.tls test", delay_s=5, run_id=RUN, now=NOW)
    ((ops, journal),) = sent
    assert ops == [{"op": "os.reboot", "reason": "mssql.tls test", "delay_s": 5}]
    assert journal_id == journal["id"] and re.fullmatch(rf"{RUN}\.reboot\.1-[0-9a-f]{{4}}", journal_id)
    assert json.loads(journal["line"])["kind"] == "activation"
    assert previous == "2026-12-01T00:00:00Z"


def test_a_refused_reboot_names_the_agent_error_and_the_journal_record():
    def run_batch(ops, journal):
        return BatchResult(
            [OpResult("os.reboot", False, error_kind="access_denied", error_message="no privilege")]
        )

    record = r"\(journal record .*reboot\.1-[0-9a-f]{4}\)"
    with pytest.raises(RebootError, match=r"access_denied: no privilege " + record):
        schedule(run_batch, reason="x", delay_s=0, run_id=RUN, now=NOW)


def test_polls_through_connection_failures_until_a_new_boot_time_with_back_off():
    clock = Clock()
    answers = iter(
        [
            ConnectionError("refused"),
            ConnectionError("refused"),
            {"last_boot_utc": "OLD"},
            {"last_boot_utc": "NEW"},
        ]
    )

    def poll():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = wait_for_new_boot(poll, "OLD", timeout_s=600, sleep=clock.sleep, monotonic=clock.monotonic)
    assert outcome.boot_utc == "NEW" and outcome.polls == 4 and len(outcome.failures) == 2
    assert clock.sleeps == [2.0, 4.0, 8.0, 12.0]


def test_a_host_that_does_not_come_back_fails_with_the_last_error_after_the_timeout():
    clock = Clock()

    def poll():
        raise ConnectionError("connection refused")

    with pytest.raises(RebootError, match=r"within 30 s .*boot time before: OLD.*connection refused"):
        wait_for_new_boot(poll, "OLD", timeout_s=30, sleep=clock.sleep, monotonic=clock.monotonic)
