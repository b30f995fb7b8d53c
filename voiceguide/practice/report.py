"""What ``voiceguide log`` and ``voiceguide cues`` print, from rows of the practice log.

Pure functions of rows and "now", so they are tested without a database or a
clock. The wording is deliberately gentle: days practised are counted, days
missed are never named, and a run of consecutive days ("streak") is shown
only when the listener turned it on (``streaks = true`` in the config) --
and even then a run that ended is simply not mentioned.

A day counts as practised when sessions on it played at least
:data:`PRACTISED_SECONDS` in total, or a cue was noted on it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime, timedelta
from typing import Dict, Iterable, List, Optional, Sequence

from voiceguide.practice.store import SESSION_FIELDS, CueRow, SessionRow
from voiceguide.visible import visible

PRACTISED_SECONDS = 60.0
WEEK = 7
BAR_WIDTH = 30
EIGHTHS = " ▏▎▍▌▋▊▉"


def clock(seconds: Optional[float]) -> str:
    """``9:58``, ``1:02:03``; ``?`` for unknown."""
    if seconds is None:
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _day(iso: str) -> date:
    return date.fromisoformat(iso[:10])


def today(now: Optional[datetime] = None) -> date:
    return (now or datetime.now().astimezone()).date()


def is_running(row: SessionRow) -> bool:
    """An ``interrupted`` row whose process is still alive is a session playing right now."""
    if row.ended != "interrupted" or not row.pid:
        return False
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but someone else's: a pid reused after a reboot
    try:  # Linux: the process must be older than the session (not a reused pid)
        with open(f"/proc/{row.pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        import time

        born = time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
        return born <= row.started_at + 5.0
    except (OSError, ValueError, IndexError):
        return True


def ending(row: SessionRow) -> str:
    """How a session ended, in words."""
    if row.ended == "stopped":
        where = f" at step {row.step}" if row.step is not None else ""
        if row.section:
            where += f" ({row.section})"
        return "stopped" + where
    if row.ended == "error":
        return f"error: {row.message}" if row.message else "error"
    if row.ended == "interrupted" and is_running(row):
        return "playing now"
    return row.ended


def minutes_by_day(sessions: Iterable[SessionRow]) -> Dict[date, float]:
    minutes: Dict[date, float] = {}
    for row in sessions:
        day = _day(row.started)
        minutes[day] = minutes.get(day, 0.0) + row.listened / 60.0
    return minutes


def practised_days(seconds_by_day: Dict[date, float], cue_days: Iterable[date]) -> set:
    """The local dates with at least :data:`PRACTISED_SECONDS` of practice, or a cue."""
    days = {day for day, total in seconds_by_day.items() if total >= PRACTISED_SECONDS}
    days.update(cue_days)
    return days


def last_days(end: date, count: int = WEEK) -> List[date]:
    return [end - timedelta(days=count - 1 - i) for i in range(count)]


def streak(days: set, end: date) -> int:
    """Consecutive practised days up to *end* (or up to the day before, if *end* is not over yet)."""
    day = end if end in days else end - timedelta(days=1)
    run = 0
    while day in days:
        run += 1
        day -= timedelta(days=1)
    return run


def summary(days: set, end: date, show_streak: bool = False) -> List[str]:
    """The gentle line(s) under the table or chart: days practised, and a streak only if wanted."""
    week = [d for d in last_days(end) if d in days]
    if not week:
        return []
    lines = [f"Practised on {len(week)} of the last {WEEK} days."]
    if show_streak:
        run = streak(days, end)
        if run >= 2:
            lines.append(f"{run} days in a row.")
    return lines


def table(rows: Sequence[SessionRow]) -> List[str]:
    """The sessions as aligned text lines (newest first, as given)."""
    if not rows:
        return []
    cells = [("when", "exercise", "listened", "ended")]
    for row in rows:
        when = datetime.fromisoformat(row.started).strftime("%a %d %b %Y %H:%M")
        listened = clock(row.listened) + (f" of {clock(row.planned)}" if row.planned else "")
        cells.append((when, visible(row.title), listened, ending(row)))
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    return [f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:>{widths[2]}}  {c[3]}".rstrip() for c in cells]


def bar(value: float, top: float, width: int = BAR_WIDTH, unicode: bool = True) -> str:
    """A horizontal bar of *value* out of *top*, to an eighth of a character."""
    if value <= 0 or top <= 0:
        return ""
    eighths = max(1, int(round(min(value, top) / top * width * 8)))
    if not unicode:
        return "#" * max(1, round(eighths / 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def week_chart(sessions: Iterable[SessionRow], end: date, unicode: bool = True) -> List[str]:
    """The last seven days as bars of minutes listened, oldest first, today last."""
    minutes = minutes_by_day(sessions)
    days = last_days(end)
    top = max([10.0] + [minutes.get(d, 0.0) for d in days])
    lines = ["Minutes listened, last 7 days:"]
    for day in days:
        value = minutes.get(day, 0.0)
        label = "today" if day == end else day.strftime("%a %d")
        shown = bar(value, top, unicode=unicode)
        count = f"  {value:.0f}" if value >= 0.5 else ""
        lines.append(f"  {label:<6}  {shown}{count}".rstrip())
    return lines


def sessions_json(rows: Iterable[SessionRow]) -> str:
    return json.dumps([row.as_dict() for row in rows], ensure_ascii=False, indent=1)


def sessions_csv(rows: Iterable[SessionRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SESSION_FIELDS)
    writer.writerows(["" if value is None else value for value in map(row.__getattribute__, SESSION_FIELDS)]
                     for row in rows)
    return out.getvalue()


def cues_json(cues: Iterable[CueRow]) -> str:
    return json.dumps([cue.as_dict() for cue in cues], ensure_ascii=False, indent=1)


def cues_by_day(cues: Sequence[CueRow]) -> List[str]:
    """Cues grouped under their day, oldest first."""
    lines: List[str] = []
    day = None
    for cue in cues:
        if cue.day != day:
            day = cue.day
            if lines:
                lines.append("")
            lines.append(date.fromisoformat(day).strftime("%A %d %B %Y"))
        if cue.audio:
            spoken = f"(spoken, {clock(cue.seconds)}) {visible(cue.recording)}"
            lines.append(f"  {cue.noted[11:16]}  {spoken}" + (f"  {visible(cue.text)}" if cue.text else ""))
        else:
            lines.append(f"  {cue.noted[11:16]}  {visible(cue.text)}")
    return lines
