"""Single key presses from a terminal, read in a thread, the terminal always restored.

The terminal is put in *cbreak* mode (keys arrive at once, unechoed, and
Ctrl-C still raises SIGINT), and restored on exit -- normal, exception or
signal -- by the context manager and, as a last resort, by ``atexit``.
:meth:`KeyReader.suspend` and :meth:`KeyReader.resume` serve Ctrl-Z and
``fg`` (see :mod:`voiceguide.player.signals`). Nothing can restore the
terminal after SIGKILL: ``stty sane`` does.

Arrow keys arrive as escape sequences (``ESC [ C``); they are decoded here
so the player sees names: ``space``, ``right``, ``left``, ``n``, ``+``...
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional

SEQUENCES = {
    b"\x1b[C": "right", b"\x1bOC": "right",
    b"\x1b[D": "left", b"\x1bOD": "left",
    b"\x1b[A": "up", b"\x1bOA": "up",
    b"\x1b[B": "down", b"\x1bOB": "down",
    b" ": "space",
}


def decode(data: bytes) -> List[str]:
    """Key names in *data*, which may hold several keys and escape sequences."""
    keys: List[str] = []
    i = 0
    while i < len(data):
        for seq, name in SEQUENCES.items():
            if data.startswith(seq, i):
                keys.append(name)
                i += len(seq)
                break
        else:
            if data[i:i + 1] == b"\x1b":
                i += 1
                # an unknown escape sequence: skip "[" and its parameters
                if data[i:i + 1] in (b"[", b"O"):
                    i += 1
                    while i < len(data) and not (0x40 <= data[i] <= 0x7E):
                        i += 1
                    i += 1
                else:
                    keys.append("escape")
                continue
            keys.append(chr(data[i]) if data[i] < 0x80 else "?")
            i += 1
    return keys


class KeyReader:
    """Calls *handler(key_name)* from a background thread while active."""

    def __init__(self, handler: Callable[[str], None], fd: Optional[int] = None):
        self.handler = handler
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: Optional[List[Any]] = None   # termios.tcgetattr's, restored on exit
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._hold = threading.Event()   # line_mode: the reader leaves stdin alone
        self._idle = threading.Event()   # ... and says so

    @staticmethod
    def available(fd: Optional[int] = None) -> bool:
        try:
            return os.isatty(sys.stdin.fileno() if fd is None else fd)
        except (OSError, ValueError, AttributeError):  # no stdin at all (`play <&-`): sys.stdin is None
            return False

    def __enter__(self) -> "KeyReader":
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        atexit.register(self.restore)
        tty.setcbreak(self.fd, termios.TCSANOW)
        self._thread = threading.Thread(target=self._run, name="voiceguide-keys", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._hold.is_set():
                self._idle.set()
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.fd, 64)
            except (OSError, ValueError):
                return
            if not data:
                return
            for key in decode(data):
                try:
                    self.handler(key)
                except Exception:  # a handler bug must not kill key reading: kept for --debug
                    logging.getLogger("voiceguide").debug("the key %r failed", key, exc_info=True)

    def suspend(self) -> None:
        """Give the terminal back in its own mode (before Ctrl-Z stops us); :meth:`resume` undoes it."""
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (OSError, termios.error):
                pass

    def resume(self) -> None:
        """Re-enter cbreak mode (after ``fg``: the shell may have changed the mode while we were stopped)."""
        if self._saved is not None:
            import termios
            import tty

            try:
                tty.setcbreak(self.fd, termios.TCSANOW)
            except (OSError, termios.error):
                pass

    @contextmanager
    def line_mode(self) -> Iterator[None]:
        """Let this thread read a typed line: keys stop being read, the terminal echoes whole lines.

        For the ``record`` step in ``play --text``. Trap: the reader thread
        may be inside its 0.1 s ``select`` when the hold begins; waiting for it
        to say it is idle keeps it from taking the first typed characters.
        """
        self._idle.clear()
        self._hold.set()
        if self._thread is not None and self._thread.is_alive():
            self._idle.wait(0.5)
        self.suspend()
        try:
            yield
        finally:
            self.resume()
            self._hold.clear()

    def restore(self) -> None:
        """Put the terminal back as it was (idempotent)."""
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (OSError, termios.error):
                pass
            self._saved = None

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(0.5)
        self.restore()
        atexit.unregister(self.restore)
