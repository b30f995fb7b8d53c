"""Speech synthesis: a pyttsx3 worker process, a resampler and an on-disk cache.

Public API::

    from voiceguide.synth import Synthesizer, VoiceSpec, list_voices

    with Synthesizer(sample_rate=48000) as synth:
        synth.prefetch((text, VoiceSpec()) for text in texts)  # returns at once
        n = synth.length("Breathe in.", VoiceSpec(rate=140))     # samples
        x = synth.clip("Breathe in.", VoiceSpec(rate=140))       # float32 mono

See :mod:`voiceguide.synth.synthesizer` (threads, pins, retries), :mod:`voiceguide.synth.workers` (processes),
:mod:`voiceguide.synth.worker` (pyttsx3 and its traps),
:mod:`voiceguide.synth.cache` and :mod:`voiceguide.synth.resample`.
"""

from typing import Any

from .spec import FORMAT, VoiceSpec

__all__ = ["Synthesizer", "VoiceSpec", "list_voices", "FORMAT"]


def __getattr__(name: str) -> Any:
    """``Synthesizer`` and ``list_voices`` load on first use (numpy, threads, processes).

    So :mod:`voiceguide.synth.lookup` (``list``'s real lengths) and the
    cache keys can be used without them.
    """
    if name == "Synthesizer":
        from . import synthesizer

        return synthesizer.Synthesizer
    if name == "list_voices":
        from . import workers

        return workers.list_voices
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
