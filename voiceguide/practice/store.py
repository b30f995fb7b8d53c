"""The practice log's database: one SQLite file in the user data folder, private to the user.

Why these choices, and the traps they avoid:

* **WAL mode** lets a reader (``voiceguide log``) read while a session
  writes, and makes a power cut or SIGKILL lose at most the transaction in
  flight, never corrupt the file. Every write is a short ``BEGIN
  IMMEDIATE`` transaction: taking the write lock up front means two
  writers (a station and a terminal) wait for each other through the busy
  timeout instead of failing with "database is locked" when a read lock
  cannot be upgraded.
* **Private file**: the file is created with mode 0600 before SQLite opens
  it (SQLite gives its ``-wal`` and ``-shm`` files the database file's
  mode), in a folder created with mode 0700. An existing file that is
  readable by others is tightened when the log is opened to write.
* **Never through a link, never replaced** (:mod:`voiceguide.ownfiles`):
  the file is opened with ``O_NOFOLLOW`` before SQLite sees it, the data
  folder, the ``recordings`` folder and the ``-wal``/``-shm``/``-journal``
  files beside the log must not be links, and only a regular file of this
  user's with one name is ever ``chmod``-ed. A file that does not start
  with SQLite's header is not ours: it is refused, never turned into an
  empty log (SQLite would). Reading (``create=False``) never creates nor
  ``chmod``-s anything, and falls back to a read-only connection when the
  log cannot be written (a read-only file, a full disk).
* **Autocommit connection** (``isolation_level=None``): Python's sqlite3
  otherwise opens transactions implicitly and ``executescript`` commits
  them behind your back; here every transaction is explicit.
* Times are stored twice: as the local time with its UTC offset, which is
  what the listener saw on the clock (a session at 07:30 in summer stays
  "07:30" after the clocks change), and as Unix seconds for ordering and
  ranges.
"""

from __future__ import annotations

import os
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional

from voiceguide.errors import VoiceguideError
from voiceguide.ownfiles import (PlantedLink, count_files, open_own, own_folder, refuse_link, remove_files,
                                  same_file, tighten)
from voiceguide.readfile import NotRegularFile, kind_of

if TYPE_CHECKING:  # sqlite3 itself is imported where a log is opened
    import sqlite3

DB_NAME = "practice.sqlite3"
#: Spoken cues (the record step), beside the database.
RECORDINGS = "recordings"
#: Seconds a write waits for another writer before giving up.
BUSY_TIMEOUT = 2.0
#: The first bytes of every SQLite database; a non-empty file without them is not a log of ours.
SQLITE_HEADER = b"SQLite format 3\x00"
#: The files SQLite keeps beside the database: checked for planted links before it opens them.
SIDE_FILES = ("-wal", "-shm", "-journal")

ENDINGS = ("completed", "stopped", "error", "interrupted")
#: What ``log --json`` and ``--csv`` give for each session, in this order.
SESSION_FIELDS = ("id", "exercise", "title", "started", "planned", "listened", "ended", "step", "section",
                  "message", "voice", "origin")


class PracticeLogError(VoiceguideError):
    """The practice log cannot be read or written (one line for a person)."""


def default_path() -> Path:
    from voiceguide.paths import data_dir

    return data_dir() / DB_NAME


def local_time(at: float) -> str:
    """``2024-05-14T07:30:05+02:00``: the local wall-clock time of *at* with its offset."""
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def private_dir(folder: Path) -> None:
    """Create *folder* (and parents) readable only by the user; leave an existing one alone.

    *folder* is voiceguide's own (the data folder, ``recordings``): a
    symbolic link in its place is refused (:class:`~voiceguide.ownfiles.PlantedLink`),
    never followed.
    """
    if refuse_link(folder, "folder") is None:
        for parent in folder.parents:
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(20, f"{parent} is a file, not a folder")
    own_folder(folder, create=True, mode=0o700)


@dataclass
class SessionRow:
    """One session as the log shows it."""

    id: int
    exercise: str
    title: str
    started: str
    started_at: float
    planned: Optional[float]
    listened: float
    ended: str
    step: Optional[int] = None
    section: Optional[str] = None
    message: Optional[str] = None
    voice: Optional[str] = None
    origin: str = "play"
    pid: Optional[int] = None

    def as_dict(self) -> dict:
        """The row for JSON and CSV (without the process id and the Unix time)."""
        return {name: getattr(self, name) for name in SESSION_FIELDS}


@dataclass
class CueRow:
    """One cue: typed words, or a recording of spoken ones (``audio``, relative to the log's folder)."""

    id: int
    day: str
    noted: str
    noted_at: float
    text: str
    audio: Optional[str] = None
    seconds: Optional[float] = None
    exercise: Optional[str] = None
    folder: Optional[Path] = None   # the log's folder, to make ``audio`` a full path

    @property
    def recording(self) -> Optional[Path]:
        if not self.audio:
            return None
        return (self.folder / self.audio) if self.folder is not None else Path(self.audio)

    def as_dict(self) -> dict:
        return {"id": self.id, "day": self.day, "noted": self.noted, "text": self.text,
                "recording": str(self.recording) if self.audio else None, "seconds": self.seconds,
                "exercise": self.exercise}


SESSION_COLUMNS = ("id", "exercise", "title", "started", "started_at", "planned", "listened", "ended",
                   "step", "section", "message", "voice", "origin", "pid")
CUE_COLUMNS = ("id", "day", "noted", "noted_at", "text", "audio", "seconds", "exercise")


def _inserted(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 types ``lastrowid`` as optional; after one it is set)."""
    if cursor.lastrowid is None:
        raise PracticeLogError("the practice log gave no id for a new row")
    return int(cursor.lastrowid)


class PracticeLog:
    """The open database. Cheap to open; use as a context manager or call :meth:`close`.

    Every method raises :class:`PracticeLogError` (never a bare
    ``sqlite3`` error) so callers can decide: the player warns and goes on,
    the ``log`` command reports and exits 1.
    """

    def __init__(self, path: Optional[Path] = None, *, create: bool = True,
                 busy_timeout: float = BUSY_TIMEOUT):
        """Open (with *create*, create) the log at *path* (default: in the user data folder)."""
        self.path = Path(path) if path is not None else default_path()
        self.conn: Optional[sqlite3.Connection] = None
        try:
            with self._errors("open"):
                self._open(create, busy_timeout)
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------

    def _open(self, create: bool, busy_timeout: float) -> None:
        import errno
        import sqlite3

        from voiceguide.practice.migrations import migrate

        if create:
            private_dir(self.path.parent)
        elif not own_folder(self.path.parent, create=False) or refuse_link(self.path, "practice log") is None:
            raise PracticeLogError(f"there is no practice log yet ({self.path})")
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            fd = open_own(self.path, flags, 0o600, what="practice log")
            writable = True
        except OSError as exc:  # reading: a log that cannot be written can still be read
            if create or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            fd = open_own(self.path, os.O_RDONLY, what="practice log")
            writable = False
        try:
            head = os.pread(fd, len(SQLITE_HEADER), 0)
            if head and head != SQLITE_HEADER:
                raise PracticeLogError(
                    f"cannot open the practice log {self.path}: it is not a database (voiceguide leaves it "
                    f"alone); move the file away and a new log will be started")
            for side in SIDE_FILES:  # SQLite opens these itself, following links: look first
                open_side = Path(f"{self.path}{side}")
                info = refuse_link(open_side, "file")
                if info is not None and not stat.S_ISREG(info.st_mode):
                    raise NotRegularFile(open_side, kind_of(info.st_mode))
            if create:
                tighten(fd, 0o600)
            self._connect(writable, busy_timeout)
            if not same_file(fd, self.path):  # swapped while SQLite opened it
                raise PlantedLink(self.path, "practice log") if os.path.islink(self.path) else \
                    PracticeLogError(f"{self.path} was replaced while it was opened; try again")
        finally:
            os.close(fd)
        try:
            self._prepare(busy_timeout)
        except sqlite3.OperationalError:
            if create or not self._no_room():
                raise
            # Reading on a full disk: SQLite cannot make its shared-memory file; read the file as it is.
            self._db.close()
            self.conn = sqlite3.connect(f"file:{_quote(self.path)}?mode=ro&immutable=1", uri=True,
                                        isolation_level=None, check_same_thread=False)
            return
        migrate(self._db)

    def _connect(self, writable: bool, busy_timeout: float) -> None:
        import sqlite3

        mode = "rw" if writable else "ro"
        self.conn = sqlite3.connect(f"file:{_quote(self.path)}?mode={mode}", uri=True, timeout=busy_timeout,
                                    isolation_level=None, check_same_thread=False)

    @property
    def _db(self) -> sqlite3.Connection:
        """The open connection (a closed log has none)."""
        if self.conn is None:
            raise PracticeLogError(f"the practice log {self.path} is closed")
        return self.conn

    def _prepare(self, busy_timeout: float) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode, NORMAL may lose the last commits on a power cut, never consistency.
        db.execute("PRAGMA synchronous = NORMAL")

    def _no_room(self) -> bool:
        """Whether the disk that holds the log has (next to) no space left.

        SQLite reports a full disk as "database or disk is full" or, when
        its shared-memory file cannot grow, as "disk I/O error"; it does
        not say ENOSPC, so the disk is asked.
        """
        try:
            info = os.statvfs(self.path.parent)
        except OSError:
            return False
        return info.f_bavail * info.f_frsize < 64 * 1024

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        import sqlite3

        from voiceguide.practice.migrations import NewerDatabase

        try:
            yield
        except NewerDatabase as exc:
            raise PracticeLogError(f"{self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if text in ("disk I/O error", "database or disk is full") and self._no_room():
                raise PracticeLogError(f"{self.path}: cannot {doing} the practice log: no space left on the "
                                       f"disk that holds {self.path.parent}; free some space") from None
            if "not a database" in text or "malformed" in text:
                text += "; move the file away and a new log will be started"
            raise PracticeLogError(f"cannot {doing} the practice log {self.path}: {text}") from None
        except OSError as exc:  # a folder that cannot be read or written, a full disk: what to do
            from voiceguide.errors import file_error

            raise PracticeLogError(str(file_error(self.path, exc, f"{doing} the practice log",
                                                  elsewhere="", writing=True))) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._errors("write"):
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> "PracticeLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sessions -----------------------------------------------------------------------

    def open_session(self, *, exercise: str, title: str, started_at: float, planned: Optional[float] = None,
                     voice: Optional[str] = None, origin: str = "play", pid: Optional[int] = None) -> int:
        """Insert a session that has just begun; it reads ``interrupted`` until :meth:`close_session`.

        So a process that is killed, or a machine that loses power, leaves
        an honest row behind rather than none.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (exercise, title, started, started_at, planned, voice, origin, pid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (exercise, title, local_time(started_at), started_at, _seconds(planned), voice, origin, pid))
            return _inserted(cursor)

    def update_progress(self, session_id: int, listened: float, planned: Optional[float] = None) -> None:
        """Record how far an open session has got (so an interrupted row says roughly how far)."""
        with self._write() as conn:
            conn.execute("UPDATE sessions SET listened = ?, planned = COALESCE(?, planned) WHERE id = ?",
                         (_seconds(listened), _seconds(planned), session_id))

    def close_session(self, session_id: int, *, ended: str, listened: float, planned: Optional[float] = None,
                      step: Optional[int] = None, section: Optional[str] = None,
                      message: Optional[str] = None) -> None:
        if ended not in ENDINGS:
            raise ValueError(f"ended must be one of {ENDINGS}, not {ended!r}")
        with self._write() as conn:
            conn.execute(
                "UPDATE sessions SET ended = ?, listened = ?, planned = COALESCE(?, planned), step = ?,"
                " section = ?, message = ?, pid = NULL WHERE id = ?",
                (ended, _seconds(listened), _seconds(planned), step, section, message, session_id))

    def add_session(self, *, exercise: str, title: str, started_at: float, ended: str, listened: float,
                    planned: Optional[float] = None, step: Optional[int] = None,
                    section: Optional[str] = None, message: Optional[str] = None,
                    voice: Optional[str] = None, origin: str = "play") -> int:
        """Insert a finished session in one transaction (when opening it at the start failed)."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (exercise, title, started, started_at, planned, listened, ended, step,"
                " section, message, voice, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (exercise, title, local_time(started_at), started_at, _seconds(planned), _seconds(listened), ended,
                 step, section, message, voice, origin))
            return _inserted(cursor)

    def sessions(self, limit: Optional[int] = None, since: Optional[float] = None) -> List[SessionRow]:
        """Sessions, newest first (at most *limit*; only those started at or after *since*)."""
        sql = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions"
        args: list = []
        if since is not None:
            sql += " WHERE started_at >= ?"
            args.append(since)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._errors("read"):
            return [SessionRow(*row) for row in self._db.execute(sql, args)]

    def count_sessions(self) -> int:
        with self._errors("read"):
            return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def seconds_by_day(self, since: Optional[float] = None) -> dict:
        """Seconds listened per local day (``datetime.date``), for sessions since *since*."""
        from datetime import date

        sql = "SELECT substr(started, 1, 10), SUM(listened) FROM sessions"
        args: list = []
        if since is not None:
            sql += " WHERE started_at >= ?"
            args.append(since)
        with self._errors("read"):
            return {date.fromisoformat(day): total for day, total in self._db.execute(sql + " GROUP BY 1", args)}

    def cue_days(self, since: Optional[float] = None) -> set:
        """The local days (``datetime.date``) on which a cue was noted."""
        from datetime import date

        sql = "SELECT DISTINCT day FROM cues"
        args: list = []
        if since is not None:
            sql += " WHERE noted_at >= ?"
            args.append(since)
        with self._errors("read"):
            return {date.fromisoformat(day) for (day,) in self._db.execute(sql, args)}

    # -- cues ------------------------------------------------------------------------------

    @property
    def recordings(self) -> Path:
        """Where spoken cues are kept: a folder beside the database (created when first needed)."""
        return self.path.parent / RECORDINGS

    def add_cue(self, text: str, at: Optional[float] = None, *, audio: Optional[Path] = None,
                seconds: Optional[float] = None, exercise: Optional[str] = None) -> CueRow:
        """Note one small emotional cue at *at* (default: now): a line of text, or a recording.

        *audio* is a file in :attr:`recordings` (kept relative, so the folder
        can move with the database).
        """
        text = " ".join(text.split())
        if not text and audio is None:
            raise PracticeLogError("a cue needs a few words; nothing was noted")
        at = time.time() if at is None else at
        noted = local_time(at)
        relative = None
        if audio is not None:
            relative = str(Path(audio).resolve().relative_to(self.path.parent.resolve()))
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO cues (day, noted, noted_at, text, audio, seconds, exercise)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (noted[:10], noted, at, text, relative, _seconds(seconds), exercise))
            return CueRow(_inserted(cursor), noted[:10], noted, at, text, relative, _seconds(seconds),
                          exercise, self.path.parent)

    def cues(self, since: Optional[float] = None) -> List[CueRow]:
        """Cues, oldest first (only those noted at or after *since*)."""
        sql = f"SELECT {', '.join(CUE_COLUMNS)} FROM cues"
        args: list = []
        if since is not None:
            sql += " WHERE noted_at >= ?"
            args.append(since)
        with self._errors("read"):
            folder = self.path.parent
            return [CueRow(folder=folder, **dict(zip(CUE_COLUMNS, row)))
                    for row in self._db.execute(sql + " ORDER BY noted_at, id", args)]

    # -- forgetting ------------------------------------------------------------------------

    def forget(self) -> dict:
        """Delete every session, cue and recording, then compact the file so the old pages are gone too.

        Returns how many of each were deleted. A link in place of the
        ``recordings`` folder is refused before anything is deleted.
        """
        with self._errors("delete the recordings of"):
            refuse_link(self.recordings, "folder")
        with self._write() as conn:
            counts = {"sessions": conn.execute("DELETE FROM sessions").rowcount,
                      "cues": conn.execute("DELETE FROM cues").rowcount}
        with self._errors("compact"):
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with self._errors("delete the recordings of"):  # inside the folder only: never through a link
            counts["recordings"] = remove_files(self.recordings)
        return counts

    def count_recordings(self) -> int:
        """How many recordings the ``recordings`` folder holds; a link in its place is refused."""
        with self._errors("read the recordings of"):
            return count_files(self.recordings)


def _seconds(value: Optional[float]) -> Optional[float]:
    """Seconds kept to the hundredth: finer is noise in a log (and in its JSON)."""
    return None if value is None else round(float(value), 2)


def _quote(path: Path) -> str:
    """A path for a ``file:`` URI (``?`` and ``#`` would otherwise end it)."""
    from urllib.parse import quote

    return quote(str(path.resolve()))
