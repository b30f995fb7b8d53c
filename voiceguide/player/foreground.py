"""``voiceguide play``: one session in the foreground of this process.

This is everything ``play`` does around the :class:`~voiceguide.player.player.Player`,
so the Click command only turns options into a :class:`PlayRequest`:

1. **Check everything a person can get wrong, before any sound.** The
   config file, the environment and the options are merged and validated
   (:func:`voiceguide.config.effective`), the exercise is loaded and
   ``--from`` is looked up in an estimated timeline. Only then is the
   audio stack touched.
2. **Install the signal handlers** (:mod:`voiceguide.player.signals`): from
   here on SIGINT and SIGTERM always end the process within about a second.
3. **Start PortAudio in a thread** while numpy and the session load
   (PortAudio probes ALSA in C, without the GIL). Trap: while it starts,
   PortAudio points stderr at /dev/null, so a message printed then is
   lost, and a process that exits then may crash; :func:`portaudio_loading`
   waits for it before anything can leave this function.
4. Choose the status display: a status line and single keys on a terminal,
   plain log lines without one (a service, a pipe, nohup); open the device
   (in a thread: a hung sound server must not make the process deaf to
   signals); play -- recorded in the practice log
   (:mod:`voiceguide.player.logged_session`; one row, written beside the session,
   never in its way) -- then say how it ended.

The station does not use this module, but it wires its live session the
same way: :class:`voiceguide.player.live_session.LiveSession` (the player, record
steps, spoken commands).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, TextIO

from voiceguide.script.model import Script


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
    music: Optional[str] = None                     # --music FILE
    delay: Optional[float] = None                   # --delay, seconds of settling before the session
    voice_commands: bool = False                    # --voice-commands: "guide, pause" (player/voice.py)
    mic: Optional[str] = None                       # --mic NAME|INDEX


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

    settings = effective(request.settings, environ=environ)
    values = {name: v.value for name, v in settings.items()}
    options = Options.from_settings(settings, length=request.length, ambient=request.ambient,
                                    text_only=request.text_only)
    script = load(resolve(request.exercise))
    if request.start_at:
        estimate(script).start_of(request.start_at)  # an unknown section is refused now, not after start-up
    from voiceguide.player.music_request import check_request

    options.music = Path(request.music) if request.music else None
    check_request(script, options.music, required=True)
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
    if not request.text_only:
        from voiceguide.synth import prestart

        prestart.begin()   # a speech worker starts loading now, in case the first word is not cached
    ready = prepare(request, environ)
    from voiceguide.player.session import Session

    # Speech first: a cold first word waits for a worker, which loads while the rest starts up.
    session = Session(ready.script, ready.options)
    try:
        session.start_speech(first_now=request.start_at is None)
        if session.preparing_voice:   # said now: once PortAudio starts, stderr is /dev/null for a moment
            from voiceguide.visible import visible

            print(f"getting the voice {visible(session.preparing_voice)} ready (only the first time)", file=stderr)
        from voiceguide.player.keys import KeyReader
        from voiceguide.player.signals import SessionSignals

        interactive = KeyReader.available() and stderr.isatty()
        with SessionSignals(headless=not interactive) as signals:
            with portaudio_loading():
                result = _run(ready, session, request, interactive, signals, stdout, stderr)
    except BaseException:
        session.close(grace=0.0)
        raise
    _report(result, request, stderr, suspensions=signals.suspensions)
    result.raise_if_stopped()
    return result


@contextmanager
def portaudio_loading() -> Iterator[None]:
    """Start PortAudio in a thread now; on leaving, wait until it has started, whatever happened.

    PortAudio's start-up can overlap with loading numpy and the session.
    Traps: while it starts, PortAudio points stderr at /dev/null (a message
    printed then is lost), and a process that exits then may crash. So
    nothing is printed inside this block before the device is open, and the
    block does not end before the start-up does -- except that a stop
    during a start-up that hangs (a hung sound server) waits only
    :data:`PORTAUDIO_STOP_WAIT` seconds; the thread is then left behind and
    the process ends without finalising (:mod:`voiceguide.player.leftovers`).
    """
    from voiceguide.player import leftovers
    from voiceguide.sinks.live import load_portaudio

    thread = threading.Thread(target=load_portaudio, name="voiceguide-portaudio", daemon=True)
    thread.start()
    try:
        yield
    finally:
        deadline = None
        pending: Optional[BaseException] = None
        while thread.is_alive():
            try:
                thread.join(0.05)
            except BaseException as exc:  # a signal's Interrupted: keep waiting, a little
                pending = pending or exc
                deadline = deadline or time.monotonic() + PORTAUDIO_STOP_WAIT
            if deadline is not None and time.monotonic() > deadline:
                leftovers.leave(thread, "PortAudio was still starting")
                break
        if pending is not None:
            raise pending


#: After a stop, how long to wait for a PortAudio start-up before leaving it behind.
PORTAUDIO_STOP_WAIT = 1.0


def _run(ready: Prepared, session, request: PlayRequest, interactive: bool, signals, stdout: TextIO,
         stderr: TextIO):
    from voiceguide.player.keys import KeyReader
    from voiceguide.player.chime import play_chime
    from voiceguide.player.live_session import Listening, LiveSession, Recording, open_output
    from voiceguide.player.player import PlayResult
    from voiceguide.player.logged_session import LoggedSession
    from voiceguide.player.status_line import LogStatus, TerminalStatus
    from voiceguide.sinks.live import resolve_device

    words_out = stdout if request.text_only else None
    status = (TerminalStatus(stderr, words_out=words_out) if interactive
              else LogStatus(stderr, words_out=words_out))
    signals.status = status
    signals.on_quit_now(status.close)  # Ctrl-\: the keys line must not stay under the prompt
    sample_rate = ready.options.sample_rate
    with session:
        signals.on_quit_now(lambda: session.close(grace=0.0))
        if request.delay:
            # a device that is not there is said now, not after the wait
            signals.call(lambda: resolve_device(ready.device), "finding the device")
            if not _settle(request.delay, status, interactive, signals):
                session.close(grace=0.0)
                status.message("stopped before it began; take your time")
                status.close()
                return PlayResult(frames=0, underruns=0, latency=0.0, first_audible=None, quit=True)
            signals.call(lambda: play_chime(ready.device, ready.latency), "playing the chime")
        output = signals.call(lambda: open_output(sample_rate, ready.device, ready.latency), "opening the device")
        typed = (lambda: signals.keys) if request.text_only and interactive else None
        live = LiveSession(session, output, script=ready.script, start_at=request.start_at, status=status,
                           record=Recording(ready.practice_log, typed=typed), say=status.message,
                           voice=Listening(request.mic) if request.voice_commands else None)
        player: Any = live.player
        signals.player = player
        status.start(ready.script.title, None)
        with LoggedSession(ready.script, session, player, enabled=ready.practice_log,
                           warn=lambda line: print(line, file=stderr)) as logged:
            if interactive:
                from voiceguide.sinks.alsalib import routed

                # alsa-lib writes from C to fd 2, over the status line: its words go through the player
                with KeyReader(player.handle_key) as keys, routed(player.note):
                    signals.keys = keys
                    try:
                        result = logged.result = player.run()
                    finally:
                        signals.keys = None
            else:
                result = logged.result = player.run()
        if result.stopped_by is not None or result.quit:
            session.close(grace=0.0)  # what is still being synthesised is not wanted
    for line in live.close(finished=not result.quit and result.stopped_by is None):
        status.message(line)
    if result.quit:
        status.message("stopped; take your time")
    elif result.stopped_by is None:
        from voiceguide.script.units import format_duration

        status.message(f"done ({format_duration(result.frames / sample_rate)}); take your time")
    return result


def _settle(seconds: float, status: Any, interactive: bool, signals: Any) -> bool:
    """``--delay``: wait *seconds* in silence, counting down on the status line; False if quit meanwhile.

    Keys work during the wait: space starts at once, p pauses the count, q
    quits. Nothing has begun yet (no device open, no practice-log row), so
    a quit here leaves nothing behind; the speech is made meanwhile.
    """
    from voiceguide.player.countdown import Countdown

    countdown = Countdown(seconds)

    def key(name: str) -> None:
        if name == "space":
            countdown.skip()
        elif name == "p":
            countdown.toggle()
        elif name in ("q", "escape"):
            countdown.cancel()

    def tick(left: float, paused: bool) -> None:
        status.starting(left, paused)

    if not interactive:
        return countdown.wait(tick)
    from voiceguide.player.keys import KeyReader

    with KeyReader(key) as keys:
        signals.keys = keys
        try:
            return countdown.wait(tick)
        finally:
            signals.keys = None


def clock(epoch: float) -> str:
    """A moment as a person reads it: local ``HH:MM:SS.mmm`` (not a raw epoch)."""
    whole = int(epoch)
    return time.strftime("%H:%M:%S", time.localtime(whole)) + f".{int((epoch - whole) * 1000):03d}"


def _report(result, request: PlayRequest, stderr: TextIO, suspensions: int = 0) -> None:
    """The figures ``-v`` asks for, and a hint when the sound had gaps.

    A suspension (Ctrl-Z, then ``fg``) lets the device run dry; the output
    does not count that underrun, so it brings no hint: ``-v`` names it.
    """
    if request.verbose:
        from voiceguide.player.player import process_start_time

        if result.first_audible is not None:
            started = process_start_time()
            print(f"first sound at {clock(result.first_audible)} "
                  f"({result.first_audible - started:.3f} s after the process started)", file=stderr)
        away = ("" if not suspensions else " (not counting the suspension by Ctrl-Z)" if suspensions == 1
                else f" (not counting {suspensions} suspensions by Ctrl-Z)")
        print(f"latency {result.latency:.3f} s, {result.underruns} underruns{away}", file=stderr)
        if result.waits:
            steps = ", ".join(f"{step} ({seconds:.1f} s)" for step, seconds in result.waits)
            print(f"waited {sum(s for _, s in result.waits):.1f} s for speech before step(s) {steps}: "
                  f"synthesis was behind; `voiceguide prepare {request.exercise}` avoids it", file=stderr)
    if result.underruns:
        print(f"voiceguide: {result.underruns} underruns (gaps in the sound); try --latency "
              f"{max(0.3, result.latency * 2):.1f}", file=stderr)
