"""Sessions and their players: one script made ready to sound, pulled into a sink.

* :mod:`.session` ties speech, timeline and mixer together for ``preview``,
  ``render`` and ``play``;
* :mod:`.render` pulls a session into a file;
* :mod:`.player` pulls it into the live output with pause, seek, volume,
  signals and device recovery; :mod:`.keys` and :mod:`.status_line` are its
  terminal side;
* :mod:`.foreground` is ``voiceguide play``: settings checked from every
  origin, the status display chosen, the session played, the end reported.

Import the submodule you need (the live player imports numpy and sounddevice).
"""

__all__ = ["foreground", "keys", "player", "render", "session", "status_line"]
