"""Script -> timeline: every sound of a session at an exact sample position.

The timeline is pure (no numpy, no I/O): a function of the script, each
spoken clip's length and the options. ``preview``, ``render`` and ``play``
all read it, so what you preview is what you hear. :mod:`.place` places
the events (all at once, or lazily for ``play``); :mod:`.events` holds the
questions the mixer and the player ask of either kind (:class:`PlacedEvents`:
what sounds here, where does this step begin, where does the next one).
"""

from voiceguide.timeline.events import Event, PlacedEvents, Timeline
from voiceguide.timeline.place import (
    PAUSE_FLOOR_SECONDS,
    SAMPLE_RATE,
    ClipLength,
    ClipPart,
    LazyTimeline,
    compile_timeline,
    estimate,
    estimate_speech_samples,
    flatten,
)

__all__ = [
    "PAUSE_FLOOR_SECONDS", "SAMPLE_RATE", "ClipLength", "ClipPart", "Event", "LazyTimeline", "PlacedEvents",
    "Timeline", "compile_timeline", "estimate", "estimate_speech_samples", "flatten",
]
