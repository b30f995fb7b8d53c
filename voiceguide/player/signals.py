"""Signals for a session played in the foreground, and for a render.

:class:`SessionSignals` (``play``, main thread only):

* **SIGINT, SIGTERM** stop the player with a fade (``PlayResult.stopped_by``;
  ``play`` exits 130 for Ctrl-C, 0 for SIGTERM, which is how a service
  manager asks politely). Before the player runs -- while the device opens --
  they end the start-up at once: there is nothing to fade.
* **SIGHUP** is ignored when headless, so ``nohup voiceguide play ...``
  survives a closed SSH session; on a terminal it stops like SIGTERM.
* **SIGQUIT** (Ctrl-\\\\) keeps its meaning, "quit now, no questions": the
  terminal is restored and the speech workers ended first, then the
  default action runs (the process ends by SIGQUIT).
* **SIGTSTP** (Ctrl-Z) pauses with a fade, gives the terminal back in its
  normal mode, takes the status and keys lines away with a line that says
  so, and stops the process; **SIGCONT** (``fg``) re-enters cbreak mode,
  redraws the lines and resumes. SIGCONT also re-enters cbreak after a
  SIGSTOP, which cannot be caught. While the process is stopped the device
  runs dry: that underrun is the suspension's, not a gap in the sound, so the
  output is told (``suspending``/``continued``) and does not count it.

SIGKILL cannot be caught: a terminal left without echo after ``kill -9``
is put right with ``stty sane``.

:func:`interrupting` (``render``): SIGTERM and SIGHUP raise
:class:`~voiceguide.errors.Interrupted` in the main thread, as Ctrl-C raises
KeyboardInterrupt, so the temporary file is removed on the way out.

Why the main thread never blocks: Python runs a signal handler only
between bytecodes of the main thread. Everything that can block in C for
good (opening a device, mixing, writing) runs in other threads; the main
thread waits with timeouts (:meth:`SessionSignals.call`, ``Player.run``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from voiceguide.errors import EXIT_INTERRUPTED, EXIT_OK, Interrupted

#: How long Ctrl-Z waits for the pause fade to reach the ear before stopping the process.
SUSPEND_FADE = 0.5

#: What the terminal shows while the session waits in the background (the shell's own line follows).
SUSPENDED_NOTE = "paused in the background; `fg` carries on"


def _exit_code(signum: int) -> int:
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_OK


class SessionSignals:
    """Install the handlers for one ``play`` (a context manager; main thread only).

    Set :attr:`player` once it exists, :attr:`status` (the status display)
    and :attr:`keys` (a :class:`~voiceguide.player.keys.KeyReader`) while keys
    are read; add :meth:`on_quit_now` callbacks for SIGQUIT.
    """

    def __init__(self, *, headless: bool):
        self.headless = headless
        self.player: Any = None
        self.keys: Any = None
        self.status: Any = None
        #: Times the session was suspended (Ctrl-Z, or SIGSTOP) and continued.
        self.suspensions = 0
        self._stopped_for_suspend = False
        self.stopped_by: Optional[int] = None
        self._quit_now: List[Callable[[], None]] = []
        self._previous: Dict[int, Any] = {}
        self._paused_for_suspend = False

    def on_quit_now(self, callback: Callable[[], None]) -> None:
        self._quit_now.append(callback)

    def __enter__(self) -> "SessionSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        handlers = {signal.SIGINT: self._stop, signal.SIGTERM: self._stop,
                    signal.SIGHUP: signal.SIG_IGN if self.headless else self._stop,
                    signal.SIGQUIT: self._quit}
        if not self.headless:
            handlers[signal.SIGTSTP] = self._suspend
            handlers[signal.SIGCONT] = self._continued
        for signum, handler in handlers.items():
            self._previous[signum] = signal.signal(signum, handler)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    # -- handlers (run in the main thread, between bytecodes) ---------------------------

    def _stop(self, signum, frame) -> None:
        if self.stopped_by is None:
            self.stopped_by = signum
        if self.player is not None:
            self.player.stop(signum)
        else:
            raise Interrupted("stopped; take your time", exit_code=_exit_code(signum))

    def _quit(self, signum, frame) -> None:
        try:
            if self.keys is not None:
                self.keys.restore()
            for callback in self._quit_now:
                try:
                    callback()
                except (OSError, ValueError):
                    pass  # a terminal or a worker already gone (EIO, EPIPE, a closed file): the process ends now
        finally:  # whatever a callback raised, the signal's own default ends the process
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _output(self) -> Any:
        """The player's output if it takes word of a suspension (a test's fake may not)."""
        return getattr(self.player, "output", None)

    def _suspend(self, signum, frame) -> None:
        player = self.player
        if player is not None and not player.paused and not player.stopping:
            player.pause()
            self._paused_for_suspend = True
            time.sleep(SUSPEND_FADE)
        # before the stop: the mixer thread may see the underrun before this thread runs again
        getattr(self._output(), "suspending", lambda: None)()
        if self.status is not None:
            self.status.suspend(SUSPENDED_NOTE)
        if self.keys is not None:
            self.keys.suspend()
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        self._stopped_for_suspend = True
        os.kill(os.getpid(), signal.SIGTSTP)   # stops here until SIGCONT
        signal.signal(signal.SIGTSTP, self._suspend)
        self._continued(signal.SIGCONT, None)

    def _continued(self, signum, frame) -> None:
        # Runs twice after Ctrl-Z (the SIGCONT handler, then the end of _suspend): once is enough.
        if frame is not None and self._stopped_for_suspend:
            return
        self._stopped_for_suspend = False
        self.suspensions += 1
        getattr(self._output(), "continued", lambda: None)()
        if self.keys is not None:
            self.keys.resume()
        if self.status is not None:
            self.status.resume()
        if self._paused_for_suspend:
            self._paused_for_suspend = False
            if self.player is not None:
                self.player.resume()

    # -- waiting without blocking the main thread -----------------------------------------

    def call(self, function: Callable[[], Any], what: str) -> Any:
        """``function()`` run in a thread while this thread waits, so a signal still works.

        For steps that may block in C (opening a device on a hung sound
        server). A stop while waiting raises :class:`Interrupted`; the thread
        is left behind (:mod:`voiceguide.player.leftovers`).
        """
        box: Dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = function()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name=f"voiceguide-{what}", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.05)
        except Interrupted:
            from voiceguide.player import leftovers

            leftovers.leave(thread, f"{what} was blocked when the session stopped")
            raise
        if "error" in box:
            raise box["error"]
        return box["value"]


@contextmanager
def interrupting(*signums: int) -> Iterator[None]:
    """While the block runs in the main thread, SIGTERM and SIGHUP (or *signums*) raise Interrupted.

    The exit code is 128 + the signal's number, as the shell reports a
    process ended by that signal.
    """
    signums = signums or (signal.SIGTERM, signal.SIGHUP)
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        raise Interrupted(f"stopped by {name}", exit_code=128 + signum)

    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
