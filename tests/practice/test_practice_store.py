"""The practice log's database: private, migrated from every earlier version, safe with two writers.

Everything here uses the real SQLite through the real :class:`PracticeLog`;
the crash test kills a real process with SIGKILL.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from voiceguide.practice import migrations
from voiceguide.practice.migrations import SCHEMA_VERSION
from voiceguide.practice.store import PracticeLog, PracticeLogError, local_time


@pytest.fixture()
def db(tmp_path):
    return tmp_path / "data" / "voiceguide" / "practice.sqlite3"


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_log_is_private_and_in_wal_mode(db):
    with PracticeLog(db) as log:
        log.open_session(exercise="body-scan", title="Body scan", started_at=time.time())
        assert (db.parent / (db.name + "-wal")).exists()
        assert mode(db.parent / (db.name + "-wal")) == 0o600
        assert log.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_existing_log_readable_by_others_is_made_private(db):
    db.parent.mkdir(parents=True)
    db.touch()
    os.chmod(db, 0o644)
    PracticeLog(db).close()
    assert mode(db) == 0o600


def test_a_session_row_from_start_to_end(db):
    started = time.time() - 600
    with PracticeLog(db) as log:
        sid = log.open_session(exercise="body-scan", title="Body scan", started_at=started, voice="gmw/en",
                               pid=os.getpid())
        (row,) = log.sessions()
        assert (row.ended, row.listened, row.pid) == ("interrupted", 0.0, os.getpid())
        log.update_progress(sid, 120.0, 605.0)
        log.close_session(sid, ended="stopped", listened=301.5, step=9, section="Neck and shoulders")
        (row,) = log.sessions()
    assert (row.exercise, row.title, row.voice, row.origin) == ("body-scan", "Body scan", "gmw/en", "play")
    assert (row.ended, row.listened, row.planned) == ("stopped", 301.5, 605.0)
    assert (row.step, row.section, row.message, row.pid) == (9, "Neck and shoulders", None, None)
    # local wall-clock time with its offset, the same instant as started_at
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", row.started)
    from datetime import datetime

    assert abs(datetime.fromisoformat(row.started).timestamp() - started) < 1.0


def test_local_time_carries_the_offset_of_that_moment(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert local_time(1715664600) == "2024-05-14T07:30:00+02:00"   # summer
        assert local_time(1705213800) == "2024-01-14T07:30:00+01:00"   # winter
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_sessions_newest_first_with_limit_and_since(db):
    with PracticeLog(db) as log:
        for i in range(5):
            log.add_session(exercise=f"e{i}", title=f"E{i}", started_at=1000.0 + i, ended="completed",
                            listened=60)
        assert [r.exercise for r in log.sessions(limit=2)] == ["e4", "e3"]
        assert [r.exercise for r in log.sessions(since=1003.0)] == ["e4", "e3"]
        assert log.count_sessions() == 5


def test_a_spoken_cue_keeps_its_recording_beside_the_log(db):
    with PracticeLog(db) as log:
        log.recordings.mkdir()
        path = log.recordings / "2024-05-14-073005.flac"
        path.write_bytes(b"fLaC")
        cue = log.add_cue("", audio=path, seconds=19.96, exercise="daily-check-in", at=1715664600)
        (again,) = log.cues()
    assert again.audio == "recordings/2024-05-14-073005.flac" and again.recording == path
    assert (again.seconds, again.exercise, again.text) == (19.96, "daily-check-in", "")
    assert cue.as_dict()["recording"] == str(path)


def test_cues_are_kept_by_day_and_must_have_words(db):
    with PracticeLog(db) as log:
        cue = log.add_cue("  a pang of envy\nwhen the parcel came  ", at=1715664600)
        assert cue.text == "a pang of envy when the parcel came"
        assert cue.day == cue.noted[:10]
        with pytest.raises(PracticeLogError, match="a few words"):
            log.add_cue("   ")
        assert [c.text for c in log.cues()] == ["a pang of envy when the parcel came"]


# --- versions --------------------------------------------------------------------------

#: Rows a database of each version could hold, written with that version's own columns.
ROWS_AT_VERSION = {
    1: [
        "INSERT INTO sessions (exercise, title, started, started_at, planned, listened, ended, voice)"
        " VALUES ('body-scan', 'Body scan', '2024-05-14T07:30:00+02:00', 1715664600, 600, 598, 'completed', NULL)",
        "INSERT INTO sessions (exercise, title, started, started_at, listened)"
        " VALUES ('breathing', 'Breathing', '2024-05-15T07:30:00+02:00', 1715751000, 42)",
        "INSERT INTO cues (day, noted, noted_at, text)"
        " VALUES ('2024-05-14', '2024-05-14T21:00:00+02:00', 1715713200, 'warmth when my sister called')",
    ],
    2: [
        "INSERT INTO cues (day, noted, noted_at, text, audio, seconds, exercise)"
        " VALUES ('2024-05-15', '2024-05-15T07:40:00+02:00', 1715751600, '',"
        " 'recordings/2024-05-15-074000.flac', 20, 'daily-check-in')",
    ],
}


def build_at(path, version):
    """A database file at *version*, holding the rows that version could have written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrations.migrate(conn, upto=version)
    for v in range(1, version + 1):
        for sql in ROWS_AT_VERSION.get(v, ()):
            conn.execute(sql)
    conn.close()


def test_every_version_has_sample_rows():
    assert sorted(ROWS_AT_VERSION) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("version", range(0, SCHEMA_VERSION))
def test_an_older_log_is_migrated_and_keeps_its_rows(db, version):
    build_at(db, version)
    with PracticeLog(db) as log:
        assert migrations.version(log.conn) == SCHEMA_VERSION
        sessions = log.sessions()
        cues = log.cues()
        # what the old file held is all still there
        if version >= 1:
            assert [(s.exercise, s.ended, s.listened) for s in sessions] == [
                ("breathing", "interrupted", 42.0), ("body-scan", "completed", 598.0)]
            assert cues[0].text == "warmth when my sister called"
            assert (cues[0].audio, cues[0].seconds, cues[0].exercise) == (None, None, None)
        if version >= 2:
            assert (cues[1].audio, cues[1].seconds, cues[1].exercise) == (
                "recordings/2024-05-15-074000.flac", 20.0, "daily-check-in")
        if version == 0:
            assert sessions == [] and cues == []
        # and the current code can write to it
        log.add_session(exercise="x", title="X", started_at=time.time(), ended="completed", listened=1)
        log.add_cue("a new cue")
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_log_from_a_newer_voiceguide_is_left_alone(db):
    build_at(db, SCHEMA_VERSION)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(PracticeLogError, match="newer voiceguide"):
        PracticeLog(db)
    assert db.read_bytes() == before


def test_a_file_that_is_not_a_database_is_reported_not_overwritten(db):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"these are my notes, not a database\n" * 200)
    before = db.read_bytes()
    with pytest.raises(PracticeLogError, match="not a database.*move the file away"):
        PracticeLog(db)
    assert db.read_bytes() == before


def test_two_processes_migrating_an_old_log_at_once(db):
    build_at(db, 0)
    code = textwrap.dedent(f"""
        from voiceguide.practice.store import PracticeLog
        with PracticeLog({str(db)!r}) as log:
            log.add_cue("hello")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert [p.wait(30) for p in procs] == [0, 0, 0]
    with PracticeLog(db) as log:
        assert len(log.cues()) == 3


# --- concurrency and crashes --------------------------------------------------------------

WRITER = """
import sys, time
from voiceguide.practice.store import PracticeLog
name, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with PracticeLog(sys.argv[3]) as log:   # open per session, as play and the station do
        sid = log.open_session(exercise=name, title=name, started_at=time.time())
        log.update_progress(sid, i)
        log.close_session(sid, ended="completed", listened=i + 1)
        if i % 4 == 0:
            log.add_cue(f"{name} cue {i}")
"""


def test_concurrent_writers_lose_nothing(db):
    PracticeLog(db).close()
    n = 60
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, f"w{k}", str(n), str(db)],
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with PracticeLog(db) as log:
        rows = log.sessions()
        assert len(rows) == 3 * n
        assert all(r.ended == "completed" for r in rows)
        for k in range(3):
            assert sorted(r.listened for r in rows if r.exercise == f"w{k}") == [float(i + 1) for i in range(n)]
        assert len(log.cues()) == 3 * len(range(0, n, 4))
        assert log.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILLED = """
import os, signal, sys, time
from voiceguide.practice.recorder import SessionRecord
record = SessionRecord("body-scan", "Body scan", planned=600, path=sys.argv[1],
                       progress=lambda: (time.monotonic() - t0, 600.0), every=0.05)
t0 = time.monotonic()
record.start()
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_session_leaves_an_interrupted_row_with_its_progress(db):
    proc = subprocess.run([sys.executable, "-c", KILLED, str(db)], capture_output=True, timeout=60)
    assert proc.returncode == -9
    with PracticeLog(db) as log:
        (row,) = log.sessions()
        assert row.ended == "interrupted"
        assert 0.1 < row.listened < 1.0, row.listened
        assert row.planned == 600.0
        assert log.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_forget_removes_every_row_and_the_words_from_the_file(db):
    secret = "a pang of envy when Robin got the job"
    with PracticeLog(db) as log:
        for i in range(50):
            log.add_session(exercise="body-scan", title="Body scan", started_at=1000.0 + i,
                            ended="completed", listened=600)
        log.add_cue(secret)
        log.recordings.mkdir()
        spoken = log.recordings / "2024-05-14-210000.flac"
        spoken.write_bytes(b"fLaC" + b"\0" * 100)
        log.add_cue("", audio=spoken, seconds=20.0, exercise="daily-check-in")
        counts = log.forget()
        assert counts == {"sessions": 50, "cues": 2, "recordings": 1}
        assert not spoken.exists()
        assert log.sessions() == [] and log.cues() == []
    for path in db.parent.iterdir():
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path.name
