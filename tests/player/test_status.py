"""What a person sees on the terminal while a session plays (issue 13), read from an emulated screen.

The status display writes escape codes; pyte (a VT100 emulator) turns them
into the screen a person would see, so the tests assert rows of text: the
keys footer is the last line, key feedback shows in the status line instead
of piling up above it, and a breathing step shows its phase and cycle.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyte
import pytest

from voiceguide.player.status_line import FLASH_SECONDS, KEYS_FOOTER, KEYS_FOOTERS, TerminalStatus, keys_footer
from voiceguide.script.loader import load_text
from voiceguide.timeline import compile_timeline

COLUMNS, ROWS = 100, 12


class Screen:
    """A terminal of COLUMNS x ROWS fed by what the status writes (the tty turns \\n into \\r\\n)."""

    def __init__(self):
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.screen)
        self.out = io.StringIO()
        self._read = 0

    def rows(self):
        text = self.out.getvalue()
        self.stream.feed(text[self._read:].replace("\n", "\r\n"))
        self._read = len(text)
        rows = [row.rstrip() for row in self.screen.display]
        while rows and not rows[-1]:
            rows.pop()
        return rows


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def screen(monkeypatch):
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    return Screen()


def events_of(text):
    script = load_text(text, "status.yaml", Path("."))
    return compile_timeline(script, lambda t, v: 48000, sample_rate=48000).events


def test_the_keys_footer_stays_at_the_bottom_under_the_status_line(screen):
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("Body scan", 600.0)
    assert screen.rows() == ["Body scan. You may stop at any time.", "0:00 / 10:00", KEYS_FOOTER]
    status.tick(5.0, 600.0, False, 0.0)
    status.message("a line worth keeping")  # e.g. the device was reopened
    status.tick(6.0, 600.0, False, 0.0)
    rows = screen.rows()
    assert rows[-1] == KEYS_FOOTER and rows[-2].startswith("0:06 / 10:00")
    assert "a line worth keeping" in rows[:-2]
    assert rows.count(KEYS_FOOTER) == 1
    status.close()  # the keys no longer apply: the footer goes, the last status stays
    rows = screen.rows()
    assert KEYS_FOOTER not in rows and rows[-1].startswith("0:06 / 10:00")


def test_paused_resumed_and_volume_show_in_the_status_line_not_above_it(screen):
    clock = Clock()
    status = TerminalStatus(screen.out, clock=clock)
    status.start("Body scan", 600.0)
    status.flash("paused; press space to go on")
    status.tick(10.0, 600.0, True, 0.0)
    assert screen.rows()[-2] == "0:10 / 10:00  paused; press space to go on"
    clock.now += FLASH_SECONDS + 0.1
    status.tick(10.0, 600.0, True, 0.0)
    assert screen.rows()[-2] == "0:10 / 10:00  paused"
    status.flash("resumed")
    for db in (2, 4, 6):
        status.flash(f"volume +{db} dB")
    status.tick(11.0, 600.0, False, 6.0)
    rows = screen.rows()
    assert rows[-2] == "0:11 / 10:00  volume +6 dB"
    assert rows == ["Body scan. You may stop at any time.", rows[-2], KEYS_FOOTER]  # nothing piled up
    clock.now += FLASH_SECONDS + 0.1
    status.tick(12.0, 600.0, False, 6.0)
    assert screen.rows()[-2] == "0:12 / 10:00  vol +6 dB"


def test_a_breathing_step_shows_its_phase_and_the_cycle(screen):
    breathe = [e for e in events_of("title: B\nsteps:\n  - breathe: {inhale: 4s, hold: 1s, exhale: 6s, cycles: 3}\n")
               if e.kind == "breathe"][0]
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("B", 33.0)
    at = breathe.start / 48000
    status.event(breathe, at)
    seen = []
    for into in (1.0, 4.5, 7.0, 11.5, 23.0, 32.9):
        status.tick(at + into, 33.0, False, 0.0)
        seen.append(screen.rows()[-2].split("  ", 1)[1])
    assert seen == ["(breathing: in · 1 of 3)", "(breathing: hold · 1 of 3)", "(breathing: out · 1 of 3)",
                    "(breathing: in · 2 of 3)", "(breathing: in · 3 of 3)", "(breathing: out · 3 of 3)"]


def test_a_narrow_terminal_keeps_both_lines_on_one_row_each(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    screen = Screen()
    screen.screen.resize(ROWS, 40)
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("Body scan", 600.0)
    status.tick(1.0, 600.0, False, 0.0)
    status.event(events_of("title: T\nsteps:\n  - " + "A very long sentence. " * 5 + "\n")[0], 1.0)
    status.tick(2.0, 600.0, False, 0.0)
    rows = screen.rows()
    assert len(rows) == 3 and rows[-1].startswith("space pause") and rows[-2].startswith("0:02 / 10:00")


def narrow_screen(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    screen = Screen()
    screen.screen.resize(ROWS, columns)
    return screen


@pytest.mark.parametrize("columns", [30, 40, 45, 50, 60, 70, 80, 100])
def test_the_keys_line_shortens_gracefully_and_always_keeps_q_quit(monkeypatch, columns):
    """At 50 columns the keys line was cut at "q qu…" (issue 19): the way to stop must never be cut."""
    screen = narrow_screen(monkeypatch, columns)
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("Body scan", 600.0)
    status.tick(1.0, 600.0, False, 0.0)
    footer = screen.rows()[-1]
    assert footer.endswith("q quit") and "…" not in footer, footer
    assert footer.startswith("space pause") or columns < 21
    assert len(footer) < columns  # one row each: a wrapped line would break the redraw
    # the fullest that fits: a wider terminal never shows less
    assert footer == next(f for f in KEYS_FOOTERS if len(f) <= columns - 1)


def test_the_keys_lines_drop_words_before_keys_and_keys_in_order_of_need():
    widths = [len(footer) for footer in KEYS_FOOTERS]
    assert widths == sorted(widths, reverse=True) and KEYS_FOOTERS[0] == KEYS_FOOTER
    assert all(footer.endswith("q quit") for footer in KEYS_FOOTERS)
    assert keys_footer(49) == "space pause · n next · p back · +/- vol · q quit"  # 50 columns
    assert keys_footer(3) == "q quit"


def test_ctrl_z_takes_both_lines_away_and_fg_draws_them_again(screen):
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("Body scan", 600.0)
    status.tick(5.0, 600.0, False, 0.0)
    status.suspend("paused in the background; `fg` carries on")
    rows = screen.rows()
    assert rows[-1] == "paused in the background; `fg` carries on" and KEYS_FOOTER not in rows
    screen.out.write("[1]+  Stopped   voiceguide play body-scan\n$ fg\nvoiceguide play body-scan\n")  # the shell
    status.resume()
    status.tick(5.0, 600.0, True, 0.0)  # the same line as before the stop: drawn all the same
    rows = screen.rows()
    assert rows[-1] == KEYS_FOOTER and rows[-2].startswith("0:05 / 10:00")
    assert rows[-3] == "voiceguide play body-scan"
