"""Hands-free feedback through the speaker: a soft chime, and notices in words.

A station has no screen. A press that starts or stops something is
acknowledged with a short, soft chime; when a session cannot start, the
station says so in words ("That exercise could not be started; the log
says why"), so a person is never left in silence wondering.

Both are played by the controller's runner thread, between sessions, so
they never compete with a session for the device.

Traps:

* The chime is :mod:`voiceguide.player.chime`'s, the one that also ends a
  start delay: an acknowledgement, not an alarm.
* A notice goes through the ordinary session machinery (a two-step script:
  a chime, then the words), so it sounds like the rest of voiceguide. When
  the speech engine itself is missing, the words cannot be said: two chimes
  are played instead, and the log says why.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from voiceguide.player.chime import SAMPLE_RATE

log = logging.getLogger("voiceguide.station")


class Feedback:
    """Plays chimes and notices on the station's device."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self.sample_rate = sample_rate

    def chime(self, device: Any = None, latency: Optional[float] = None, repeat: int = 1) -> Optional[float]:
        """Play the chime; return, once it has been heard, the wall-clock time it was first heard."""
        from voiceguide.player.chime import play_chime

        return play_chime(device, latency, repeat, self.sample_rate)

    def notice(self, text: str, playback: Any) -> None:
        """Say *text* (after a chime); two chimes when there is no speech engine."""
        from voiceguide.errors import EngineError
        from voiceguide.script.loader import load_text
        from voiceguide.script.model import Voice
        from voiceguide.player.player import Player
        from voiceguide.player.session import Options, Session
        from voiceguide.player.status_line import Status
        from voiceguide.sinks.live import LiveOutput

        script = load_text(_notice_yaml(text), "<station notice>")
        options = Options(ambient=False, voice=Voice(rate=playback.rate, volume=playback.volume,
                                                     name=playback.voice))
        log.info("saying: %s", text)
        try:
            with Session(script, options) as session:
                session.timeline()  # synthesise first: a missing engine is known before a sound
                output = LiveOutput(session.options.sample_rate, device=playback.device,
                                    latency=playback.latency)
                Player(session, output, status=Status()).run()   # shows nothing: the notice is logged above
        except EngineError as exc:
            log.warning("cannot say it (%s); chiming instead", exc)
            self.chime(playback.device, playback.latency, repeat=2)


def _notice_yaml(text: str) -> str:
    import json

    # JSON strings are YAML scalars: the text cannot break the script.
    return (f"title: Station notice\nsteps:\n  - bell: chime\n  - pause: 1s\n"
            f"  - say: {json.dumps(text)}\n    pause: 1s\n")

