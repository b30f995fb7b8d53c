"""The player in-process, on a recording fake output: fades, skip and back, device loss, stops.

Fast (no sound card, no real time): the fake output records every block the
player writes, and its cues press keys at known points of the session. What
is asserted is what a listener would hear. The same behaviours are also
checked end to end on real devices in tests/player/test_player.py and test_audio_path.py.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio.mixer import render_blocks
from voiceguide.errors import DeviceError
from voiceguide.player import leftovers
from voiceguide.player import player as player_module
from voiceguide.player.fader import FADE_SECONDS
from voiceguide.player.player import Player
from voiceguide.player.session import Options, Session
from voiceguide.script.loader import load_text

from tests.support.fakes import FakeSynth, HangingSynth, RecordingOutput

SR = 48000
FADE = int(FADE_SECONDS * SR)

SCRIPT = """\
title: Controls
ambient:
  - noise: pink
    level: -20 dB
steps:
  - section: One
  - say: one two three
    pause: 3s
  - section: Two
  - say: four five six
    pause: 3s
  - section: Three
  - say: seven eight nine
    pause: 3s
"""


def session(text=SCRIPT, synth=None):
    return Session(load_text(text, "controls.yaml", Path(".")), Options(), synthesizer=synth or FakeSynth())


def reference(text=SCRIPT):
    """What render writes for the same session: the mix, sample for sample."""
    with session(text) as s:
        return np.concatenate([b.copy() for b in render_blocks(s.mixer(s.timeline()))])


def play(output, sess=None, **kw):
    sess = sess or session()
    player = Player(sess, output, **kw)
    return player, player.run


def test_the_fake_output_hears_exactly_what_render_writes():
    output = RecordingOutput()
    player, run = play(output)
    result = run()
    assert np.array_equal(output.recording(), reference())
    assert output.started and output.closed
    assert result.frames == len(reference()) and result.stopped_by is None


def test_pause_fades_out_holds_silence_and_fades_back_in():
    output = RecordingOutput()
    player, run = play(output)
    output.at(5 * SR, player.pause)           # the pink bed has faded in by now
    output.at(8 * SR, player.resume)          # three seconds later (silence is written while paused)
    run()
    heard = output.recording()
    after_pause = 5 * SR + output.blocksize   # the request is seen before the next block
    fade_out = np.abs(heard[after_pause - output.blocksize:after_pause + FADE + output.blocksize])
    quiet = heard[after_pause + FADE + output.blocksize:8 * SR]
    assert np.all(quiet == 0.0) and len(quiet) > 2 * SR
    # a fade, not a cut: the level falls over 0.3 s, sample steps stay small
    assert fade_out[:2000].max() > 10 * fade_out[-FADE // 4:].max()
    assert np.abs(np.diff(heard)).max() < 0.2
    # resuming goes on from where it paused: the rest of the session is all there
    ref = reference()
    assert len(heard) - (len(quiet) + FADE) == pytest.approx(len(ref), abs=3 * output.blocksize)
    assert np.array_equal(heard[-SR:], ref[-SR:])


def test_a_player_started_paused_is_silent_until_resumed_then_fades_in_from_the_very_start():
    output = RecordingOutput()
    player, run = play(output)
    player.start_paused()                     # the station: a pause pressed while the session was starting
    assert player.paused
    output.at(2 * SR, player.resume)
    run()
    heard, ref = output.recording(), reference()
    resumed = np.flatnonzero(heard)[0] // output.blocksize * output.blocksize
    assert resumed >= 2 * SR and not heard[:resumed].any(), "nothing at all before the resume"
    # then the whole session from its first sample, faded in: nothing skipped, no click
    assert np.array_equal(heard[resumed + FADE:resumed + len(ref)], ref[FADE:])
    assert np.abs(np.diff(heard)).max() < 0.2


def _resumes_at(heard, after, ref_start, ref, blocksize=4096):
    """True if the first seek after *after* frames continues as *ref* from *ref_start*.

    A seek fades out, writes zeros to the end of that block, then starts the
    next block at the new place with a fade-in: compare after the fade-in.
    """
    silent = np.flatnonzero(heard[after:] == 0.0) + after
    resumed = (silent[0] // blocksize + 1) * blocksize
    got = heard[resumed + FADE:resumed + FADE + SR]
    return len(got) > 0 and np.array_equal(got, ref[ref_start + FADE:ref_start + FADE + len(got)])


def test_next_skips_to_the_next_step_and_back_returns_to_the_step_before():
    with session() as s:
        events = s.timeline().events
    step_two = next(e.start for e in events if e.section == "Two" and e.kind == "say")
    ref = reference()

    output = RecordingOutput()
    player, run = play(output)
    output.at(1 * SR, player.next)
    run()
    heard = output.recording()
    assert _resumes_at(heard, SR, step_two, ref)
    assert len(heard) < len(ref) - 2 * SR     # the rest of step one was skipped

    output = RecordingOutput()
    player, run = play(output)
    output.at(1 * SR, player.next)
    output.at(2 * SR, player.back)            # just after step two began: back to step one
    run()
    heard = output.recording()
    assert _resumes_at(heard, 2 * SR, 0, ref)


STEPS = "title: Steps\nambient:\n  - noise: pink\n    level: -20 dB\nsteps:\n" + "".join(
    f"  - say: step {word}\n    pause: 3s\n" for word in ("one", "two", "three", "four", "five", "six", "seven"))


def _step_starts(text):
    with session(text) as s:
        events = s.timeline().events
    return {e.step: e.start for e in reversed(events)}  # the first event of each step


def test_each_quick_press_of_next_counts_as_in_mpv():
    """Five presses before the first seek is done move five steps, not one (issue 13)."""
    starts, ref = _step_starts(STEPS), reference(STEPS)
    output = RecordingOutput()
    player, run = play(output, session(STEPS))
    output.at(1 * SR, lambda: [player.next() for _ in range(5)])
    run()
    assert _resumes_at(output.recording(), SR, starts[6], ref)
    # and back counts the same way: two quick presses from step three go to step one
    output = RecordingOutput()
    player, run = play(output, session(STEPS))
    output.at(1 * SR, lambda: [player.next() for _ in range(2)])
    output.at(1 * SR + 3 * FADE, lambda: [player.back() for _ in range(2)])
    run()
    assert _resumes_at(output.recording(), 1 * SR + 3 * FADE, starts[1], ref)


def test_next_just_after_a_skip_counts_while_the_device_still_plays_its_buffer():
    """The device's buffer still holds the old step after a seek: the next press goes on from the new one."""
    starts, ref = _step_starts(STEPS), reference(STEPS)
    output = RecordingOutput(latency=2.0)
    player, run = play(output, session(STEPS))
    # 1.5 s after the first seek: past the second after it that _resumes_at compares, within 2 s
    second = 1 * SR + FADE + 2 * output.blocksize + int(1.5 * SR)
    output.at(1 * SR, player.next)
    output.at(second, player.next)
    run()
    heard = output.recording()
    assert _resumes_at(heard, SR, starts[2], ref)
    assert _resumes_at(heard, second, starts[3], ref)


class Shown:
    """A status that keeps what it was told, for the player's words."""

    def __init__(self):
        self.messages, self.flashes = [], []

    def start(self, *a): ...
    def event(self, *a): ...
    def tick(self, *a): ...
    def close(self): ...

    def message(self, text):
        self.messages.append(text)

    def flash(self, text):
        self.flashes.append(text)


def test_key_feedback_is_flashed_and_the_volume_says_when_it_reaches_its_limit():
    output = RecordingOutput()
    shown = Shown()
    player, run = play(output, status=shown)
    output.at(1 * SR, lambda: [player.change_volume(+2.0) for _ in range(8)])
    output.at(2 * SR, lambda: [player.change_volume(-2.0) for _ in range(25)])
    output.at(3 * SR, player.pause)
    output.at(3 * SR + 1, player.resume)
    run()
    assert shown.messages == []  # nothing piles up above the status line
    assert shown.flashes.count("volume +12 dB (the loudest it goes)") == 3  # reached, then two presses more
    assert "volume -30 dB (the quietest it goes)" in shown.flashes
    assert "volume +10 dB" in shown.flashes and "paused; press space to go on" in shown.flashes
    assert shown.flashes[-1] == "resumed"


def test_a_lost_device_is_reopened_and_nothing_is_skipped_or_repeated(monkeypatch):
    monkeypatch.setattr(player_module, "REOPEN_WAIT", 0.01)
    output = RecordingOutput()
    output.lose_at(4 * SR)
    notes = []
    player, run = play(output)
    player.status.message = notes.append
    result = run()
    assert result.reopened == 1 and output.reopened == 1
    assert np.array_equal(output.recording(), reference())
    assert any("reopening the device (1/3)" in n for n in notes)
    assert "the device is back; going on from where we were" in notes


def test_a_device_that_never_comes_back_is_a_clear_device_error(monkeypatch):
    monkeypatch.setattr(player_module, "REOPEN_WAIT", 0.01)
    output = RecordingOutput()
    output.lose_at(2 * SR, comes_back=False)
    player, run = play(output)
    with pytest.raises(DeviceError, match="could not be reopened after 3 tries"):
        run()
    assert output.closed


def test_stop_fades_out_and_ends():
    output = RecordingOutput()
    player, run = play(output)
    output.at(6 * SR, lambda: player.stop(signal.SIGTERM))
    result = run()
    heard = output.recording()
    assert result.stopped_by == signal.SIGTERM and not result.abandoned
    assert len(heard) < 6 * SR + FADE + 2 * output.blocksize
    tail = np.abs(heard[-FADE:])
    assert tail[-100:].max() < 0.02 * np.abs(heard[-FADE - SR:-FADE]).max()


def _stop_soon(player, after=0.3):
    timer = threading.Timer(after, lambda: player.stop(signal.SIGTERM))
    timer.start()
    return timer


def test_a_stop_ends_run_within_its_grace_when_the_output_hangs():
    """A hung sound server: write never returns. The stop still ends the session, without a fade."""
    output = RecordingOutput(latency=0.2)
    output.hang_at(2 * SR)
    sess = session()
    player = Player(sess, output)
    _stop_soon(player)
    started = time.monotonic()
    try:
        result = player.run()
        took = time.monotonic() - started
    finally:
        output.release()
    assert result.abandoned and output.abandoned
    assert took < 0.3 + player_module.STALL + 0.4   # nothing flows: no fade to wait for
    assert leftovers.stuck()


def test_a_stop_ends_run_when_a_clip_never_comes():
    """A hung speech worker: the mixer thread waits for a clip; the stop does not."""
    synth = HangingSynth("four five six")
    sess = session(synth=synth)
    output = RecordingOutput()
    player = Player(sess, output)
    _stop_soon(player)
    started = time.monotonic()
    try:
        result = player.run()
        took = time.monotonic() - started
    finally:
        synth.close()
    assert result.stopped_by == signal.SIGTERM and result.abandoned
    assert took < 0.3 + player_module.STALL + 0.4   # nothing flows: no fade to wait for
