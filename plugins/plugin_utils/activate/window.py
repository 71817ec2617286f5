"""The change window: restarts and reboots happen only while it is open, in the host's local time.

A window is ``start``/``end`` as ``HH:MM`` (every day; an end before the start wraps past
midnight) or as local ISO datetimes ``2026-12-12T22:00`` (one night only). Unset on both ends
means always open. The host's local time comes from its own clock, read in the gather
(``os.info``: ``local_time`` and ``utc_offset_minutes``, facts ``host``): the controller's UTC
clock plus the host's offset and the skew measured at the gather.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class WindowError(ValueError):
    """A window bound that is neither HH:MM nor a local ISO datetime; the message names the field."""


@dataclass(frozen=True)
class Window:
    start: dt.time | dt.datetime | None = None
    end: dt.time | dt.datetime | None = None

    @property
    def always_open(self) -> bool:
        return self.start is None and self.end is None


def _bound(value: Any, field: str) -> dt.time | dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise WindowError(f"{field}: expected HH:MM or YYYY-MM-DDTHH:MM (host-local time), got {value!r}")
    match = _CLOCK.match(value.strip())
    if match:
        return dt.time(int(match[1]), int(match[2]))
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise WindowError(
            f"{field}: expected HH:MM or YYYY-MM-DDTHH:MM (host-local time), got {value!r}"
        ) from None
    if parsed.tzinfo is not None:
        raise WindowError(f"{field}: expected a host-local time without a UTC offset, got {value!r}")
    return parsed


def parse_window(start: Any, end: Any, field_prefix: str = "window") -> Window:
    window = Window(_bound(start, f"{field_prefix}_start"), _bound(end, f"{field_prefix}_end"))
    kinds = {type(b) for b in (window.start, window.end) if b is not None}
    if len(kinds) > 1:
        raise WindowError(
            f"{field_prefix}_start/{field_prefix}_end: expected both as HH:MM or both as datetimes"
        )
    if (window.start is None) != (window.end is None):
        raise WindowError(f"{field_prefix}_start/{field_prefix}_end: set both, or neither (always open)")
    return window


def is_open(window: Window, local_now: dt.datetime) -> bool:
    if window.always_open:
        return True
    start, end = window.start, window.end
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return start <= local_now.replace(tzinfo=None) < end
    now = local_now.time().replace(tzinfo=None)
    if not (isinstance(start, dt.time) and isinstance(end, dt.time)):  # parse_window keeps both alike
        raise WindowError("window_start/window_end: expected both as HH:MM or both as datetimes")
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # wraps past midnight


def host_local_now(
    host: Mapping[str, Any], gathered_at: str | None, utc_now: dt.datetime
) -> dt.datetime | None:
    """The host's local time now: controller UTC + host offset + clock skew seen at the gather."""
    offset = host.get("utc_offset_minutes")
    if not isinstance(offset, int):
        return None
    local = utc_now.astimezone(dt.timezone.utc) + dt.timedelta(minutes=offset)
    local_time, gathered = host.get("local_time"), gathered_at
    if isinstance(local_time, str) and isinstance(gathered, str):
        try:
            host_utc = dt.datetime.fromisoformat(local_time).astimezone(dt.timezone.utc)
            controller_utc = dt.datetime.fromisoformat(gathered.replace("Z", "+00:00"))
            local += host_utc - controller_utc
        except ValueError:
            pass
    return local.replace(tzinfo=None)
