"""The practice log: a private record of sessions played and small emotional cues noted.

One SQLite file in the user data folder (``~/.local/share/voiceguide/
practice.sqlite3`` on Linux), readable only by the user; nothing leaves the
machine.

* :mod:`~voiceguide.practice.migrations` -- the tables, as numbered migrations;
* :mod:`~voiceguide.practice.store` -- :class:`PracticeLog`, the database;
* :mod:`~voiceguide.practice.recorder` -- :class:`SessionRecord`, the row a
  playing session keeps (in a background thread; it never breaks a session);
* :mod:`~voiceguide.practice.report` -- what ``voiceguide log`` and ``cues``
  print: a table, a week of bars, JSON, CSV.

Importing this package imports none of them (nor ``sqlite3``): ``play``
pays for the log only in a background thread.
"""

__all__ = ["PracticeLog", "PracticeLogError", "SessionRecord", "Ending"]


def __getattr__(name):  # lazy: see the module docstring
    if name in ("PracticeLog", "PracticeLogError"):
        from voiceguide.practice import store

        return getattr(store, name)
    if name in ("SessionRecord", "Ending"):
        from voiceguide.practice import recorder

        return getattr(recorder, name)
    raise AttributeError(name)
