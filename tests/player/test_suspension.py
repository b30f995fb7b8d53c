"""Ctrl-Z and ``fg`` are not a gap in the sound (issue 19), in the parts that make it so.

After ``fg`` the terminal showed ``ALSA lib pcm.c:8570:(snd_pcm_recover)
underrun occurred`` over the status line and the session ended with "1
underruns ... try --latency 0.3". Here: the live output does not count the
underrun a suspension causes (whichever thread hears of it first); SIGCONT
tells the output, the keys and the status; alsa-lib's messages reach the
player instead of file descriptor 2. The whole path, on a real terminal and
a real sound server, is in tests/player/test_terminal_signals.py.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import List

import pytest

from voiceguide.player.signals import SessionSignals
from voiceguide.sinks import live
from voiceguide.sinks.live import LiveOutput


class FakeStream:
    """What LiveOutput needs of a sounddevice stream; ``write`` says whether it underflowed."""

    latency = 0.1

    def __init__(self):
        self.underflow_next: List[bool] = []

    def write(self, frame) -> bool:
        return self.underflow_next.pop(0) if self.underflow_next else False


@pytest.fixture()
def output(monkeypatch):
    pytest.importorskip("sounddevice")
    stream = FakeStream()

    def fake_open(self):
        self.device, self.channels = None, 1
        return stream

    monkeypatch.setattr(LiveOutput, "_open", fake_open)
    out = LiveOutput(48000, blocksize=64)
    out.stream = stream
    return out


def write(output, underflow: bool) -> None:
    import numpy as np

    output.stream.underflow_next.append(underflow)
    output.write(np.zeros(64, dtype=np.float32))


def test_an_underrun_is_counted(output):
    write(output, True)
    write(output, False)
    assert (output.underruns, output.excused) == (1, 0)


def test_the_underrun_after_ctrl_z_is_the_suspensions_not_a_gap(output):
    output.suspending()          # Ctrl-Z, before the process stops
    write(output, True)          # the mixer thread, when the process goes on
    output.continued()           # the SIGCONT handler, a moment later
    write(output, True)          # ... or the device still catching up just after
    assert (output.underruns, output.excused) == (0, 2)


def test_after_a_sigstop_the_underrun_counted_first_is_taken_back(output):
    write(output, True)          # no warning came: the mixer thread counted it
    output.continued()           # SIGCONT
    assert (output.underruns, output.excused) == (0, 1)


def test_a_gap_long_after_the_suspension_counts_again(output, monkeypatch):
    output.suspending()
    output.continued()
    now = live.time.monotonic()
    monkeypatch.setattr(live.time, "monotonic", lambda: now + live.SUSPENSION_GRACE + 0.1)
    write(output, True)
    assert (output.underruns, output.excused) == (1, 0)


def test_an_old_gap_is_not_taken_back_by_a_later_suspension(output, monkeypatch):
    write(output, True)
    now = live.time.monotonic()
    monkeypatch.setattr(live.time, "monotonic", lambda: now + live.SUSPENSION_GRACE + 0.1)
    output.continued()
    assert (output.underruns, output.excused) == (1, 0)


class Recorder:
    """A stand-in for the player's output, keys and status: it notes what it is told."""

    def __init__(self, said: List[str], name: str):
        self.said, self.name = said, name

    def __getattr__(self, what):
        return lambda *args: self.said.append(f"{self.name}.{what}")


def test_sigcont_tells_the_output_the_keys_and_the_status(monkeypatch):
    said: List[str] = []

    class Player:
        paused, stopping = False, False
        output = Recorder(said, "output")

        def resume(self):
            said.append("player.resume")

    with SessionSignals(headless=False) as signals:
        signals.player = Player()
        signals.keys = Recorder(said, "keys")
        signals.status = Recorder(said, "status")
        os.kill(os.getpid(), signal.SIGCONT)  # as after a SIGSTOP; the handler runs at the next bytecode
        for _ in range(100):
            if said:
                break
    assert said == ["output.continued", "keys.resume", "status.resume"]  # nothing was paused by Ctrl-Z
    assert signals.suspensions == 1


def test_alsa_lib_messages_go_to_the_player_and_xrun_notices_nowhere(capfd):
    alsalib = pytest.importorskip("voiceguide.sinks.alsalib")
    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:
        pytest.skip("no ALSA here")
    lines: List[str] = []
    pcm = ctypes.c_void_p()
    with alsalib.routed(lines.append) as on:
        assert on
        assert lib.snd_pcm_open(ctypes.byref(pcm), b"no-such-pcm", 0, 0) < 0
        # what PortAudio's recovery after Ctrl-Z makes alsa-lib say, through alsa-lib's own handler
        current = alsalib._HANDLER.in_dll(lib, "snd_lib_error")
        current(b"pcm.c", 8570, b"snd_pcm_recover", -32, b"underrun occurred")
    assert lines == ["ALSA: snd_pcm_open_noupdate: Unknown PCM …"]
    assert "ALSA lib" not in capfd.readouterr().err
    lib.snd_pcm_open(ctypes.byref(pcm), b"no-such-pcm", 0, 0)  # afterwards: alsa-lib's own handler again
    assert "Unknown PCM no-such-pcm" in capfd.readouterr().err


def test_alsa_messages_are_one_line_without_printf_conversions():
    from voiceguide.sinks.alsalib import describe

    assert describe("snd_pcm_hw_params", -22, "Cannot set %s to %lu") == (
        "ALSA: snd_pcm_hw_params: Cannot set … to … (Invalid argument)")
    assert describe("", 0, "100%% sure,\n%d left\n") == "ALSA: 100% sure, … left"
