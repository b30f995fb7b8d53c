"""When a schedule plays: a time of day, a set of weekdays, systemd's calendar and the next run.

Why a module of its own: reading ``--at 07:30 --days mon..fri`` and writing
``OnCalendar=Mon..Fri *-*-* 07:30:00`` is pure text and dates, with no unit
file and no systemd in it; :mod:`voiceguide.station.systemd` writes the
units around it, and the tests compare every calendar with
``systemd-analyze calendar``.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import FrozenSet, Iterable, List, Optional, Set, Tuple

from voiceguide.errors import ScheduleError

__all__ = ["DAYS", "DAYS_HELP", "parse_time", "parse_days", "days_spec", "days_text", "calendar", "next_run"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_ALIASES = {
    **{d: i for i, d in enumerate(DAYS)},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                         "saturday", "sunday"))},
}
_GROUPS = {"daily": range(7), "everyday": range(7), "every-day": range(7), "all": range(7),
           "weekdays": range(5), "weekends": range(5, 7), "weekend": range(5, 7)}
DAYS_HELP = "days such as mon..fri, sat,sun, mon,wed,fri, weekdays, weekends or daily"


def parse_time(text: str) -> Tuple[int, int]:
    """``07:30`` -> (7, 30); 24-hour clock."""
    match = re.fullmatch(r"\s*([0-9]{1,2}):([0-9]{2})\s*", text or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(f"--at {text}: give a time of day as HH:MM on a 24-hour clock, such as 07:30")
    return int(match.group(1)), int(match.group(2))


def parse_days(text: Optional[str]) -> FrozenSet[int]:
    """Weekday numbers (Monday 0) from ``mon..fri``, ``sat,sun``, ``weekdays``, ``daily``..."""
    if text is None or not text.strip():
        return frozenset(range(7))
    days: Set[int] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        if part in _GROUPS:
            days.update(_GROUPS[part])
            continue
        if ".." in part or "-" in part and part not in _GROUPS:
            first, _, last = part.partition(".." if ".." in part else "-")
            if first not in _DAY_ALIASES or last not in _DAY_ALIASES:
                raise ScheduleError(f"--days {text}: {part!r} is not a range of days; use {DAYS_HELP}")
            a, b = _DAY_ALIASES[first], _DAY_ALIASES[last]
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            continue
        if part not in _DAY_ALIASES:
            from voiceguide.errors import did_you_mean

            raise ScheduleError(f"--days {text}: unknown day {part!r}{did_you_mean(part, DAYS)}; use {DAYS_HELP}")
        days.add(_DAY_ALIASES[part])
    if not days:
        raise ScheduleError(f"--days {text}: no day given; use {DAYS_HELP}")
    return frozenset(days)


def days_spec(days: Iterable[int]) -> str:
    """systemd's weekday list for *days*: ``Mon..Fri``, ``Sat,Sun``; ``""`` for every day."""
    days = sorted(set(days))
    if len(days) == 7:
        return ""
    runs: List[List[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_SYSTEMD_DAYS[run[0]]}..{_SYSTEMD_DAYS[run[-1]]}")
        else:
            parts.extend(_SYSTEMD_DAYS[d] for d in run)
    return ",".join(parts)


def days_text(days: Iterable[int]) -> str:
    """How ``list`` shows the days: ``mon..fri``, ``sat,sun``, ``daily``."""
    return days_spec(days).lower() or "daily"


def calendar(hour: int, minute: int, days: Iterable[int]) -> str:
    """The ``OnCalendar=`` expression, in systemd's normalised form."""
    spec = days_spec(days)
    return f"{spec + ' ' if spec else ''}*-*-* {hour:02d}:{minute:02d}:00"


def next_run(hour: int, minute: int, days: Iterable[int],
             now: Optional[_dt.datetime] = None) -> _dt.datetime:
    """The next local time the calendar elapses after *now* (what systemd would say)."""
    now = now or _dt.datetime.now().astimezone()
    days = set(days)
    for ahead in range(8):
        day = now.date() + _dt.timedelta(days=ahead)
        when = _dt.datetime.combine(day, _dt.time(hour, minute), tzinfo=now.tzinfo)
        if when.weekday() in days and when > now:
            return when
    raise AssertionError("a non-empty weekday set elapses within a week")  # pragma: no cover
