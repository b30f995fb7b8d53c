"""A microphone that is missing or goes away: one line, and the session goes on without voice commands.

The listener process is replaced by a small real process that says what the
real one says when its microphone fails (``{"error": ...}``) or dies without
a word, so the parent's side (:class:`voiceguide.listening.listener.Listener`,
:class:`voiceguide.player.voice.VoiceControl`) is tested without pocketsphinx
or a sound device. tests/station/test_voice_station.py does the same with a
real station and a microphone that is not there.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import List

import pytest

NO_MIC = "no microphone named like 'USB' (`voiceguide devices` lists them)"


def fake_listener(monkeypatch, code: str) -> None:
    from voiceguide.listening import listener

    monkeypatch.setattr(listener, "worker_argv", lambda *args, **kwargs: [sys.executable, "-c", code])


def wait_for(lines: List[str], count: int = 1, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("code, line", [
    # the microphone is missing: the process says so and ends
    (f"import json; print(json.dumps({{'error': {NO_MIC!r}}}), flush=True)", NO_MIC),
    # it goes away after a while: a level line, then the error
    ("import json, time; print(json.dumps({'ready': 'USB mic'}), flush=True); "
     "print(json.dumps({'level': -50.0, 'floor': -60.0}), flush=True); time.sleep(0.2); "
     "print(json.dumps({'error': \"the microphone 'USB mic' stopped (device unavailable)\"}), flush=True)",
     "the microphone 'USB mic' stopped (device unavailable)"),
    # the process dies without a word
    ("import os; os._exit(3)", "the listener stopped"),
])
def test_a_lost_microphone_is_one_line(monkeypatch, code, line):
    from voiceguide.listening.listener import Listener

    fake_listener(monkeypatch, code)
    gone: List[str] = []
    listener = Listener("USB", on_gone=gone.append)
    try:
        wait_for(gone)
        time.sleep(0.3)  # nothing more comes
    finally:
        listener.close()
    assert gone == [f"{line}; going on without voice commands"]


def test_closing_the_listener_says_nothing(monkeypatch):
    from voiceguide.listening.listener import Listener

    fake_listener(monkeypatch, "import time; time.sleep(30)")
    gone: List[str] = []
    listener = Listener(None, on_gone=gone.append)
    time.sleep(0.2)
    listener.close()
    assert gone == []


def test_the_session_goes_on_without_voice_commands(monkeypatch):
    """VoiceControl says the one line through the player's note; nothing is acted on."""
    from voiceguide.listening.commands import COMMANDS
    from voiceguide.player.voice import VoiceControl

    fake_listener(monkeypatch, f"import json; print(json.dumps({{'error': {NO_MIC!r}}}), flush=True)")

    class Player:
        sample_rate = 48000
        paused = False

    done: List[str] = []
    actions = {command: (lambda command=command: done.append(command)) for command in COMMANDS}
    notes: List[str] = []
    said = threading.Event()

    def note(line: str) -> None:
        notes.append(line)
        said.set()

    control = VoiceControl(Player(), object(), mic="USB", actions=actions, note=note)
    try:
        assert said.wait(10)
        time.sleep(0.3)
    finally:
        control.close()
    assert notes == [f"{NO_MIC}; going on without voice commands"]
    assert done == []


@pytest.mark.audio
@pytest.mark.slow
def test_play_with_a_missing_microphone_says_one_line_and_plays_to_the_end(pulse, tmp_path):
    """``voiceguide play --voice-commands --mic NAME`` with no such microphone, on a real-time sink."""
    pytest.importorskip("pocketsphinx")
    from tests.support.audio_env import voiceguide

    script = tmp_path / "short.yaml"
    script.write_text("title: Short\nsteps:\n  - say: Breathe in.\n    pause: 3s\n  - say: And out.\n")
    done = voiceguide("play", str(script), "--voice-commands", "--mic", "no-such-microphone", env=pulse.env)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "voice commands" in line]
    assert len(lines) == 1 and "no-such-microphone" in lines[0], done.stderr
    assert lines[0].endswith("no microphone named like 'no-such-microphone' (`voiceguide devices` lists them); "
                             "going on without voice commands"), lines
    assert "And out." in done.stderr and "done (" in done.stderr, done.stderr
