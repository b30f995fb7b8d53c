"""A cold start says why nothing sounds yet: "preparing speech (n of m)" (issue 19).

The player looks at how many of the session's clips are made while no
sample has reached the device, tells its status, and tells it again
(None) once sound flows; the terminal shows it in the status line.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.player.test_status import Clock, Screen  # noqa: F401  (the emulated terminal)
from tests.support.fakes import FakeSynth, RecordingOutput
from voiceguide.player.player import Player
from voiceguide.player.session import Options, Session
from voiceguide.player.status_line import KEYS_FOOTER, LogStatus, Status, TerminalStatus
from voiceguide.script.loader import load_text

SCRIPT = """\
title: Cold
steps:
  - say: one two three
  - say: four five
  - say: one two three
  - say: six
"""


class SlowSynth(FakeSynth):
    """Clips that are made only once the test lets them be (a cold engine), one by one."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.made = set()

    def ready(self, text, voice) -> bool:
        return text in self.made

    def cached(self, text, voice) -> bool:
        return text in self.made

    def length(self, text, voice) -> int:
        self.release.wait(10)
        self.made.add(text)
        return super().length(text, voice)


class Watched(Status):
    def __init__(self):
        self.seen = []

    def preparing(self, progress):
        self.seen.append(progress)


def test_the_player_says_how_much_speech_is_made_until_the_first_sound():
    synth = SlowSynth()
    synth.made.add("six")  # one of the three distinct clips is in the cache already
    session = Session(load_text(SCRIPT, "cold.yaml", Path(".")), Options(ambient=False), synthesizer=synth)
    status = Watched()
    player = Player(session, RecordingOutput(), status=status)
    threading.Timer(0.6, synth.release.set).start()
    player.run()
    assert status.seen[0] == (1, 3)               # three distinct clips ("one two three" twice)
    assert status.seen[-1] is None                # over once it sounded
    assert all(p is None or p[0] < p[1] for p in status.seen)


def test_nothing_is_said_when_the_speech_is_ready():
    synth = SlowSynth()
    synth.release.set()
    synth.made.update({"one two three", "four five", "six"})
    session = Session(load_text(SCRIPT, "cold.yaml", Path(".")), Options(ambient=False), synthesizer=synth)
    status = Watched()
    Player(session, RecordingOutput(), status=status).run()
    assert status.seen == []


def test_the_terminal_shows_it_in_the_status_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    screen = Screen()
    status = TerminalStatus(screen.out, clock=Clock())
    status.start("Body scan", None)
    status.preparing((3, 40))
    status.tick(0.0, None, False, 0.0)
    assert screen.rows()[-2:] == ["0:00 / ?  preparing speech (3 of 40)", KEYS_FOOTER]
    status.preparing(None)
    status.tick(0.5, 597.0, False, 0.0)
    assert screen.rows()[-2] == "0:00 / 9:57"


def test_a_log_says_it_once(capsys):
    import io

    out = io.StringIO()
    status = LogStatus(out)
    for n in range(3):
        status.preparing((n, 40))
    status.preparing(None)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("preparing speech (0 of 40)")
