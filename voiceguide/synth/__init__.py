"""Speech synthesis: a pyttsx3 worker process, a resampler and an on-disk cache.

Public API::

    from voiceguide.synth import Synthesizer, VoiceSpec, list_voices

    with Synthesizer(sample_rate=48000) as synth:
        synth.prefetch((text, VoiceSpec()) for text in texts)  # returns at once
        n = synth.length("Breathe in.", VoiceSpec(rate=140))     # samples
        x = synth.clip("Breathe in.", VoiceSpec(rate=140))       # float32 mono

See :mod:`voiceguide.synth.synthesizer` (threads, processes, retries),
:mod:`voiceguide.synth.worker` (pyttsx3 and its traps),
:mod:`voiceguide.synth.cache` and :mod:`voiceguide.synth.resample`.
"""

from .spec import FORMAT, VoiceSpec
from .synthesizer import Synthesizer, list_voices

__all__ = ["Synthesizer", "VoiceSpec", "list_voices", "FORMAT"]
