"""Voice settings and cache keys: shared by parent and worker.

Nothing here starts a speech engine or imports one: the engine's part of a
cache key comes from its module in :mod:`voiceguide.synth.engines`, which
reads versions and file digests only, so a warm cache costs no worker
process.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from voiceguide.synth.voices import Choice

#: Every clip's peak, before ``volume`` scales it (the worker normalises to it;
#: the cache refuses an entry louder than it).
PEAK_DBFS = -3.0

#: Bump whenever trimming, fading, normalising or resampling changes what a
#: cache entry holds: every old entry then misses and is synthesised again.
#: 2: espeak-ng speaks every utterance from the same state (engines/espeak.py).
#: 3: espeak-ng's rate is calibrated so the words per minute asked for are heard
#:    (engines/espeak.py RATE_TABLE); every engine's parameters are in the key.
FORMAT = 3


@dataclass(frozen=True)
class VoiceSpec:
    """How a clip is spoken. Hashable: use it as a dict key.

    ``name`` is a voice id, engine-qualified (``piper:en_US-joe-medium``,
    ``espeak:gmw/en-us``) or bare as before (an espeak-ng id or name such as
    ``English (America)``); ``piper`` or ``espeak`` alone is that engine's
    voice for ``language``; ``None`` is the best voice installed for
    ``language`` (see :mod:`voiceguide.synth.voices`). ``rate`` is words per minute;
    ``volume`` (0..1) scales a clip normalised to a -3 dBFS peak.
    """

    name: Optional[str] = None
    rate: int = 140
    volume: float = 0.9
    language: str = "en"

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, int) or not 20 <= self.rate <= 1000:
            raise ValueError(f"rate must be an integer number of words per minute, got {self.rate!r}")
        try:
            ok = 0.0 <= float(self.volume) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"volume must be between 0 and 1, got {self.volume!r}")
        if not isinstance(self.language, str) or not self.language.strip():
            raise ValueError(f"language must be a language code such as 'en', got {self.language!r}")


def normalise_text(text: str) -> str:
    """Collapse runs of whitespace: "a  b\\n" and "a b" are the same clip."""
    return " ".join(str(text).split())


def cache_key(text: str, voice: VoiceSpec, sample_rate: int, choice: Choice) -> str:
    """SHA-256 hex digest naming one cache entry.

    Covers everything that changes the samples: the engine and its version
    (for Piper also the model's and config's SHA-256), every parameter the
    engine is given (espeak-ng's calibrated rate, Piper's length scale), the voice, rate, volume,
    language, (normalised) text, sample rate and :data:`FORMAT`. *choice* is the resolved
    :class:`~voiceguide.synth.voices.Choice`. The samples are a function of
    this key alone: engines speak every utterance from the same state.
    """
    payload = {
        "format": FORMAT,
        "voice": choice.voice or "",
        "rate": int(voice.rate),
        "volume": round(float(voice.volume), 4),
        "language": voice.language,
        "text": normalise_text(text),
        "sample_rate": int(sample_rate),
    }
    payload.update(choice.identity())
    payload["params"] = choice.params(int(voice.rate))  # what the engine is told: a re-calibration misses
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
