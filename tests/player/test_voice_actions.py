"""Spoken commands acted on through a real listener pipe: an action refused does not end the listening.

The listener's reader thread calls the actions (:class:`voiceguide.player.voice.VoiceControl`);
the station's refuse with :class:`~voiceguide.station.shared.IdleError` once the session is
ending ("guide, pause" said during the fade after a stop). That phrase is let go: the thread
goes on, and the next phrase is acted on.
"""

from __future__ import annotations

import json
import sys
import time
from typing import List

from voiceguide.listening.commands import Candidate


def heard_line(command: str, start: float) -> str:
    candidate = Candidate(command, start, start + 1.0, start + 2.0, {"acoustic": -1.0})
    return json.dumps({"heard": candidate.as_json(), "end_at": time.monotonic()})


def test_an_action_refused_is_let_go_and_the_next_phrase_is_acted_on(monkeypatch):
    from voiceguide.listening import listener
    from voiceguide.player import voice
    from voiceguide.station.shared import IdleError

    lines = [heard_line("pause", 1.0), heard_line("resume", 5.0)]
    code = "import sys, time\n" + "".join(f"print({line!r}, flush=True); time.sleep(0.2)\n" for line in lines) \
        + "time.sleep(30)\n"
    monkeypatch.setattr(listener, "worker_argv", lambda *args, **kwargs: [sys.executable, "-c", code])
    monkeypatch.setattr(voice, "decide", lambda *args, **kwargs: True)   # the rules are not what is tested here

    done: List[str] = []

    def refused() -> None:
        done.append("pause refused")
        raise IdleError("nothing is playing; start an exercise first (POST /api/play)")

    class Player:
        sample_rate = 48000
        paused = False

    actions = {"pause": refused, "resume": lambda: done.append("resume")}
    control = voice.VoiceControl(Player(), object(), actions=actions)
    try:
        deadline = time.monotonic() + 10
        while len(done) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        control.close()
    assert done == ["pause refused", "resume"]


def test_a_spoken_stop_refused_starts_no_countdown(monkeypatch):
    from voiceguide.player import voice
    from voiceguide.station.shared import IdleError

    class NoListener:
        def close(self):
            pass

    def refused() -> None:
        raise IdleError("nothing is playing")

    class Player:
        sample_rate = 48000
        paused = True

    notes: List[str] = []
    stops: List[str] = []
    control = voice.VoiceControl(Player(), object(), actions={"pause": refused, "stop": lambda: stops.append("stop")},
                                 note=notes.append, listener=NoListener())
    control.act("stop")
    assert notes == [] and control._stop_timer is None
    control.close()
