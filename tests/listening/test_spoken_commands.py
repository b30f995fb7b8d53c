"""Spoken commands: the decision rules on recorded features, the voice control's actions, listen --file.

The features below were recorded from real decodes of the kept recordings
(tests/data/voice/, made by benchmarks/voice_data.py with espeak-ng) and of
built-in sessions with nobody speaking (benchmarks/voice_commands.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voiceguide.listening.commands import Candidate, Debounce, Rules, decide

DATA = Path(__file__).resolve().parents[1] / "data" / "voice"

# -- features recorded from real decodes ---------------------------------------------------------
#: "guide, pause" (kept clip): all three windows agree, a clear score.
SAID_PAUSE = Candidate("pause", 0.52, 1.79, 2.9, {"guide": -30, "acoustic": -14746, "agree": 3, "snr": 94})
#: "guide, stop" (kept clip) decoded as pause by one window only: never acted on.
STOP_HEARD_AS_PAUSE = Candidate("pause", 0.5, 1.6, 2.7, {"guide": -72, "acoustic": -23597, "agree": 1, "snr": 94})
#: the built-in body scan alone (nobody speaking): the guide's own "...gently stop..." decoded as stop.
GUIDE_SAID_STOP = Candidate("stop", 108.6, 109.4, 110.5, {"guide": -111, "acoustic": -14650, "agree": 3,
                                                           "snr": 12.4})
#: the session alone: the loudest false pause of eight minutes.
GUIDE_SAID_PAUSE = Candidate("pause", 315.8, 316.5, 317.6, {"guide": -82, "acoustic": -10818, "agree": 2,
                                                            "snr": 14.3})


def test_a_clear_phrase_is_acted_on():
    assert decide(SAID_PAUSE)


def test_windows_that_disagree_are_not_acted_on():
    assert not decide(STOP_HEARD_AS_PAUSE)
    assert not decide(GUIDE_SAID_PAUSE)  # loud, but only two of three windows said pause


def test_stop_has_the_strictest_floor():
    rules = Rules()
    assert rules.floor("stop") == max(rules.floors.values())
    assert not decide(GUIDE_SAID_STOP)  # it would have passed pause's floor
    assert decide(Candidate("pause", *list(vars(GUIDE_SAID_STOP).values())[1:]))


def test_over_the_guides_voice_a_phrase_must_be_clearer():
    assert decide(SAID_PAUSE, echo=None)
    assert decide(SAID_PAUSE, echo=-60.0)     # the guide is silent: the ordinary floor
    assert not decide(SAID_PAUSE, echo=-20.0)  # the guide is speaking: the floor rises


def test_the_voice_activity_gate():
    quiet = Candidate("pause", 0.5, 1.8, 2.9, dict(SAID_PAUSE.features, snr=3.0))
    assert not decide(quiet)


def test_an_unknown_command_is_never_acted_on():
    assert not decide(Candidate("shutdown", 0, 1, 2, dict(SAID_PAUSE.features)))


def test_one_phrase_found_twice_acts_once():
    debounce = Debounce()
    assert debounce(SAID_PAUSE)
    assert not debounce(Candidate("pause", 1.9, 2.4, 3.0, {}))
    assert debounce(Candidate("resume", 6.0, 7.0, 8.0, {}))


def test_candidates_survive_the_pipe():
    assert Candidate.from_json(json.loads(json.dumps(SAID_PAUSE.as_json()))) == SAID_PAUSE


# -- the voice control: actions, the tick, the gentle stop -----------------------------------------

class FakePlayer:
    sample_rate = 48000

    def __init__(self):
        self.done = []
        self.paused = False

    def pause(self):
        self.paused = True
        self.done.append("pause")

    def resume(self):
        self.paused = False
        self.done.append("resume")

    def quit(self):
        self.done.append("stop")

    def next(self):
        self.done.append("next")

    def back(self):
        self.done.append("back")

    def change_volume(self, db):
        self.done.append(f"volume {db:+g}")


class FakeOutput:
    def __init__(self, level=None):
        self.added = []
        self.level = level

    def add(self, samples):
        self.added.append(len(samples))

    def level_at(self, start, end):
        return self.level


class NoListener:
    def close(self):
        pass


def control(monkeypatch, level=None, grace=0.2):
    from voiceguide.player import voice

    monkeypatch.setattr(voice, "STOP_GRACE", grace)
    player, output = FakePlayer(), FakeOutput(level)
    return player, output, voice.VoiceControl(player, output, listener=NoListener())


def test_each_command_does_what_its_key_does_with_a_tick(monkeypatch):
    player, output, vc = control(monkeypatch)
    for command in ("pause", "resume", "next", "back", "louder", "softer"):
        vc.act(command)
    assert player.done == ["pause", "resume", "next", "back", "volume +2", "volume -2"]
    assert len(output.added) == 6


def test_a_spoken_stop_pauses_then_ends_unless_resumed(monkeypatch):
    import time

    player, output, vc = control(monkeypatch, grace=0.2)
    vc.act("stop")
    assert player.done == ["pause"]
    vc.act("resume")                       # "guide, resume" undoes it
    time.sleep(0.4)
    assert player.done == ["pause", "resume"]
    vc.act("stop")
    time.sleep(0.4)
    assert player.done[-2:] == ["pause", "stop"]
    vc.close()


def test_stop_said_twice_ends_at_once(monkeypatch):
    player, output, vc = control(monkeypatch, grace=30)
    vc.act("stop")
    vc.act("stop")
    assert player.done == ["pause", "stop"]
    vc.close()


def test_heard_uses_the_players_own_level(monkeypatch):
    player, output, vc = control(monkeypatch, level=-20.0)   # the guide is speaking
    vc.heard(SAID_PAUSE, 10.0)
    assert player.done == []
    output.level = -70.0
    vc.heard(Candidate("pause", 20.5, 21.8, 22.9, dict(SAID_PAUSE.features)), 20.0)
    assert player.done == ["pause"]


def test_the_overlay_adds_a_tick_without_touching_the_players_block():
    from voiceguide.player.live_session import Overlay

    class Out:
        latency = 0.1
        sample_rate = 48000

        def __init__(self):
            self.written = []

        def write(self, block):
            self.written.append(block.copy())

    out = Out()
    overlay = Overlay(out)
    silence = np.zeros(4096, dtype=np.float32)
    overlay.add(np.ones(5000, dtype=np.float32))
    overlay.write(silence)
    overlay.write(silence)
    overlay.write(silence)
    assert not silence.any()
    assert out.written[0].sum() == 4096 and out.written[1].sum() == 5000 - 4096 and not out.written[2].any()
    assert overlay.latency == 0.1


# -- the recogniser itself, and what is imported when it is off ----------------------------------------

def test_nothing_of_the_recogniser_is_imported_without_voice_commands():
    code = ("import sys\n"
            "from voiceguide.player import live_session, foreground\n"
            "import voiceguide.station.runner, voiceguide.station.controller, voiceguide.cli\n"
            "bad = [m for m in sys.modules if m.startswith(('pocketsphinx', 'voiceguide.listening'))]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def listen_file(path: Path) -> list:
    out = subprocess.run([sys.executable, "-m", "voiceguide", "listen", "--file", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.slow
def test_listen_file_finds_a_kept_recording():
    pytest.importorskip("pocketsphinx")
    heard = listen_file(DATA / "guide-pause.flac")
    assert [h["command"] for h in heard] == ["pause"]
    assert 1.0 < heard[0]["time"] < 2.5


@pytest.mark.slow
def test_listen_file_never_acts_on_a_misheard_stop():
    """ "guide, stop" in this voice decodes as pause in one window of three: nothing is acted on."""
    pytest.importorskip("pocketsphinx")
    assert listen_file(DATA / "guide-stop.flac") == []
