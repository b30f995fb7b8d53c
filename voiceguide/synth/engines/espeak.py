"""espeak-ng through pyttsx3: the only module that imports pyttsx3 or touches
its espeak driver's internals.

Parent side: :func:`identity` reads espeak-ng's version (``dlopen`` and
``espeak_Info``: cheap, no initialisation), so a warm cache needs no worker.

Worker side: :class:`EspeakEngine`. Traps it handles:

* pyttsx3's espeak driver **prints** ``Audio saved to ...`` on every
  ``save_to_file``: the worker points fd 1 at /dev/null before this module
  imports pyttsx3 (:func:`voiceguide.synth.worker.claim_stdout`).
* ``say()`` would play the sound itself (on Linux by shelling out to
  ``aplay``): only ``save_to_file`` is ever used.
* With espeak's retrieval mode ``runAndWait`` can return before the file is
  written; we wait for pyttsx3's ``finished-utterance`` notification.
* ``setProperty("rate")`` is racy with espeak-ng (see
  :meth:`EspeakEngine._espeak_settings`).
* macOS (nsss) writes AIFF whatever the file is called: soundfile reads the
  real format from the header, never from the name.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Tuple

from . import Engine, EngineMissing, RequestError

NAME = "espeak"

#: What to tell a person whose machine has no espeak-ng.
MISSING_HINT = (
    "install it with `sudo apt-get install espeak-ng` (Debian, Ubuntu, Raspberry Pi OS), "
    "or run with --text to print the words instead of speaking them"
)

#: How long the worker itself waits for one utterance (the parent's timeout,
#: usually shorter, kills it first).
UTTERANCE_WAIT_S = 120.0


# -- parent side ----------------------------------------------------------------


def default_driver() -> str:
    """The pyttsx3 driver used on this platform (``espeak`` on Linux)."""
    try:
        from pyttsx3.engine import default_engine_by_sys_platform

        return default_engine_by_sys_platform()
    except Exception:
        return {"darwin": "nsss", "win32": "sapi5"}.get(sys.platform, "espeak")


@functools.lru_cache(maxsize=1)
def engine_version() -> Tuple[str, str]:
    """``(driver name, version)`` for the cache key, without starting the engine.

    espeak-ng: the library's own version (``espeak_Info``), so upgrading
    espeak-ng re-synthesises. Other drivers (macOS, Windows): the pyttsx3
    version plus the OS release, whose voices change with it. A missing
    engine gives version ``"missing"``: nothing is cached under it, since
    the worker then reports the engine missing.
    """
    name = default_driver()
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


def available() -> bool:
    return engine_version()[1] != "missing"


def identity(choice) -> dict:
    """The cache key's engine fields (unchanged since the first cache format)."""
    driver, version = engine_version()
    return {"engine": driver, "version": version}


def params(choice, rate: int) -> dict:
    """espeak-ng takes the rate in words per minute as it is."""
    return {"rate": int(rate)}


def open_engine(model: Optional[str] = None, threads: int = 1) -> "EspeakEngine":
    return EspeakEngine()


# -- worker side ----------------------------------------------------------------


def _lang_norm(code: str) -> str:
    return str(code).strip().lower().replace("_", "-")


class EspeakEngine(Engine):
    """One pyttsx3 engine, initialised once for this process's lifetime."""

    name = NAME

    def __init__(self) -> None:
        try:
            import pyttsx3

            self.engine = pyttsx3.init()
        except Exception as e:  # ImportError, RuntimeError from the espeak loader, OSError
            raise EngineMissing(f"{type(e).__name__}: {e}") from e
        self.driver = str(self.engine)
        self._done = threading.Event()
        self._errors: List[BaseException] = []
        self.engine.connect("finished-utterance", lambda **kw: self._done.set())
        self.engine.connect("error", lambda **kw: self._on_error(kw.get("exception")))
        self.default_voice = self.engine.getProperty("voice")
        self._voices = None

    def _on_error(self, exc) -> None:
        self._errors.append(exc if exc is not None else RuntimeError("speech engine error"))
        self._done.set()

    def voices(self) -> list:
        if self._voices is None:
            out = []
            for v in self.engine.getProperty("voices") or []:
                langs = []
                for lang in getattr(v, "languages", None) or []:
                    if isinstance(lang, bytes):
                        lang = lang.decode("utf-8", "ignore").lstrip("\x05")
                    langs.append(str(lang))
                out.append({
                    "id": str(v.id),
                    "name": str(getattr(v, "name", "") or v.id),
                    "languages": langs,
                    "default": str(v.id).lower() == str(self.default_voice or "").lower(),
                })
            self._voices = out
        return self._voices

    def resolve_voice(self, name: Optional[str], language: str) -> Optional[str]:
        """The engine voice id for a voice name or id, or for a language."""
        voices = self.voices()
        if name:
            want = name.strip().lower()
            for key in ("id", "name"):
                for v in voices:
                    if v[key].lower() == want:
                        return v["id"]
            for v in voices:
                if want in (_lang_norm(lang) for lang in v["languages"]):
                    return v["id"]
            from voiceguide.errors import did_you_mean

            hint = did_you_mean(name, [v["id"] for v in voices] + [v["name"] for v in voices])
            raise RequestError(
                f"no voice {name!r}{hint}; `voiceguide voices` lists the installed ones", "voice"
            )
        lang = _lang_norm(language)
        default = next((v for v in voices if v["default"]), None)
        if default is not None and any(_lang_norm(x).split("-")[0] == lang for x in default["languages"]):
            return None if lang == "en" else default["id"]
        if lang == "en" and default is None:
            return None
        for match in (
            lambda code: code == lang,
            lambda code: code.split("-")[0] == lang,
        ):
            for v in voices:
                if any(match(_lang_norm(c)) for c in v["languages"]):
                    return v["id"]
        for v in voices:
            if v["id"].lower().rsplit("/", 1)[-1] == lang:
                return v["id"]
        raise RequestError(f"no voice for language {language!r}; `voiceguide voices` lists them", "voice")

    def _espeak_idle(self, espeak, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while espeak.IsPlaying():
            if time.monotonic() > deadline:
                raise RuntimeError("espeak-ng stayed busy")
            time.sleep(0.001)

    def _espeak_settings(self, voice_id: str, rate: int) -> None:
        """Set voice, rate and volume on espeak-ng so that they really apply.

        pyttsx3's ``setProperty`` is racy with espeak-ng in retrieval mode:
        espeak queues parameter changes in its own command fifo, and
        pyttsx3's ``runAndWait`` calls ``stop()``, which ``espeak_Cancel``s
        that fifo whenever espeak still looks busy, silently dropping a rate
        change. (Seen here: every clip after the first few kept one rate.)
        ``espeak_SetVoiceByName`` is applied at once, not queued, so it must
        not run while the synthesis thread is busy either. So: wait for
        espeak to be idle, set everything, wait until the fifo has applied
        it, and only then queue the utterance.
        """
        from pyttsx3.drivers import _espeak

        self._espeak_idle(_espeak)
        status = _espeak.SetVoiceByName(voice_id.encode("utf-8"))
        if status != 0:
            raise RequestError(f"espeak-ng cannot select voice {voice_id!r} (status {status})", "voice")
        _espeak.SetParameter(_espeak.RATE, int(rate), 0)
        _espeak.SetParameter(_espeak.VOLUME, 100, 0)
        self._espeak_idle(_espeak)

    def synthesise(self, text: str, voice: Optional[str], language: str, params: dict,
                   scratch: Path) -> Tuple["object", int]:
        """Write the engine's output for ``text`` to ``scratch``; return (samples, rate)."""
        import soundfile

        voice_id = self.resolve_voice(voice, language or "en")
        rate = int(params["rate"])
        if self.driver == "espeak":
            self._espeak_settings(voice_id or self.default_voice, rate)
        else:
            self.engine.setProperty("voice", voice_id or self.default_voice)
            self.engine.setProperty("rate", rate)
            self.engine.setProperty("volume", 1.0)
        self._done.clear()
        self._errors.clear()
        self.engine.save_to_file(text, str(scratch))
        self.engine.runAndWait()
        if not self._done.wait(UTTERANCE_WAIT_S):
            raise RuntimeError("the speech engine never finished the utterance")
        if self._errors:
            raise RuntimeError(f"speech engine error: {self._errors[0]}")
        # soundfile reads the format from the header: AIFF on macOS, WAV here.
        data, sr = soundfile.read(str(scratch), dtype="float32", always_2d=True)
        return data.mean(axis=1), int(sr)
