"""A session's row: written in the background, never raising, one warning line when it cannot be."""

from __future__ import annotations

import sqlite3
import time

import pytest

from voiceguide.practice.recorder import Ending, SessionRecord
from voiceguide.practice.store import PracticeLog


@pytest.fixture()
def db(tmp_path):
    return tmp_path / "voiceguide" / "practice.sqlite3"


def rows(db):
    with PracticeLog(db) as log:
        return log.sessions()


def test_a_completed_session(db):
    record = SessionRecord("breathing", "Paced breathing", voice="gmw/en", path=db).start()
    assert record.finish(Ending("completed", listened=301.0, planned=302.5)) is None
    (row,) = rows(db)
    assert (row.exercise, row.title, row.voice) == ("breathing", "Paced breathing", "gmw/en")
    assert (row.ended, row.listened, row.planned, row.pid) == ("completed", 301.0, 302.5, None)


def test_progress_is_saved_while_the_session_runs(db):
    heard = [0.0]
    record = SessionRecord("x", "X", path=db, progress=lambda: (heard[0], 90.0), every=0.02).start()
    for value in (5.0, 10.0):
        heard[0] = value
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not rows(db) or rows(db)[0].listened != value):
            time.sleep(0.02)
        (row,) = rows(db)
        assert (row.ended, row.listened, row.planned) == ("interrupted", value, 90.0)
    record.finish(Ending("stopped", listened=11.0, step=3, section="Two"))
    (row,) = rows(db)
    assert (row.ended, row.listened, row.step, row.section) == ("stopped", 11.0, 3, "Two")


def hold_write_lock(db):
    PracticeLog(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_log_locked_at_the_start_still_gets_the_whole_row_at_the_end(db):
    other = hold_write_lock(db)
    record = SessionRecord("x", "X", path=db, every=0.05)
    began = time.monotonic()
    record.start()
    assert time.monotonic() - began < 0.5  # the session does not wait for the database
    time.sleep(2.5)  # the background open gives up after its busy timeout
    other.execute("COMMIT")
    other.close()
    assert record.finish(Ending("error", listened=4.0, message="the output device stopped working")) is None
    (row,) = rows(db)
    assert (row.ended, row.listened, row.message) == ("error", 4.0, "the output device stopped working")


def test_a_log_locked_throughout_gives_one_warning_and_returns(db):
    other = hold_write_lock(db)
    record = SessionRecord("x", "X", path=db).start()
    began = time.monotonic()
    warning = record.finish(Ending("completed", listened=1.0), wait=1.0)
    assert time.monotonic() - began < 1.5
    assert warning is not None and "\n" not in warning
    assert "practice log" in warning and "not affected" in warning
    other.execute("ROLLBACK")
    other.close()


def test_an_unwritable_folder_gives_one_warning_and_never_raises(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be\n")  # unwritable, even for root
    record = SessionRecord("x", "X", path=blocker / "voiceguide" / "practice.sqlite3").start()
    warning = record.finish(Ending("completed", listened=1.0))
    assert warning is not None and "\n" not in warning
    assert "not written to the practice log" in warning and "is a file, not a folder" in warning


def test_finish_twice_or_without_start_is_harmless(db):
    assert SessionRecord("x", "X", path=db).finish(Ending("completed", listened=0.0)) is None
    record = SessionRecord("x", "X", path=db).start()
    assert record.finish(Ending("completed", listened=2.0)) is None
    assert record.finish(Ending("error", listened=3.0)) is None
    (row,) = rows(db)
    assert (row.ended, row.listened) == ("completed", 2.0)
