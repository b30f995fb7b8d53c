"""What the player shows while a session runs: a status line, or plain log lines.

* :class:`TerminalStatus` -- one line redrawn in place (elapsed / total, the
  section, the words being spoken) under a one-line footer of keys.
* :class:`LogStatus` -- for a systemd service, a pipe or nohup: one
  timestamped line per step and no escape codes at all, so a journal or a
  log file stays readable.

Both write to *out* (stderr by default), never to stdout, so ``--text``
words (written to *words_out*, stdout) and the rest can be piped apart.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Optional, TextIO, Tuple

from voiceguide import kinds
from voiceguide.timeline import Event
from voiceguide.script.units import format_duration

KEYS_FOOTER = "space pause/resume · n/→ next · p/← back · +/- volume · q quit"

#: The keys footer from the fullest to the barest: the first that fits the terminal is shown.
#: Words are shortened first, then the least needed keys go (volume, back, next), and
#: "q quit" stays to the end, because how to stop is the one thing never to hide.
KEYS_FOOTERS = (
    KEYS_FOOTER,
    "space pause · n/→ next · p/← back · +/- volume · q quit",
    "space pause · n next · p back · +/- vol · q quit",
    "space pause · n next · p back · q quit",
    "space pause · n next · q quit",
    "space pause · q quit",
    "q quit",
)


#: The keys while a start delay counts down (``play --delay``), fullest first, as above.
COUNTDOWN_FOOTERS = (
    "space start now · p pause the count · q quit",
    "space start now · p pause · q quit",
    "space start now · q quit",
    "q quit",
)


def keys_footer(width: int, footers: Tuple[str, ...] = KEYS_FOOTERS) -> str:
    """The fullest keys footer of *footers* that fits in *width* columns (at the least, ``q quit``).

    Cutting the one long footer at the edge lost "q quit" first, at 50
    columns (issue 19): the keys a listener needs most are at its end.
    """
    return next((footer for footer in footers if len(footer) <= width), footers[-1])


def starting_words(left: float, paused: bool) -> str:
    """``starting in 1:40`` (``· paused``): the start delay, in the same words on the terminal and in logs."""
    return f"starting in {format_duration(math.ceil(left))}" + (" · paused" if paused else "")


def describe(event: Event) -> str:
    """The words the status line shows while *event* sounds: its kind's (:meth:`voiceguide.kinds.Kind.describe`)."""
    return kinds.get(event.kind).describe(event)


def live_words(event: Event, into: float) -> str:
    """The words while *event* plays on, *into* seconds after it began (a breathing step's phase)."""
    return kinds.get(event.kind).live(event, into) or describe(event)


class Status:
    """The interface both kinds share; the base class shows nothing."""

    def start(self, title: str, total: Optional[float]) -> None: ...

    def event(self, event: Event, elapsed: float) -> None: ...

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None: ...

    def message(self, text: str) -> None: ...

    def preparing(self, progress: Optional[Tuple[int, int]]) -> None:
        """Before the first sound: (clips ready, clips in all) of the speech being made; None once it sounds."""

    def flash(self, text: str) -> None:
        """A short-lived word about a key press (paused, resumed, volume): a message unless shown in place."""
        self.message(text)

    def suspend(self, note: str) -> None:
        """The process is about to stop (Ctrl-Z): *note* says so."""
        self.message(note)

    def starting(self, left: float, paused: bool) -> None:
        """A start delay counts down: *left* seconds until the session (see :mod:`.countdown`)."""

    def resume(self) -> None:
        """The process goes on after a stop (``fg``)."""

    def close(self) -> None: ...


def _clock(elapsed: float, total: Optional[float]) -> str:
    return f"{format_duration(elapsed)} / {format_duration(total) if total else '?'}"


def preparing_words(progress: Tuple[int, int]) -> str:
    """``preparing speech (3 of 40)``: why nothing sounds yet, in the same words on every surface."""
    return f"preparing speech ({progress[0]} of {progress[1]})"


class LogStatus(Status):
    """Plain timestamped lines, one per step: for services, pipes and logs."""

    def __init__(self, out: Optional[TextIO] = None, words_out: Optional[TextIO] = None):
        self.out = out or sys.stderr
        self.words_out = words_out
        self._said_preparing = False
        self._said_starting = False

    def _line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} {text}", file=self.out, flush=True)

    def start(self, title: str, total: Optional[float]) -> None:
        length = f" ({format_duration(total)})" if total else ""
        self._line(f"start: {title}{length}")

    def event(self, event: Event, elapsed: float) -> None:
        if kinds.get(event.kind).silent:
            return
        section = f"[{event.section}] " if event.section else ""
        self._line(f"{format_duration(elapsed)} {section}{describe(event)}")
        if self.words_out is not None and event.text is not None:
            print(event.text, file=self.words_out, flush=True)

    def message(self, text: str) -> None:
        self._line(text)

    def preparing(self, progress: Optional[Tuple[int, int]]) -> None:
        if progress is not None and not self._said_preparing:
            self._said_preparing = True  # one line: a log is not a progress bar
            self._line(preparing_words(progress))

    def starting(self, left: float, paused: bool) -> None:
        if not self._said_starting:   # one line: a log is not a countdown
            self._said_starting = True
            self._line(starting_words(left, paused))


#: How long a flashed word (resumed, volume +2 dB) stays in the status line.
FLASH_SECONDS = 2.0

#: Erase from the cursor to the end of the screen (the status line and the footer under it).
_ERASE_BELOW = "\r\x1b[J"
#: Back up from the footer to the start of the status line.
_UP_TO_STATUS = "\x1b[1A\r"


class TerminalStatus(Status):
    """One status line redrawn in place, with the keys footer under it, at the bottom.

    Layout, bottom of the terminal::

        Body scan. You may stop at any time.          <- printed once; lines scroll above
        1:23 / 9:54  [Settling]  Find a comfortable position...   <- redrawn in place
        space pause/resume · n/→ next · ...            <- the keys, always last

    The cursor rests at the start of the status line. A message (or a
    ``--text`` line) erases both lines, prints itself where they were, and
    the next tick draws them again under it, so the footer stays at the
    bottom. Key feedback (paused, resumed, volume) is not a message: it
    shows in the status line (:meth:`flash`), so nothing piles up above.
    Both lines are cut to the terminal's width: a wrapped line would break
    the cursor arithmetic.
    """

    def __init__(self, out: Optional[TextIO] = None, words_out: Optional[TextIO] = None, clock=time.monotonic):
        self.out = out or sys.stderr
        self.words_out = words_out
        self._clock = clock
        self._section: Optional[str] = None
        self._words = ""
        self._event: Optional[Event] = None
        self._event_at = 0.0
        self._flash = ""
        self._flash_until = 0.0
        self._last = ""
        self._shown = False
        self._preparing: Optional[Tuple[int, int]] = None
        self._footers: Tuple[str, ...] = KEYS_FOOTERS

    def start(self, title: str, total: Optional[float]) -> None:
        if self._footers is not KEYS_FOOTERS:   # after a start delay: the session's keys now
            self._clear()
            self._footers = KEYS_FOOTERS
        print(f"{title}. You may stop at any time.", file=self.out, flush=True)
        self._draw(_clock(0.0, total))

    def starting(self, left: float, paused: bool) -> None:
        if self._footers is not COUNTDOWN_FOOTERS:
            self._clear()
            self._footers = COUNTDOWN_FOOTERS
        self._draw(starting_words(left, paused))

    def event(self, event: Event, elapsed: float) -> None:
        if event.section:
            self._section = event.section
        if not kinds.get(event.kind).silent:
            self._words = describe(event)
            self._event, self._event_at = event, elapsed
        if self.words_out is not None and event.text is not None:
            self._clear()
            print(event.text, file=self.words_out, flush=True)

    def message(self, text: str) -> None:
        self._clear()
        print(text, file=self.out, flush=True)

    def flash(self, text: str) -> None:
        self._flash, self._flash_until = text, self._clock() + FLASH_SECONDS

    def preparing(self, progress: Optional[Tuple[int, int]]) -> None:
        self._preparing = progress

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None:
        parts = [_clock(elapsed, total)]
        flashing = self._flash if self._clock() < self._flash_until else ""
        if paused and "paused" not in flashing:
            parts.append("paused")
        if flashing:
            parts.append(flashing)
        elif abs(volume_db) > 0.01:
            parts.append(f"vol {volume_db:+.0f} dB")
        if self._preparing is not None:
            parts.append(preparing_words(self._preparing))
        if self._section:
            parts.append(f"[{self._section}]")
        words = self._words
        if self._event is not None:  # words that change as the step plays on (breathing: in, hold, out)
            words = kinds.get(self._event.kind).live(self._event, elapsed - self._event_at) or words
        parts.append(words)
        self._draw("  ".join(p for p in parts if p))

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((80, 24)).columns - 1)

    @staticmethod
    def _fit(line: str, width: int) -> str:
        return line if len(line) <= width else line[:width - 1] + "…"

    def _draw(self, line: str) -> None:
        width = self._width()
        line = self._fit(line, width)
        if self._shown and line == self._last:
            return
        if self._shown:
            self.out.write("\r\x1b[2K" + line)  # the footer under it stays as it is
        else:
            self.out.write(_ERASE_BELOW + line + "\n" + keys_footer(width, self._footers) + _UP_TO_STATUS)
        self.out.flush()
        self._last = line
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.out.write(_ERASE_BELOW)
            self.out.flush()
            self._last = ""
            self._shown = False

    def suspend(self, note: str) -> None:
        """Ctrl-Z: take both lines away and leave *note* in their place, for the shell to write under.

        Left drawn, the shell's "Stopped" line lands on the footer's row and the
        footer is not drawn again after ``fg``. :meth:`resume` redraws both.
        """
        self._clear()
        print(note, file=self.out, flush=True)

    def resume(self) -> None:
        """After ``fg``: draw the status line and the footer afresh at the next tick (the cursor is on a new line)."""
        self._shown = False
        self._last = ""

    def close(self) -> None:
        """Leave the last status line (the keys no longer apply: the footer goes)."""
        if self._shown:
            self.out.write(_ERASE_BELOW + self._last + "\n")
            self.out.flush()
            self._shown = False
