"""The spoken commands and the rules that decide whether one was said: pure data, no recogniser.

A :class:`Candidate` is what the recogniser found (:mod:`.recognizer`): the
command its grammar decoded after the word *guide*, when, and the features
it measured. :func:`decide` is the rule that acts on one or not, tested on
features recorded from real decodes (``tests/listening/``).

The features (scores per 10 ms frame, so that a long word is not favoured):

* ``guide`` -- stage one's keyword score for *guide* (log-likelihood over
  pocketsphinx's phone-loop garbage model);
* ``acoustic`` -- stage two: the acoustic score per frame of the grammar's
  best *guide <command>* (pocketsphinx's log units, base 1.0001); ``word``
  the same for the command word alone;
* ``llr`` -- the phrase's grammar score minus a free phone loop's over the
  same samples, per frame (recorded; it did not separate right from wrong
  here, so no rule uses it yet);
* ``snr`` -- the phrase's level over the room's noise floor, in dB (the
  voice-activity gate). With the echo canceller on, the guide's own voice
  is 20-30 dB down, so what it still sets off is quiet: over 8 minutes of
  sessions every false candidate was 15 dB or less over the floor and
  every command said at the guide's level or louder 27 dB or more;
* ``echo`` -- how loud the guide's own voice was in the player's output
  while the phrase was said (dBFS of the session's blocks; ``None`` when
  nothing is playing or not known, as for ``voiceguide listen``).

Safety: a false *stop* is worse than a missed one, so *stop* has the highest
floor, and the player treats it gently (see :mod:`voiceguide.player.voice`):
it pauses at once and ends only when "guide, resume" has not come in 8 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional

#: The word that begins every command.
WAKE = "guide"
#: The commands, as DESIGN.md pins them (each the key or API call of the same name).
COMMANDS = ("pause", "resume", "stop", "next", "back", "louder", "softer")
#: louder / softer: decibels a command changes the volume by.
VOLUME_STEP_DB = 2.0

#: Stage two's floor per command (``acoustic``, per frame), fitted on ``benchmarks/voice_commands.py``'s
#: recordings (benchmarks/README.md): loose for most -- the level gate and the phrase's length below do
#: the work -- and stricter for stop. Stop's was -30000, which threw away half the spoken stops (decoded
#: as stop, scored -31000 to -52000: espeak-ng's formant voices); -60000 is what a fit on half the takes
#: chose, either half (the other half: 8/11 and 9/10 stops, no wrong or false stop more). Every stop
#: decoded where none was said scored below -66000, or above -23000 (a "softer" heard as stop; the
#: guide's voice 8 dB over the floor, which the level gate refuses), where no floor can tell it from a
#: right one. Over the guide's voice the floor rises (ECHO_MARGIN).
FLOORS: Mapping[str, float] = {
    "pause": -70000.0, "resume": -70000.0, "stop": -60000.0, "next": -70000.0, "back": -70000.0,
    "louder": -70000.0, "softer": -70000.0,
}
#: Stage one's floor: how clearly *guide* itself must have been said (not used: it did not separate).
GUIDE_FLOOR = -1e9
#: The phrase must stand this many dB over the room's noise floor (see ``snr`` above).
SNR_FLOOR = 18.0
#: ... and last this long, from the start of *guide* to the end of the command word (seconds): nobody says
#: "guide, back" in a quarter of a second. On the benchmark every candidate of the sessions alone that
#: passed the level gate was 0.25-0.35 s long (the guide's voice, a syllable or two decoded as a phrase),
#: as were the shortest wrong decodes of the mixture (a *guide* found inside a command word); right
#: decodes were 0.40 s or longer, but for two 0.22 s pauses that no floor let through.
MIN_SECONDS = 0.38
#: While the guide's own voice sounds above this level (dBFS) in the output, ...
ECHO_LEVEL = -40.0
#: ... a command must clear its floor by this much more (a second line behind the echo canceller).
ECHO_MARGIN = 5000.0
#: Two commands closer together than this are one (the same phrase found twice).
REFRACTORY = 1.5


@dataclass(frozen=True)
class Candidate:
    """A phrase the recogniser decoded: a command, where it was in the stream, and its features."""

    command: str
    start: float          # seconds from the start of the stream: "guide" began
    end: float            # the command word ended
    decided: float        # the stream position when the recogniser had decided (latency = decided - end)
    features: Dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"command": self.command, "start": round(self.start, 3), "end": round(self.end, 3),
                "decided": round(self.decided, 3),
                "features": {k: round(v, 4) for k, v in self.features.items()}}

    @classmethod
    def from_json(cls, data: Mapping) -> "Candidate":
        return cls(str(data["command"]), float(data["start"]), float(data["end"]), float(data["decided"]),
                   {str(k): float(v) for k, v in dict(data.get("features", {})).items()})


@dataclass
class Rules:
    """The decision rule's constants (the module's, unless a test or a benchmark fits others)."""

    floors: Mapping[str, float] = field(default_factory=lambda: dict(FLOORS))
    guide_floor: float = GUIDE_FLOOR
    snr_floor: float = SNR_FLOOR
    min_seconds: float = MIN_SECONDS
    echo_level: float = ECHO_LEVEL
    echo_margin: float = ECHO_MARGIN

    def floor(self, command: str, echo: Optional[float] = None) -> float:
        floor = self.floors.get(command, max(self.floors.values()))
        if echo is not None and echo > self.echo_level:
            floor += self.echo_margin
        return floor


def decide(candidate: Candidate, rules: Optional[Rules] = None, echo: Optional[float] = None) -> bool:
    """True when *candidate* is a command to act on: every feature over its floor.

    *echo* is the guide's own level while the phrase was said (dBFS), or
    None when the player is silent or it is not known.
    """
    rules = rules or Rules()
    if candidate.command not in COMMANDS:
        return False
    f = candidate.features
    if f.get("snr", 0.0) < rules.snr_floor:
        return False
    if candidate.end - candidate.start < rules.min_seconds:
        return False
    if f.get("guide", 0.0) < rules.guide_floor:
        return False
    return f.get("acoustic", float("-inf")) >= rules.floor(candidate.command, echo)


class Debounce:
    """One action per phrase: a candidate within :data:`REFRACTORY` s of the last accepted one is dropped."""

    def __init__(self, refractory: float = REFRACTORY):
        self.refractory = refractory
        self._last: Optional[float] = None

    def __call__(self, candidate: Candidate) -> bool:
        if self._last is not None and candidate.start - self._last < self.refractory:
            return False
        self._last = candidate.end
        return True
