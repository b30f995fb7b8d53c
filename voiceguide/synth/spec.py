"""Voice settings, engine identity and cache keys: shared by parent and worker.

Nothing here starts the speech engine. :func:`engine_identity` only reads the
engine's version: for espeak-ng that loads the shared library (``dlopen``,
cheap, no initialisation) and asks ``espeak_Info``; a warm cache therefore
costs no worker process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Optional, Tuple

#: Bump whenever trimming, fading, normalising or resampling changes what a
#: cache entry holds: every old entry then misses and is synthesised again.
FORMAT = 1

#: What to tell a person whose machine has no speech engine.
MISSING_ENGINE_HINT = (
    "install it with `sudo apt-get install espeak-ng` (Debian, Ubuntu, Raspberry Pi OS), "
    "or run with --text to print the words instead of speaking them"
)


@dataclass(frozen=True)
class VoiceSpec:
    """How a clip is spoken. Hashable: use it as a dict key.

    ``name`` is an engine voice id (``gmw/en-us``) or name
    (``English (America)``); ``None`` picks the engine voice for ``language``
    (for ``en``, the engine's default voice). ``rate`` is words per minute;
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


def default_engine_name() -> str:
    """The pyttsx3 driver used on this platform (``espeak`` on Linux)."""
    try:
        from pyttsx3.engine import default_engine_by_sys_platform

        return default_engine_by_sys_platform()
    except Exception:
        return {"darwin": "nsss", "win32": "sapi5"}.get(sys.platform, "espeak")


@functools.lru_cache(maxsize=1)
def engine_identity() -> Tuple[str, str]:
    """``(engine name, version)`` for the cache key, without starting the engine.

    espeak-ng: the library's own version (``espeak_Info``), so upgrading
    espeak-ng re-synthesises. Other engines (macOS, Windows): the pyttsx3
    version plus the OS release, whose voices change with it. A missing
    engine gives version ``"missing"``: nothing is cached under it, since
    the worker then reports the engine missing.
    """
    name = default_engine_name()
    try:
        import pyttsx3  # noqa: F401  (cheap: drivers load lazily)
        from importlib.metadata import version

        try:
            pyttsx3_version = version("pyttsx3")
        except Exception:
            pyttsx3_version = "unknown"
    except Exception:
        return name, "missing"
    if name == "espeak":
        try:
            from pyttsx3.drivers import _espeak  # dlopen only; no espeak_Initialize

            info = _espeak.Info(None)
            if info:
                return name, "espeak-ng " + info.decode("utf-8", "replace")
        except Exception:
            return name, "missing"
    import platform

    return name, f"pyttsx3 {pyttsx3_version} {platform.platform(terse=True)}"


def cache_key(text: str, voice: VoiceSpec, sample_rate: int, identity: Tuple[str, str]) -> str:
    """SHA-256 hex digest naming one cache entry.

    Covers everything that changes the samples: engine and version, voice,
    rate, volume, language, (normalised) text, sample rate and :data:`FORMAT`.
    """
    payload = {
        "format": FORMAT,
        "engine": identity[0],
        "version": identity[1],
        "voice": voice.name or "",
        "rate": int(voice.rate),
        "volume": round(float(voice.volume), 4),
        "language": voice.language,
        "text": normalise_text(text),
        "sample_rate": int(sample_rate),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
