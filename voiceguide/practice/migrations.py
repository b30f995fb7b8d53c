"""The practice log's tables, as a list of migrations from version 0 (an empty file).

The database's version is SQLite's ``PRAGMA user_version``: 0 for a new
file, ``len(MIGRATIONS)`` when up to date. :func:`migrate` applies the
missing steps in one exclusive transaction and re-reads the version inside
it, so two processes opening an old database at once migrate it once.

Rules for the next person:

* Never edit a migration that has shipped; append a new one. Tests build a
  database at every earlier version, fill it, and open it with the current
  code (``tests/test_practice_store.py``).
* Only additive changes that old rows satisfy (new tables, new nullable
  columns or columns with a default, new indexes), so a migration never
  has to rewrite the listener's history.
* A database *newer* than this code (a later voiceguide wrote it) is never
  written: :class:`NewerDatabase` is raised and the caller reads nothing
  and writes nothing, rather than guessing.
"""

from __future__ import annotations

from typing import Tuple

#: One entry per schema version; entry *i* turns version *i* into *i + 1*.
MIGRATIONS: Tuple[str, ...] = (
    # 1: sessions (one row per play or station session) and typed cues.
    """
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        exercise    TEXT NOT NULL,              -- the exercise id (file stem) or path
        title       TEXT NOT NULL,
        started     TEXT NOT NULL,              -- local time with offset, 2024-05-14T07:30:05+02:00
        started_at  REAL NOT NULL,              -- the same instant, Unix seconds (ordering, ranges)
        planned     REAL,                       -- planned length, seconds; NULL until known
        listened    REAL NOT NULL DEFAULT 0,    -- seconds of sound actually played (pauses and skips excluded)
        ended       TEXT NOT NULL DEFAULT 'interrupted'
                    CHECK (ended IN ('completed', 'stopped', 'error', 'interrupted')),
        step        INTEGER,                    -- stopped: the step it stopped at
        section     TEXT,                       -- stopped: that step's section
        message     TEXT,                       -- error: what went wrong, one line
        voice       TEXT,                       -- the speech voice, NULL = the engine's default
        origin      TEXT NOT NULL DEFAULT 'play',  -- play | station
        pid         INTEGER                     -- the process while it runs (to tell "playing now")
    );
    CREATE INDEX sessions_by_time ON sessions (started_at);
    CREATE TABLE cues (
        id          INTEGER PRIMARY KEY,
        day         TEXT NOT NULL,              -- local date, 2024-05-14
        noted       TEXT NOT NULL,              -- local time with offset
        noted_at    REAL NOT NULL,              -- Unix seconds
        text        TEXT NOT NULL
    );
    CREATE INDEX cues_by_time ON cues (noted_at);
    """,
    # 2: a cue may be a recording (the record step): its file, its length, the exercise that asked.
    """
    ALTER TABLE cues ADD COLUMN audio TEXT;         -- recordings/2024-05-14-073005.flac, beside the database
    ALTER TABLE cues ADD COLUMN seconds REAL;       -- the recording's length
    ALTER TABLE cues ADD COLUMN exercise TEXT;      -- the exercise whose record step asked for it
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class NewerDatabase(Exception):
    """The file was written by a later voiceguide (its version is above ours)."""

    def __init__(self, found: int):
        super().__init__(f"the practice log was written by a newer voiceguide (schema {found}, "
                         f"this one knows {SCHEMA_VERSION}); update voiceguide to use it")
        self.found = found


def version(conn) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn, upto: int = SCHEMA_VERSION) -> int:
    """Bring *conn*'s database to version *upto* (default: current); returns the version found.

    *conn* must be in autocommit mode (``isolation_level=None``): the
    transaction is managed here, and ``executescript`` would otherwise
    commit half-way.
    """
    found = version(conn)
    if found > SCHEMA_VERSION:
        raise NewerDatabase(found)
    if found >= upto:
        return found
    conn.execute("BEGIN EXCLUSIVE")
    try:
        found = version(conn)  # another process may have migrated while we waited
        for number in range(found, upto):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


def _statements(script: str):
    """Split a migration into statements (ours hold no semicolons inside strings)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement.strip()
