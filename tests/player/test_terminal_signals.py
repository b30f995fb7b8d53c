"""Ctrl-Z / fg and Ctrl-\\ on a real terminal and a real-time sound server (issue 19), read from the screen.

An interactive bash on a pseudo-terminal plays the part of a person's shell;
everything it shows is fed to pyte (a VT100 emulator), so the assertions are
about the screen a person would see, not about the bytes.
"""

from __future__ import annotations

import sys
import time

import pexpect
import pyte
import pytest

from tests.player.test_signals import interactive_shell, long_script

pytestmark = [pytest.mark.audio, pytest.mark.slow]

COLUMNS = 100


def screen_of(raw: str):
    screen = pyte.Screen(COLUMNS, 24)
    pyte.Stream(screen).feed(raw)
    return [row.rstrip() for row in screen.display if row.strip()]


class Tee:
    """Keeps what the terminal showed (pexpect's logfile_read), exactly, for the emulator."""

    def __init__(self):
        self.parts = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.parts)


def test_ctrl_z_then_fg_is_a_pause_not_an_underrun(pulse, tmp_path):
    child = interactive_shell(pulse.env)
    shown = child.logfile_read = Tee()
    child.sendline(f"{sys.executable} -m voiceguide play {long_script(tmp_path)} -v")
    child.expect("space pause")
    time.sleep(1.5)
    child.send("\x1a")   # Ctrl-Z
    child.expect("Stopped")
    child.expect_exact("$ ")
    rows = screen_of(shown.text)
    note = rows.index("paused in the background; `fg` carries on")
    assert rows[note + 1].startswith("[1]+  Stopped"), rows  # the shell's line, under the note
    assert not any("q quit" in row for row in rows), "the keys line stays behind while the shell has the terminal"
    time.sleep(2.0)      # the device runs dry while the process is stopped
    child.sendline("fg")
    child.expect("q quit")   # pexpect reads (and so shows) only while it expects
    time.sleep(1.0)
    child.expect(r"\[One\]")
    rows = screen_of(shown.text)
    assert rows[-1].startswith("space pause") and rows[-1].endswith("q quit"), rows  # the keys, back at the bottom
    child.send("q")
    child.expect("stopped; take your time", timeout=10)
    child.expect_exact("$ ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    text = shown.text
    assert "ALSA lib" not in text and "snd_pcm_recover" not in text
    assert "0 underruns (not counting the suspension by Ctrl-Z)" in text
    assert "try --latency" not in text


def test_ctrl_backslash_leaves_no_keys_line_under_the_prompt(pulse, tmp_path):
    child = interactive_shell(pulse.env)
    shown = child.logfile_read = Tee()
    child.sendline(f"{sys.executable} -m voiceguide play {long_script(tmp_path)}")
    child.expect("space pause")
    time.sleep(1.5)
    child.send("\x1c")   # Ctrl-\ : SIGQUIT
    child.expect_exact("$ ")
    child.sendline("echo after")
    child.expect_exact("after\r\n")
    child.expect_exact("$ ")
    rows = screen_of(shown.text)
    assert not any("q quit" in row for row in rows), rows
    assert rows[-1] == "$" and rows[-2] == "after", rows
    status = next(i for i, row in enumerate(rows) if row.startswith("0:0"))
    # the last status line stays, as on other exits; the shell's word comes under it
    assert "[One]" in rows[status] and rows[status + 1].startswith("Quit"), rows
    child.sendline("exit")
    child.expect(pexpect.EOF)
