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

import shutil
import sys
import time
from typing import Optional, TextIO

from voiceguide.timeline import Event
from voiceguide.script.units import format_duration

KEYS_FOOTER = "space pause/resume · n/→ next · p/← back · +/- volume · q quit"


def describe(event: Event) -> str:
    if event.kind == "say":
        return event.text or ""
    if event.kind == "bell":
        return f"(bell: {event.bell})"
    if event.kind == "breathe":
        b = event.breathe
        return (f"(breathing: in {b.inhale:g} s, out {b.exhale:g} s, {b.cycles} times)")
    if event.kind == "walk":
        return f"(walking, {event.cadence:g} steps a minute)"
    if event.kind == "record":
        return f"(after the tone, your answer is recorded: {event.capture:g} s)"
    return "(silence)"


class Status:
    """The interface both kinds share; the base class shows nothing."""

    def start(self, title: str, total: Optional[float]) -> None: ...

    def event(self, event: Event, elapsed: float) -> None: ...

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None: ...

    def message(self, text: str) -> None: ...

    def close(self) -> None: ...


def _clock(elapsed: float, total: Optional[float]) -> str:
    return f"{format_duration(elapsed)} / {format_duration(total) if total else '?'}"


class LogStatus(Status):
    """Plain timestamped lines, one per step: for services, pipes and logs."""

    def __init__(self, out: TextIO = None, words_out: Optional[TextIO] = None):
        self.out = out or sys.stderr
        self.words_out = words_out

    def _line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} {text}", file=self.out, flush=True)

    def start(self, title: str, total: Optional[float]) -> None:
        length = f" ({format_duration(total)})" if total else ""
        self._line(f"start: {title}{length}")

    def event(self, event: Event, elapsed: float) -> None:
        if event.kind == "pause":
            return
        section = f"[{event.section}] " if event.section else ""
        self._line(f"{format_duration(elapsed)} {section}{describe(event)}")
        if self.words_out is not None and event.kind == "say":
            print(event.text, file=self.words_out, flush=True)

    def message(self, text: str) -> None:
        self._line(text)


class TerminalStatus(Status):
    """A footer of keys and one status line redrawn in place."""

    def __init__(self, out: TextIO = None, words_out: Optional[TextIO] = None):
        self.out = out or sys.stderr
        self.words_out = words_out
        self._section: Optional[str] = None
        self._words = ""
        self._last = ""
        self._shown = False

    def start(self, title: str, total: Optional[float]) -> None:
        print(f"{title}. You may stop at any time.", file=self.out)
        print(KEYS_FOOTER, file=self.out, flush=True)

    def event(self, event: Event, elapsed: float) -> None:
        if event.section:
            self._section = event.section
        if event.kind != "pause":
            self._words = describe(event)
        if self.words_out is not None and event.kind == "say":
            self._clear()
            print(event.text, file=self.words_out, flush=True)

    def message(self, text: str) -> None:
        self._clear()
        print(text, file=self.out, flush=True)

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None:
        parts = [_clock(elapsed, total)]
        if paused:
            parts.append("paused")
        if abs(volume_db) > 0.01:
            parts.append(f"vol {volume_db:+.0f} dB")
        if self._section:
            parts.append(f"[{self._section}]")
        parts.append(self._words)
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        line = "  ".join(p for p in parts if p)
        if len(line) > width:
            line = line[:width - 1] + "…"
        if line != self._last:
            self.out.write("\r\x1b[2K" + line)
            self.out.flush()
            self._last = line
            self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self._last = ""
            self._shown = False

    def close(self) -> None:
        if self._shown:
            self.out.write("\n")
            self.out.flush()
            self._shown = False
