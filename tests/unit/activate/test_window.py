"""Change windows in the host's local time: daily HH:MM (also past midnight) and one-off datetimes."""

from __future__ import annotations

import datetime as dt

import pytest
from ansible_collections.mssql.tls.plugins.plugin_utils.activate.window import (
    WindowError,
    host_local_now,
    is_open,
    parse_window,
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_unset_is_always_open():
    assert is_open(parse_window(None, None), at("2026-12-07T12:00"))
    assert is_open(parse_window("", ""), at("2026-12-07T12:00"))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-12-07T21:59", False),
        ("2026-12-07T22:00", True),
        ("2026-12-08T03:59", True),
        ("2026-12-08T04:00", False),
    ],
)
def test_a_daily_window_wraps_past_midnight(now, expected):
    assert is_open(parse_window("22:00", "04:00"), at(now)) is expected


def test_a_daytime_window_does_not_wrap():
    window = parse_window("09:00", "17:00")
    assert is_open(window, at("2026-12-07T12:00")) and not is_open(window, at("2026-12-07T18:00"))


def test_a_one_off_window_is_bounded_by_dates():
    window = parse_window("2026-12-12T22:00", "2026-12-13T02:00")
    assert is_open(window, at("2026-12-13T01:00"))
    assert not is_open(window, at("2026-12-14T01:00"))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("25:00", "04:00", "window_start"),
        ("22:00", "tomorrow", "window_end"),
        ("22:00", None, "window_start/window_end"),
        ("22:00", "2026-12-13T02:00", "window_start/window_end"),
        ("2026-12-12T22:00+02:00", "2026-12-13T02:00", "window_start"),
    ],
)
def test_bad_bounds_name_the_field_and_the_expected_form(start, end, field):
    with pytest.raises(WindowError, match=field):
        parse_window(start, end)


def test_host_local_time_uses_the_host_offset_and_its_clock_skew():
    host = {"utc_offset_minutes": 120, "local_time": "2026-12-07T21:05:00+02:00"}
    # the host clock was 5 minutes ahead of the controller at the gather (19:00 UTC)
    local = host_local_now(
        host, "2026-12-07T19:00:00Z", dt.datetime(2026, 12, 7, 19, 30, tzinfo=dt.UTC)
    )
    assert local == dt.datetime(2026, 12, 7, 21, 35)


def test_host_local_time_is_unknown_without_an_offset():
    assert host_local_now({}, None, dt.datetime(2026, 12, 7, tzinfo=dt.UTC)) is None
