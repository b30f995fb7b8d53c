"""The player's side of the practice log: one row per played session.

``play`` wraps :meth:`Player.run` in :class:`LoggedSession`::

    with LoggedSession(script, session, player, warn=print_line) as logged:
        logged.result = player.run()

and the row says how it went: ``completed``, ``stopped`` (with the step
and section the listener last heard begin), ``error`` (with the message),
or, if the process never got to say, ``interrupted``. A station plays
sessions the same way with ``origin="station"``.

The cost on the main thread is starting one thread: the database work,
``import sqlite3`` included, runs beside the session in
:class:`~voiceguide.practice.recorder.SessionRecord`, and any problem is
one warning line given to *warn* after the session has ended.
"""

from __future__ import annotations

from typing import Callable, Optional

from voiceguide.practice.recorder import Ending, SessionRecord


def voice_label(session) -> Optional[str]:
    """The voice a session speaks with, as the log keeps it (None: the engine's default)."""
    if session.options.text_only:
        return "text"
    return session.options.voice.name or session.script.voice.name


class LoggedSession:
    """Records the session *player* plays; a context manager around :meth:`Player.run`.

    Set :attr:`result` to the :class:`PlayResult` before the block ends; an
    exception leaving the block is recorded as an ``error`` (Ctrl-C before the
    player's own handler is installed counts as ``stopped``) and goes on up.
    """

    def __init__(self, script, session, player, *, warn: Callable[[str], None],
                 origin: str = "play", path=None, enabled: bool = True):
        self.player = player
        self.warn = warn
        self.result = None
        self._sample_rate = session.options.sample_rate
        self._record: Optional[SessionRecord] = None
        if enabled:
            self._record = SessionRecord(
                script.id, script.title, voice=voice_label(session), planned=session.options.length,
                origin=origin, path=path, progress=self._progress,
                ready=lambda: player.position > 0)  # the first block is out: the log may use the GIL

    def _progress(self):
        sr = self._sample_rate
        total = self.player.total
        return self.player.frames_played / sr, (total / sr if total else None)

    def __enter__(self) -> "LoggedSession":
        if self._record is not None:
            self._record.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._record is None:
            return
        listened, planned = self._progress()
        heard = self.player.heard
        step, section = (heard.step, heard.section) if heard is not None else (None, None)
        if exc_type is not None:
            if issubclass(exc_type, KeyboardInterrupt):
                ending = Ending("stopped", listened, planned, step, section)
            else:
                message = (str(exc).splitlines() or [exc_type.__name__])[0]
                ending = Ending("error", listened, planned, message=message)
        elif self.result is not None and (self.result.quit or self.result.stopped_by is not None):
            ending = Ending("stopped", listened, planned, step, section)
        else:
            ending = Ending("completed", listened, planned)
        warning = self._record.finish(ending)
        if warning:
            self.warn(warning)
