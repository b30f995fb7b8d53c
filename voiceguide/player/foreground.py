"""``voiceguide play``: one session in the foreground of this process.

This is everything ``play`` does around the :class:`~voiceguide.player.player.Player`,
so the Click command only turns options into a :class:`PlayRequest`:

1. **Check everything a person can get wrong, before any sound.** The
   config file, the environment and the options are merged and validated
   (:func:`voiceguide.config.effective`), the exercise is loaded and
   ``--from`` is looked up in an estimated timeline. Only then is the
   audio stack touched.
2. **Start PortAudio in a thread** while numpy and the session load
   (PortAudio probes ALSA in C, without the GIL). Trap: while it starts,
   PortAudio points stderr at /dev/null, so a message printed then is
   lost, and a process that exits then may crash; :func:`portaudio_loading`
   waits for it before anything can leave this function.
3. Choose the status display: a status line and single keys on a terminal,
   plain log lines without one (a service, a pipe, nohup).
4. Play -- recorded in the practice log (:mod:`voiceguide.player.practice`;
   one row, written beside the session, never in its way) -- then say how
   it ended.

The station does not use this module: it builds a
:class:`~voiceguide.player.session.Session` and a
:class:`~voiceguide.player.player.Player` itself (see :mod:`voiceguide.player`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, TextIO

from voiceguide.script.model import Script, Voice


@dataclass
class PlayRequest:
    """What the listener asked for: an exercise and the options of ``play``."""

    exercise: str                                   # an id or a path
    #: Command-line values of the config settings (voice, rate, volume,
    #: device, ambient_level, latency); None means "not given".
    settings: Mapping[str, Any] = field(default_factory=dict)
    length: Optional[float] = None                  # --length, seconds
    ambient: bool = True                            # not --no-ambient
    start_at: Optional[str] = None                  # --from
    text_only: bool = False                         # --text
    verbose: bool = False                           # -v


@dataclass
class Prepared:
    """A request checked and resolved, nothing of the audio stack touched yet."""

    script: Script
    options: Any          # voiceguide.player.session.Options
    device: Any           # an index, a name substring or None
    latency: float
    practice_log: bool = True   # record the session in `voiceguide log`


def prepare(request: PlayRequest, environ: Optional[Mapping[str, str]] = None) -> Prepared:
    """Check the settings from every origin, load the exercise, look up ``--from``.

    Raises :class:`~voiceguide.errors.VoiceguideError` subclasses for
    anything wrong; imports nothing of the audio stack.
    """
    from voiceguide.config import effective
    from voiceguide.player.session import Options
    from voiceguide.script.catalog import resolve
    from voiceguide.script.loader import load
    from voiceguide.timeline import estimate

    values = {name: v.value for name, v in effective(request.settings, environ=environ).items()}
    options = Options(length=request.length, ambient=request.ambient,
                      ambient_db=float(values["ambient_level"] or 0.0), text_only=request.text_only,
                      voice=Voice(rate=values["rate"], volume=values["volume"], name=values["voice"]))
    script = load(resolve(request.exercise))
    if request.start_at:
        estimate(script).start_of(request.start_at)  # an unknown section is refused now, not after start-up
    return Prepared(script, options, values["device"], values["latency"], values["practice_log"])


def play(request: PlayRequest, *, environ: Optional[Mapping[str, str]] = None,
         stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None):
    """Play *request* in this process, on a terminal or headless; return the ``PlayResult``.

    Raises :class:`~voiceguide.errors.Interrupted` (exit 130 for Ctrl-C, 0
    for SIGTERM) when a signal ended the session, and other
    :class:`~voiceguide.errors.VoiceguideError` subclasses for problems.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    # Mixing is one thread by design: OpenBLAS's idle worker threads would
    # only cost start-up time and wake-ups (set before numpy is imported).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    ready = prepare(request, environ)

    from voiceguide.sinks.live import portaudio_loading

    with portaudio_loading():
        result = _run(ready, request, stdout, stderr)
    _report(result, request, ready.options.sample_rate, stderr)
    result.raise_if_stopped()
    return result


def _run(ready: Prepared, request: PlayRequest, stdout: TextIO, stderr: TextIO):
    from voiceguide.player.keys import KeyReader
    from voiceguide.player.player import Player
    from voiceguide.player.practice import LoggedSession
    from voiceguide.player.session import Session
    from voiceguide.player.status import LogStatus, TerminalStatus

    interactive = KeyReader.available() and stderr.isatty()
    text_stream = stdout if request.text_only else None
    status = (TerminalStatus(stderr, text_stream=text_stream) if interactive
              else LogStatus(stderr, text_stream=text_stream))
    with Session(ready.script, ready.options) as session:
        session.prefetch(background=True)  # synthesis starts now, while the device opens
        player = Player(session, device=ready.device, latency=ready.latency, start_at=request.start_at,
                        status=status, headless=not interactive)
        status.start(ready.script.title, None)
        with LoggedSession(ready.script, session, player, enabled=ready.practice_log,
                           warn=lambda line: print(line, file=stderr)) as logged:
            if interactive:
                with KeyReader(player.handle_key):
                    result = logged.result = player.run()
            else:
                result = logged.result = player.run()
    sr = ready.options.sample_rate
    if result.quit:
        status.message("stopped; take your time")
    elif result.stopped_by is None:
        from voiceguide.script.units import format_duration

        status.message(f"done ({format_duration(result.frames / sr)}); take your time")
    return result


def _report(result, request: PlayRequest, sample_rate: int, stderr: TextIO) -> None:
    """The figures ``-v`` asks for, and a hint when the sound had gaps."""
    if request.verbose:
        from voiceguide.player.player import process_start_time

        if result.first_audible is not None:
            started = process_start_time()
            print(f"first sound at {result.first_audible:.3f} "
                  f"({result.first_audible - started:.3f} s after the process started)", file=stderr)
        print(f"latency {result.latency:.3f} s, {result.underruns} underruns", file=stderr)
    if result.underruns:
        print(f"voiceguide: {result.underruns} underruns (gaps in the sound); try --latency "
              f"{max(0.3, result.latency * 2):.1f}", file=stderr)
