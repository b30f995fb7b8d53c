"""Script -> timeline: every sound of a session at an exact sample position.

The timeline is pure (no numpy, no I/O): a function of the script, each
spoken clip's length and the options. ``preview``, ``render`` and ``play``
all read it, so what you preview is what you hear. See :mod:`.place`.
"""

from voiceguide.timeline.place import (
    PAUSE_FLOOR_SECONDS,
    SAMPLE_RATE,
    ClipLength,
    Event,
    LazyTimeline,
    Timeline,
    compile_timeline,
    estimate,
    estimate_speech_samples,
    flatten,
)

__all__ = [
    "PAUSE_FLOOR_SECONDS", "SAMPLE_RATE", "ClipLength", "Event", "LazyTimeline", "Timeline",
    "compile_timeline", "estimate", "estimate_speech_samples", "flatten",
]
