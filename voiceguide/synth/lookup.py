"""What the speech cache already holds, asked without numpy, a worker or an engine.

``voiceguide list`` shows an exercise's real length once every clip of it is
in the cache. It must stay quick (a fresh process per call, a Pi Zero), so
this reads only cache entries' headers, under the very keys the
:class:`~voiceguide.synth.Synthesizer` uses (:func:`~voiceguide.synth.spec.cache_key`
with the voice :func:`~voiceguide.synth.voices.choose` resolves). Nothing
here imports numpy or starts a process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from . import cache
from .spec import VoiceSpec, cache_key, normalise_text

if TYPE_CHECKING:  # pragma: no cover - annotations only: choosing a voice loads on first use
    from .voices import Choice


class CacheLookup:
    """Clip lengths from the speech cache at *sample_rate*, or None for a clip not made yet."""

    def __init__(self, sample_rate: int, cache_dir: Optional[Path] = None):
        from voiceguide.paths import speech_cache_dir

        self.sample_rate = int(sample_rate)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else speech_cache_dir()
        self._choices: Dict[Tuple[Optional[str], str], Choice] = {}
        #: Every entry read (or found missing), in order: what a length read here depends on
        #: (``list`` keeps its rows while these are as they were, :mod:`voiceguide.cli.list_cache`).
        self.consulted: List[Path] = []

    def length(self, text: str, voice: VoiceSpec) -> Optional[int]:
        """Samples in the cached clip of *text* spoken by *voice*, or None (not cached, or damaged).

        Raises what choosing the voice raises (an unknown voice, a broken
        Piper model), as the synthesizer would.
        """
        if not normalise_text(text):
            return None
        which = (voice.name, voice.language)
        choice = self._choices.get(which)
        if choice is None:
            from .voices import choose

            choice = self._choices[which] = choose(voice.name, voice.language, memo_dir=self.cache_dir)
        key = cache_key(text, voice, self.sample_rate, choice)
        path = cache.entry_path(self.cache_dir, key)
        self.consulted.append(path)
        return cache.entry_length(path, key)
