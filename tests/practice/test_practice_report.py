"""What `voiceguide log` and `cues` show: gentle counts, a week of bars, data for elsewhere."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from voiceguide.practice import report
from voiceguide.practice.store import CueRow, SessionRow

TODAY = date(2024, 5, 14)  # a Tuesday


def session(day, listened, ended="completed", planned=600.0, hour=7, **kw):
    started = f"{day}T{hour:02d}:30:00+02:00"
    return SessionRow(id=kw.pop("id", 1), exercise=kw.pop("exercise", "body-scan"),
                      title=kw.pop("title", "Body scan"), started=started, started_at=0.0,
                      planned=planned, listened=listened, ended=ended, **kw)


def cue(day, text="warmth"):
    return CueRow(id=1, day=day, noted=f"{day}T21:05:00+02:00", noted_at=0.0, text=text)


def test_clock():
    assert [report.clock(s) for s in (0, 59.6, 61, 3723, None)] == ["0:00", "1:00", "1:01", "1:02:03", "?"]


def test_table_says_how_each_session_ended():
    rows = [
        session("2024-05-14", 598, planned=600),
        session("2024-05-13", 190, ended="stopped", step=9, section="Neck and shoulders"),
        session("2024-05-12", 12, ended="error", message="the output device stopped working"),
        session("2024-05-11", 75, ended="interrupted", pid=None),
    ]
    lines = report.table(rows)
    assert lines[0].split() == ["when", "exercise", "listened", "ended"]
    assert lines[1].startswith("Tue 14 May 2024 07:30") and "9:58 of 10:00" in lines[1]
    assert lines[1].endswith("completed")
    assert lines[2].endswith("stopped at step 9 (Neck and shoulders)")
    assert lines[3].endswith("error: the output device stopped working")
    assert lines[4].endswith("interrupted")
    assert len({line.index("exercise") if i == 0 else line.index("Body scan") for i, line in enumerate(lines)}) == 1


def test_a_row_of_a_live_process_reads_playing_now():
    import os

    import time

    row = session("2024-05-14", 10, ended="interrupted", pid=os.getpid())
    row.started_at = time.time()
    assert report.ending(row) == "playing now"


def test_days_practised_count_a_minute_or_a_cue_and_never_name_missed_days():
    sessions = [session("2024-05-14", 300), session("2024-05-12", 30), session("2024-05-12", 31),
                session("2024-05-10", 20), session("2024-05-01", 600)]
    seconds = {}
    for row in sessions:
        day = date.fromisoformat(row.started[:10])
        seconds[day] = seconds.get(day, 0.0) + row.listened
    days = report.practised_days(seconds, [date(2024, 5, 9)])
    assert days == {date(2024, 5, 14), date(2024, 5, 12), date(2024, 5, 9), date(2024, 5, 1)}
    lines = report.summary(days, TODAY)
    assert lines == ["Practised on 3 of the last 7 days."]
    assert report.summary(set(), TODAY) == []  # nothing to count: nothing said


def test_streaks_only_when_asked_and_a_finished_run_is_not_mentioned():
    days = {date(2024, 5, d) for d in (11, 12, 13, 14)}
    assert report.summary(days, TODAY) == ["Practised on 4 of the last 7 days."]
    assert report.summary(days, TODAY, show_streak=True)[-1] == "4 days in a row."
    # today not practised yet: the run up to yesterday still counts
    assert report.streak(days - {TODAY}, TODAY) == 3
    # a run that ended days ago is simply not shown
    old = {date(2024, 5, d) for d in (8, 9, 10)}
    assert report.summary(old, TODAY, show_streak=True) == ["Practised on 3 of the last 7 days."]


def test_week_chart_draws_minutes_as_bars():
    sessions = [session("2024-05-14", 1200), session("2024-05-12", 300), session("2024-05-12", 300),
                session("2024-05-07", 600)]  # eight days ago: not in the chart
    lines = report.week_chart(sessions, TODAY)
    assert lines[0] == "Minutes listened, last 7 days:"
    body = lines[1:]
    assert [line.split()[0] for line in body] == ["Wed", "Thu", "Fri", "Sat", "Sun", "Mon", "today"]
    bars = [line.count("█") for line in body]
    assert bars[-1] == report.BAR_WIDTH           # 20 minutes: the longest day fills the width
    assert bars[4] == report.BAR_WIDTH // 2       # Sunday, 10 minutes: half
    assert bars[0] == bars[1] == bars[2] == bars[3] == bars[5] == 0
    assert body[-1].endswith("20") and body[4].endswith("10")
    ascii_lines = report.week_chart(sessions, TODAY, unicode=False)
    assert all(ord(ch) < 128 for line in ascii_lines for ch in line)
    assert ascii_lines[-1].count("#") == report.BAR_WIDTH


def test_a_short_day_still_shows_a_sliver():
    assert report.bar(0.2, 60) != ""
    assert report.bar(0, 60) == ""


def test_json_and_csv_round_trip():
    rows = [session("2024-05-14", 598.5, voice="gmw/en", id=2),
            session("2024-05-13", 190, ended="stopped", step=9, section="Neck, and shoulders", id=1)]
    data = json.loads(report.sessions_json(rows))
    assert data[0]["started"] == "2024-05-14T07:30:00+02:00" and data[0]["listened"] == 598.5
    assert data[1]["section"] == "Neck, and shoulders" and data[1]["step"] == 9
    assert "pid" not in data[0]
    parsed = list(csv.DictReader(io.StringIO(report.sessions_csv(rows))))
    assert [p["ended"] for p in parsed] == ["completed", "stopped"]
    assert parsed[1]["section"] == "Neck, and shoulders" and parsed[0]["voice"] == "gmw/en"
    assert parsed[0]["step"] == ""


def test_cues_grouped_by_day():
    cues = [cue("2024-05-13", "a pang of envy"), cue("2024-05-14", "warmth"), cue("2024-05-14", "ease")]
    lines = report.cues_by_day(cues)
    assert lines == ["Monday 13 May 2024", "  21:05  a pang of envy", "",
                     "Tuesday 14 May 2024", "  21:05  warmth", "  21:05  ease"]
    assert json.loads(report.cues_json(cues))[0] == {"id": 1, "day": "2024-05-13",
                                                     "noted": "2024-05-13T21:05:00+02:00",
                                                     "text": "a pang of envy", "recording": None,
                                                     "seconds": None, "exercise": None}
    spoken = CueRow(id=2, day="2024-05-14", noted="2024-05-14T07:40:00+02:00", noted_at=0.0, text="",
                    audio="recordings/a.flac", seconds=20.0, exercise="daily-check-in", folder=Path("/d"))
    assert report.cues_by_day([spoken])[1] == "  07:40  (spoken, 0:20) /d/recordings/a.flac"
