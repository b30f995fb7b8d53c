"""espeak-ng through pyttsx3: the only module that imports pyttsx3 or touches
its espeak bindings.

Parent side: :func:`identity` reads espeak-ng's version (``dlopen`` and
``espeak_Info``: cheap, no initialisation), so a warm cache needs no worker.

Worker side: :class:`EspeakNgEngine` on Linux (and wherever pyttsx3's driver
is espeak), :class:`PyttsxEngine` for pyttsx3's other drivers (macOS nsss,
Windows sapi5).

**Every utterance is spoken from the same state.** espeak-ng keeps dozens of
static variables from one utterance to the next -- the automatic gain of its
wave generator (``agc``), the flutter and wave phase, the echo buffer, the
silence still owed for an echo (``echo_complete``), the frame pool's index
-- so the same text at the same rate came out a few hundred samples longer
or shorter, and a little louder or softer, depending on what that worker had
said before (measured: "And release. Let your hands rest." was 63023 samples
alone, 64305 after a longer sentence: its sentence pause grew by 58 ms).
None of that state can be reset through the API, and
``espeak_Terminate`` + ``espeak_Initialize`` hangs in espeak-ng 1.51. So the
worker initialises espeak-ng once, selects the default voice and then never
synthesises itself: each utterance is spoken in a ``fork()`` of that pristine
process, which sends the samples back through a pipe and exits. Every
utterance therefore starts from the same state, in any worker, whatever ran
before, and a clip is a function of its cache key (a fork costs ~1 ms; a
crash in espeak-ng takes only the child with it).

Why pyttsx3's private ``pyttsx3.drivers._espeak``: it is a complete ctypes
binding of libespeak-ng (finding and loading the library under its names on
each platform, the event, voice and callback types), shipped by pyttsx3,
which is already the dependency for the other platforms' engines. The
public driver (``pyttsx3.init``) is no way in: it uses retrieval mode and a
command queue, ruled out by the traps below. A private module may change in
any pyttsx3 release, so: it is imported here only; a failed import is a
missing engine (:class:`EngineMissing`, with its words), never a crash;
espeak-ng's version (read through it) is part of every cache key; and
``tests/synth`` runs it against the real library. A dozen of its names
are used (``Initialize``, ``Info``, ``SetSynthCallback``,
``GetCurrentVoice``, ``SetVoiceByName``, ``ListVoices``, ``SetParameter``,
``Synth`` and their constants); should pyttsx3 move them, the way out is the
same calls through ctypes on ``libespeak-ng.so.1`` directly.

Traps handled here:

* espeak-ng runs in *synchronous* mode (``AUDIO_OUTPUT_SYNCHRONOUS``): the
  samples arrive in our callback before ``espeak_Synth`` returns. pyttsx3's
  own driver uses retrieval mode, whose command fifo made ``setProperty``
  racy (``runAndWait`` cancelled queued rate changes) and whose last buffer
  of every utterance was dropped; none of that applies any more.
* espeak-ng starts one idle thread even in synchronous mode, and numpy may
  start OpenBLAS threads: the child never touches either (no fifo, no BLAS;
  it only calls espeak-ng's synchronous path and ``os.write``), and leaves
  with ``os._exit`` so no Python exit handler or buffer of the parent runs
  twice.
* pyttsx3's drivers **print** (``Audio saved to ...``): the worker points fd 1
  at /dev/null before this module imports pyttsx3
  (:func:`voiceguide.synth.worker.claim_stdout`).
* ``say()`` would play the sound itself (on Linux by shelling out to
  ``aplay``): never used.
* macOS (nsss) writes AIFF whatever the file is called: soundfile reads the
  real format from the header, never from the name.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from . import Engine, EngineMissing, RequestError

if TYPE_CHECKING:  # pragma: no cover - annotations only: the parent half loads no numpy
    import numpy as np

    from voiceguide.synth.voices import Choice

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


#: Whether :func:`engine_version` reads libespeak-ng's version in a child process
#: (:func:`version_from_a_child`): the station's choice.
_VERSION_FROM_CHILD = False


def version_from_a_child() -> None:
    """Read espeak-ng's version in a short-lived child process from now on, never loading the library here.

    For a process that idles for hours (the station): loading libespeak-ng
    brings libpcaudio and, through it, libpulse and glib, which never unload
    (~3.5 MB for the process's life, measured: issue 24). The child costs
    ~0.1 s once; the version is then remembered as before.
    """
    global _VERSION_FROM_CHILD
    _VERSION_FROM_CHILD = True
    engine_version.cache_clear()


def _library_version() -> Optional[str]:
    """libespeak-ng's version (``espeak_Info``): loads the library into this process, never starts it."""
    from pyttsx3.drivers import _espeak  # dlopen only; no espeak_Initialize

    info = _espeak.Info(None)
    return info.decode("utf-8", "replace") if info else None


def print_library_version() -> int:
    """The child of :func:`_library_version_in_child`: the version on stdout (nothing if there is none)."""
    sys.stdout.write(_library_version() or "")
    return 0


def _library_version_in_child() -> Optional[str]:
    """:func:`_library_version` in a child process; it is read here after all if the child fails.

    Started as the speech workers are (:func:`voiceguide.synth.lifetime.boot_code`): only this
    installed package is imported, never a ``voiceguide/`` in the current folder.
    """
    import subprocess

    from voiceguide.synth.lifetime import boot_code

    code = boot_code("voiceguide.synth.engines.espeak", "print_library_version")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return _library_version()
    if done.returncode != 0:
        return _library_version()   # the same failure, raised here, says "missing" as before
    return done.stdout.strip() or None


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
    except Exception:
        return name, "missing"
    if name == "espeak":
        try:
            info = _library_version_in_child() if _VERSION_FROM_CHILD else _library_version()
            if info:
                return name, "espeak-ng " + info
        except Exception:
            return name, "missing"
    import platform

    from . import installed_version

    try:
        pyttsx3_version = installed_version("pyttsx3", "pyttsx3") or "unknown"
    except Exception:
        pyttsx3_version = "unknown"
    return name, f"pyttsx3 {pyttsx3_version} {platform.platform(terse=True)}"


def available() -> bool:
    return engine_version()[1] != "missing"


def identity(choice: Choice) -> dict:
    """The cache key's engine fields (unchanged since the first cache format)."""
    driver, version = engine_version()
    return {"engine": driver, "version": version}


#: espeak-ng speaks faster than the rate it is given: asked for 130 words per
#: minute, its clips hold 154 (sentence pauses inside a clip counted, the
#: silence at either end trimmed). Measured over every spoken sentence of the
#: built-in scripts (189 sentences, 3782 words) with espeak-ng 1.51's English
#: voice: (rate given to espeak-ng, words per minute measured in the clips).
#: :func:`params` inverts it, so the rate a script asks for is the rate heard;
#: ``benchmarks/pacing.py`` measures it again (re-measure after an
#: espeak-ng upgrade; the cache key holds the parameters, so a new table
#: re-synthesises by itself).
RATE_TABLE = ((80, 98.4), (90, 105.0), (100, 117.0), (115, 135.0), (130, 153.8), (150, 177.6),
              (175, 208.9), (200, 239.8), (250, 301.7), (300, 366.2))
#: Below its slowest rate (80, heard as ~98) espeak-ng can only lengthen the
#: gaps between words (``espeakWORDGAP``, in 10 ms units at the normal
#: speed): words per minute measured at rate 80 with each gap.
WORDGAP_TABLE = ((0, 98.4), (1, 87.4), (2, 84.1), (3, 80.9), (4, 77.9), (5, 75.1), (6, 72.5))
#: espeak-ng's ``espeakWORDGAP`` parameter (pyttsx3's bindings still call 7 EMPHASIS).
WORDGAP = 7


def calibrated(rate: int) -> Tuple[int, int]:
    """``(rate, word gap)`` to give espeak-ng so that *rate* words per minute are heard.

    Linear between the measured points of :data:`RATE_TABLE` (and beyond its
    last two); below espeak-ng's slowest rate, the word gap from
    :data:`WORDGAP_TABLE` that comes nearest (within about 4%).
    """
    slowest = RATE_TABLE[0][1]
    if rate < slowest:
        gap = min(WORDGAP_TABLE, key=lambda row: abs(row[1] - rate))[0]
        return RATE_TABLE[0][0], gap
    pairs = list(zip(RATE_TABLE, RATE_TABLE[1:]))
    for (lo_given, lo_heard), (hi_given, hi_heard) in pairs:  # noqa: B007  (the pair it stops at is used below)
        if rate <= hi_heard:
            break
    given = lo_given + (rate - lo_heard) * (hi_given - lo_given) / (hi_heard - lo_heard)
    return int(round(given)), 0


def params(choice: Choice, rate: int) -> dict:
    """The rate (and word gap) that make espeak-ng speak *rate* words per minute as heard.

    Only espeak-ng itself is calibrated (:data:`RATE_TABLE`); pyttsx3's other
    drivers (macOS, Windows) get the rate as it is.
    """
    if default_driver() != "espeak":
        return {"rate": int(rate)}
    given, gap = calibrated(int(rate))
    return {"rate": given, "wordgap": gap}


# -- worker side ----------------------------------------------------------------


def open_engine(model: Optional[str] = None, threads: int = 1) -> Engine:
    if default_driver() == "espeak":
        return EspeakNgEngine()
    return PyttsxEngine()


def _lang_norm(code: str) -> str:
    return str(code).strip().lower().replace("_", "-")


class _VoiceTable:
    """Voice listing and resolution shared by both worker-side engines.

    Subclasses set ``default_voice`` and implement ``_raw_voices()``.
    """

    default_voice: Optional[str] = None
    _voices: Optional[List[dict]] = None

    def _raw_voices(self) -> List[dict]:
        raise NotImplementedError

    def voices(self) -> List[dict]:
        if self._voices is None:
            out = self._raw_voices()
            for v in out:
                v["default"] = v["id"].lower() == str(self.default_voice or "").lower()
            self._voices = out
        return self._voices

    def resolve_voice(self, name: Optional[str], language: str) -> Optional[str]:
        """The engine voice id for a voice name or id, or for a language (None: the default)."""
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


#: espeak-ng's voice when it reports none (pyttsx3 makes the same choice).
FALLBACK_VOICE = "gmw/en"


class EspeakNgEngine(_VoiceTable, Engine):
    """libespeak-ng in synchronous mode; each utterance in a fork of the pristine process."""

    name = NAME
    default_voice: str  # set by __init__

    def __init__(self) -> None:
        try:
            from pyttsx3.drivers import _espeak
        except Exception as e:  # ImportError, or RuntimeError when libespeak-ng is missing
            raise EngineMissing(f"{type(e).__name__}: {e}") from e
        self._espeak = _espeak
        rate = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000, None, 0)
        if rate is None or rate <= 0:
            raise EngineMissing("espeak-ng could not initialise (espeak_Initialize failed)")
        self.sample_rate = int(rate)
        self._chunks: List[bytes] = []
        self._samples = 0
        self._marks: List[Tuple[int, int]] = []
        _espeak.SetSynthCallback(self._collect)
        current = _espeak.GetCurrentVoice()
        try:
            ident = (current.contents.identifier or b"") if current else b""
        except ValueError:  # a NULL pointer
            ident = b""
        self.default_voice = ident.decode("utf-8", "replace").lower() or FALLBACK_VOICE
        # Part of the pristine state every utterance starts from: the default
        # voice's dictionary is loaded once, here, not in every child.
        if _espeak.SetVoiceByName(self.default_voice.encode("utf-8")) != 0:
            raise EngineMissing(f"espeak-ng cannot select its default voice {self.default_voice!r}")

    def _collect(self, wav: Any, numsamples: int, events: Any) -> int:
        if events:
            # espeakEVENT_WORD: text_position is the word's first character
            # (1-based, in characters with espeakCHARS_UTF8), sample the
            # sample of the utterance at which it starts.
            i = 0
            while events[i].type != self._espeak.EVENT_LIST_TERMINATED:
                if events[i].type == self._espeak.EVENT_WORD:
                    self._marks.append((int(events[i].text_position) - 1, int(events[i].sample)))
                i += 1
        if numsamples > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
            self._samples += numsamples
        return 0

    def _raw_voices(self) -> List[dict]:
        out = []
        for v in self._espeak.ListVoices(None):
            ident = v.identifier.decode("utf-8", "replace").lower()
            langs = []
            raw = v.languages or b""
            # espeak_VOICE.languages: a priority byte, then a language, repeated.
            for part in raw.split(b"\0"):
                if len(part) > 1:
                    langs.append(part[1:].decode("utf-8", "ignore"))
            out.append({"id": ident, "name": v.name.decode("utf-8", "replace") or ident, "languages": langs})
        return out

    def _speak(self, text: str, voice_id: str, rate: int, wordgap: int = 0) -> bytes:
        """In the child: select, set, speak; the word marks and the samples (see :func:`pack_marks`)."""
        es = self._espeak
        status = es.SetVoiceByName(voice_id.encode("utf-8"))
        if status != 0:
            raise RequestError(f"espeak-ng cannot select voice {voice_id!r} (status {status})", "voice")
        es.SetParameter(es.RATE, int(rate), 0)
        es.SetParameter(WORDGAP, int(wordgap), 0)
        es.SetParameter(es.VOLUME, 100, 0)
        self._chunks.clear()
        self._marks.clear()
        self._samples = 0
        status = es.Synth(text.encode("utf-8"), flags=es.ENDPAUSE | es.CHARS_UTF8)
        if status not in (None, 0):
            raise RuntimeError(f"espeak-ng could not speak (status {status})")
        return pack_marks(self._marks, b"".join(self._chunks))

    def synthesise(self, text: str, voice: Optional[str], language: str, params: dict,
                   scratch: Path) -> Tuple[np.ndarray, int]:
        samples, rate, _, _ = self.synthesise_words(text, voice, language, params, scratch)
        return samples, rate

    def synthesise_words(self, text: str, voice: Optional[str], language: str, params: dict,
                         scratch: Path) -> Tuple[np.ndarray, int, Optional[List[Tuple[int, float]]], str]:
        """The samples and espeak-ng's own word events (as marks: character, seconds)."""
        import numpy as np

        voice_id = self.resolve_voice(voice, language or "en") or self.default_voice
        rate, wordgap = int(params["rate"]), int(params.get("wordgap", 0))
        marks, raw = unpack_marks(in_fork(lambda: self._speak(text, voice_id, rate, wordgap)))
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        return samples, self.sample_rate, [(pos, at / self.sample_rate) for pos, at in marks], "espeak"


def pack_marks(marks: List[Tuple[int, int]], samples: bytes) -> bytes:
    """The child's answer: the count of word marks, the marks (two int32 each), the int16 samples."""
    import struct

    return struct.pack(f"<I{2 * len(marks)}i", len(marks), *(v for mark in marks for v in mark)) + samples


def unpack_marks(payload: bytes) -> Tuple[List[Tuple[int, int]], bytes]:
    """:func:`pack_marks` undone: ``([(character, sample)], samples)``."""
    import struct

    (n,) = struct.unpack_from("<I", payload)
    flat = struct.unpack_from(f"<{2 * n}i", payload, 4)
    return [(flat[2 * i], flat[2 * i + 1]) for i in range(n)], payload[4 + 8 * n:]


def in_fork(work: Callable[[], bytes]) -> bytes:
    """Run *work* in a forked child and return its bytes; this process is left as it was.

    The child answers through a pipe: ``b"+"`` and the payload, or ``b"-"``
    and a kind and message (``voice: ...``) for a :class:`RequestError`, or
    ``b"!"`` and a message for anything else. A child killed by a signal
    (a crash in the engine) is a RuntimeError here. The child asks to be
    killed when its parent dies, so a hung child never outlives the worker.
    """
    import warnings

    from voiceguide.synth.lifetime import die_with_parent

    parent = os.getpid()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads. Safe
        # here: the child only runs espeak-ng's synchronous path (never its
        # idle fifo thread's locks, nor OpenBLAS) and leaves with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never return from here
        code = 0
        try:
            os.close(read_end)
            die_with_parent(parent)
            try:
                payload = b"+" + work()
            except RequestError as e:
                payload, code = b"-" + f"{e.kind}:{e}".encode("utf-8", "replace"), 2
            except BaseException as e:
                payload, code = b"!" + f"{type(e).__name__}: {e}".encode("utf-8", "replace"), 3
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    try:
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if os.WIFSIGNALED(status):
        raise RuntimeError(f"espeak-ng crashed (signal {os.WTERMSIG(status)})")
    if data[:1] == b"+":
        return data[1:]
    if data[:1] == b"-":
        kind, _, message = data[1:].decode("utf-8", "replace").partition(":")
        raise RequestError(message, kind or "request")
    message = data[1:].decode("utf-8", "replace") if data[:1] == b"!" else "no answer"
    raise RuntimeError(f"speech engine error: {message}")


class PyttsxEngine(_VoiceTable, Engine):
    """pyttsx3's own driver (macOS nsss, Windows sapi5), initialised once per process."""

    name = NAME

    def __init__(self) -> None:
        try:
            import pyttsx3

            self.engine = pyttsx3.init()
        except Exception as e:  # ImportError, RuntimeError from the driver loader, OSError
            raise EngineMissing(f"{type(e).__name__}: {e}") from e
        self._done = threading.Event()
        self._errors: List[BaseException] = []
        self.engine.connect("finished-utterance", lambda **kw: self._done.set())
        self.engine.connect("error", lambda **kw: self._on_error(kw.get("exception")))
        self.default_voice = self.engine.getProperty("voice")

    def _on_error(self, exc: Optional[BaseException]) -> None:
        self._errors.append(exc if exc is not None else RuntimeError("speech engine error"))
        self._done.set()

    def _raw_voices(self) -> List[dict]:
        out = []
        for v in self.engine.getProperty("voices") or []:
            langs = []
            for lang in getattr(v, "languages", None) or []:
                if isinstance(lang, bytes):
                    lang = lang.decode("utf-8", "ignore").lstrip("\x05")
                langs.append(str(lang))
            out.append({"id": str(v.id), "name": str(getattr(v, "name", "") or v.id), "languages": langs})
        return out

    def synthesise(self, text: str, voice: Optional[str], language: str, params: dict,
                   scratch: Path) -> Tuple[np.ndarray, int]:
        """Write the engine's output for ``text`` to ``scratch``; return (samples, rate)."""
        import soundfile

        voice_id = self.resolve_voice(voice, language or "en")
        self.engine.setProperty("voice", voice_id or self.default_voice)
        self.engine.setProperty("rate", int(params["rate"]))
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
