"""The speech worker process: ``python -m voiceguide.synth.worker``.

Why a separate process:

* pyttsx3 hangs on some platforms, and a hung call cannot be interrupted from
  another thread; a process can be killed and replaced.
* espeak-ng initialises once per process (pyttsx3's espeak driver keeps it
  alive for the process's lifetime and cannot re-initialise it), so the only
  way to recover a wedged engine is a new process.
* Synthesis holds the GIL for long stretches (the ctypes callback copies
  audio byte strings); in the player's process it would compete with the
  audio callback.

Traps this module handles:

* pyttsx3's espeak driver **prints** ``Audio saved to ...`` to stdout on every
  ``save_to_file``. Before pyttsx3 is imported, :func:`claim_stdout` moves the
  real stdout to a private descriptor for the protocol and points fd 1 at
  ``/dev/null``, so nothing reaches the protocol or the user's terminal.
* ``say()`` would play the sound itself (on Linux by shelling out to
  ``aplay``): only ``save_to_file`` is ever used.
* With espeak's retrieval mode ``runAndWait`` can return before the file is
  written; we wait for pyttsx3's ``finished-utterance`` notification.
* macOS (nsss) writes AIFF whatever the file is called: soundfile reads the
  real format from the header, never from the name.

Protocol: JSON lines. The worker first writes ``{"ready": true, ...}`` once
the engine is initialised, or ``{"ready": false, "kind": "missing", ...}``
when it cannot be, and exits. Then per request line
``{"id", "op": "synth", "text", "voice", "rate", "volume", "language",
"sample_rate", "path"}`` it writes the cache entry at ``path`` and answers
``{"id", "ok": true, "path", "length"}`` or ``{"id", "ok": false, "error",
"kind"}``; ``{"id", "op": "voices"}`` answers ``{"id", "ok": true, "voices"}``.
End of input ends the worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, IO, List, Optional

import numpy as np

#: Trim threshold relative to the clip's peak, and the margin kept around it.
TRIM_DB = -45.0
TRIM_MARGIN_S = 0.015
FADE_S = 0.010
PEAK_DBFS = -3.0
#: How long the worker itself waits for one utterance (the parent's timeout,
#: usually shorter, kills it first).
UTTERANCE_WAIT_S = 120.0


class EngineMissing(Exception):
    """pyttsx3 or the speech engine behind it cannot be loaded or initialised."""


class RequestError(Exception):
    """A request that cannot succeed as asked (unknown voice, ...): no retry."""

    def __init__(self, message: str, kind: str = "request"):
        super().__init__(message)
        self.kind = kind


def claim_stdout() -> IO[str]:
    """Return a text stream on the real stdout and point fd 1 at /dev/null.

    Must run before pyttsx3 is imported: its drivers ``print`` to stdout,
    and anything printed there would corrupt the protocol.
    """
    sys.stdout.flush()
    proto_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return os.fdopen(proto_fd, "w", encoding="utf-8", buffering=1)


def finish_clip(x: np.ndarray, engine_rate: int, sample_rate: int, volume: float) -> np.ndarray:
    """Engine output -> cache entry: trim, resample, fade, normalise, volume.

    * Trim the engine's leading and trailing silence (espeak-ng appends about
      half a second) to the first/last sample above :data:`TRIM_DB` relative
      to the peak, keeping :data:`TRIM_MARGIN_S` around it, so clip lengths
      (and the timeline built on them) are the speech itself.
    * Resample once, here, with a proper anti-imaging filter.
    * :data:`FADE_S` raised-cosine fades at both ends (after resampling, so
      the first and last samples are exactly zero).
    * Peak to :data:`PEAK_DBFS`, then times ``volume``: the engine's own
      volume stays at 1.0, so every entry is normalised the same way.

    A clip with no sound at all becomes 30 ms of silence (never empty: an
    empty entry means a corrupt one).
    """
    from .resample import resample

    x = np.asarray(x, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros(max(1, int(round(0.030 * sample_rate))), np.float32)
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (TRIM_DB / 20))
    margin = int(round(TRIM_MARGIN_S * engine_rate))
    x = x[max(0, loud[0] - margin): min(x.size, loud[-1] + 1 + margin)]
    y = resample(x, engine_rate, sample_rate).astype(np.float32, copy=False)
    n = min(int(round(FADE_S * sample_rate)), y.size // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y *= np.float32(10 ** (PEAK_DBFS / 20) / peak * float(volume))
    if y.size == 0:
        y = np.zeros(1, np.float32)
    return y


def _lang_norm(code: str) -> str:
    return str(code).strip().lower().replace("_", "-")


class SpeechEngine:
    """One pyttsx3 engine, initialised once for this process's lifetime."""

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
        self.engine_rate: Optional[int] = None

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

    def synthesise(self, text: str, voice_id: Optional[str], rate: int, wav_path: Path):
        """Write the engine's output for ``text`` to ``wav_path``; return (samples, rate)."""
        import soundfile

        if self.driver == "espeak":
            self._espeak_settings(voice_id or self.default_voice, int(rate))
        else:
            self.engine.setProperty("voice", voice_id or self.default_voice)
            self.engine.setProperty("rate", int(rate))
            self.engine.setProperty("volume", 1.0)
        self._done.clear()
        self._errors.clear()
        self.engine.save_to_file(text, str(wav_path))
        self.engine.runAndWait()
        if not self._done.wait(UTTERANCE_WAIT_S):
            raise RuntimeError("the speech engine never finished the utterance")
        if self._errors:
            raise RuntimeError(f"speech engine error: {self._errors[0]}")
        # soundfile reads the format from the header: AIFF on macOS, WAV here.
        data, sr = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
        return data.mean(axis=1), int(sr)


def handle(engine: SpeechEngine, request: dict) -> dict:
    """Answer one request (without its ``id``)."""
    from . import cache

    op = request.get("op", "synth")
    if op == "voices":
        return {"ok": True, "voices": engine.voices()}
    if op != "synth":
        raise RequestError(f"unknown op {op!r}", "protocol")
    text = str(request["text"])
    path = Path(request["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    voice_id = engine.resolve_voice(request.get("voice"), request.get("language") or "en")
    wav = cache.temp_path(path.parent, ".wav")
    try:
        samples, engine_rate = engine.synthesise(text, voice_id, int(request["rate"]), wav)
    finally:
        try:
            os.unlink(wav)
        except OSError:
            pass
    clip = finish_clip(samples, engine_rate, int(request["sample_rate"]), float(request["volume"]))
    cache.write_entry(path, clip)
    return {"ok": True, "path": str(path), "length": int(clip.size)}


def serve(inp: IO[str], out: IO[str], handler: Callable[[dict], dict]) -> None:
    """Read request lines from ``inp``; write one answer line each to ``out``."""
    for line in inp:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request.get("id")
            reply = handler(request)
        except RequestError as e:
            reply = {"ok": False, "error": str(e), "kind": e.kind}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "kind": "engine"}
        reply["id"] = rid
        out.write(json.dumps(reply) + "\n")
        out.flush()


def start(out: IO[str]) -> Optional[SpeechEngine]:
    """Initialise the engine and announce the result on ``out``; None if missing."""
    try:
        engine = SpeechEngine()
    except EngineMissing as e:
        out.write(json.dumps({"ready": False, "kind": "missing", "error": str(e)}) + "\n")
        out.flush()
        return None
    out.write(json.dumps({"ready": True, "engine": engine.driver, "pid": os.getpid()}) + "\n")
    out.flush()
    return engine


def main() -> int:
    out = claim_stdout()
    # Ctrl-C at the terminal goes to the whole process group: the player
    # decides when we stop (it closes our stdin or kills us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Synthesis runs far ahead of playback: yield the CPU to the player (and
    # to the audio server) whenever they want it -- on a Pi's few cores too.
    try:
        os.nice(5)
    except (AttributeError, OSError):
        pass
    engine = start(out)
    if engine is None:
        return 3
    serve(sys.stdin, out, lambda request: handle(engine, request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
