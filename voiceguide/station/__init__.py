"""The station: voiceguide as a long-running service, controlled hands-free.

How the parts fit (each module has one job):

* :mod:`.controller` -- the one :class:`Controller` that owns at most one
  session; everything below calls it. Listeners hear state changes and the
  start and end of each session (the event stream, the LED, a practice log).
  Beside it: :mod:`.runner` (the thread that owns the sound device),
  :mod:`.session_state` (a session's state object), :mod:`.shared` (the shared names:
  ``Playback``, ``SessionStart``, ``StationListener``...), :mod:`.volume`,
  :mod:`.prepare`, :mod:`.memory`.
* :mod:`.app` -- the HTTP API and the web page (Starlette), behind
  :mod:`.security` (the token); :mod:`.event_stream` -- the server-sent events.
* :mod:`.service` -- ``voiceguide station``: settings, socket, uvicorn,
  signals, the file that tells ``ctl`` where we listen (:mod:`.address`).
* :mod:`.client` -- ``voiceguide ctl``: the standard library only, to start fast.
* :mod:`.gpio` -- buttons, encoder and LED (gpiozero, optional);
  :mod:`.feedback` -- chimes and spoken notices.
* :mod:`.systemd` and :mod:`.schedules` -- schedules as systemd user timers,
  and the station's own unit.
* :mod:`.settings` -- the ``[station]`` table of config.toml; :mod:`.token`.

Importing this package imports nothing heavy: each command imports the
modules it needs (``ctl`` never loads Starlette or numpy).
"""

__all__ = ["address", "app", "client", "controller", "event_stream", "feedback", "gpio", "memory",
           "prepare", "runner", "schedules", "security", "service", "session_state", "settings", "shared",
           "systemd", "token", "volume"]
