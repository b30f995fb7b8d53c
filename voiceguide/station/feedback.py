"""Hands-free feedback through the speaker: a soft chime, and notices in words.

A station has no screen. A press that starts or stops something is
acknowledged with a short, soft chime; when a session cannot start, the
station says so in words ("That exercise could not be started; the log
says why"), so a person is never left in silence wondering.

Both are played by the controller's runner thread, between sessions, so
they never compete with a session for the device.

Traps:

* The chime is the ``chime`` bell cut to about a second with a
  raised-cosine tail and played 14 dB down: an acknowledgement, not an alarm.
* A notice goes through the ordinary session machinery (a two-step script:
  a chime, then the words), so it sounds like the rest of voiceguide. When
  the speech engine itself is missing, the words cannot be said: two chimes
  are played instead, and the log says why.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

log = logging.getLogger("voiceguide.station")

CHIME_SECONDS = 1.1
CHIME_DB = -14.0
SAMPLE_RATE = 48_000


def chime_samples(sample_rate: int = SAMPLE_RATE, repeat: int = 1):
    """The acknowledging chime: float32 mono, starting and ending at exactly zero."""
    import numpy as np

    from voiceguide.audio.dsp import db_to_gain, fall
    from voiceguide.audio.generators import bell

    n = int(CHIME_SECONDS * sample_rate)
    ring = bell("chime", sample_rate)[:n].astype(np.float32)
    fade = int(0.35 * sample_rate)
    ring[n - fade:] *= fall(fade).astype(np.float32)  # ends at exactly 0.0
    ring *= np.float32(db_to_gain(CHIME_DB))
    if repeat > 1:
        gap = np.zeros(int(0.25 * sample_rate), dtype=np.float32)
        ring = np.concatenate([part for _ in range(repeat) for part in (ring, gap)][:-1])
    return ring


class Feedback:
    """Plays chimes and notices on the station's device."""

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self.sample_rate = sample_rate

    def chime(self, device: Any = None, latency: Optional[float] = None, repeat: int = 1) -> Optional[float]:
        """Play the chime; return, once it has been heard, the wall-clock time it was first heard."""
        from voiceguide.sinks.live import LiveOutput

        samples = chime_samples(self.sample_rate, repeat)
        output = LiveOutput(self.sample_rate, device=device, latency=latency)
        try:
            output.start()
            step = output.blocksize
            for at in range(0, len(samples), step):
                output.write(samples[at:at + step].copy())
        finally:
            output.close()
        return output.first_audible

    def notice(self, text: str, playback: Any) -> None:
        """Say *text* (after a chime); two chimes when there is no speech engine."""
        from voiceguide.errors import EngineError
        from voiceguide.script.loader import load_text
        from voiceguide.script.model import Voice
        from voiceguide.player.player import Player
        from voiceguide.player.session import Options, Session
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
                Player(session, output, status=_Quiet()).run()
        except EngineError as exc:
            log.warning("cannot say it (%s); chiming instead", exc)
            self.chime(playback.device, playback.latency, repeat=2)


def _notice_yaml(text: str) -> str:
    import json

    # JSON strings are YAML scalars: the text cannot break the script.
    return (f"title: Station notice\nsteps:\n  - bell: chime\n  - pause: 1s\n"
            f"  - say: {json.dumps(text)}\n    pause: 1s\n")


class _Quiet:
    """A status that logs nothing: the notice is logged once, above."""

    def start(self, *a) -> None: ...

    def event(self, *a) -> None: ...

    def tick(self, *a) -> None: ...

    def message(self, *a) -> None: ...

    def close(self) -> None: ...
