"""The speech worker process: ``voiceguide.synth.worker --engine NAME [--model PATH]``.

The synthesizer starts it with ``python -c`` so that only this package is
imported, never a ``voiceguide/`` folder in the current folder
(:func:`voiceguide.synth.lifetime.boot_code`); ``python -m
voiceguide.synth.worker`` works by hand.

Each worker runs exactly one engine (:mod:`voiceguide.synth.engines`),
loaded once at start and reused for every request. Why a separate process:

* pyttsx3 hangs on some platforms, and a hung call cannot be interrupted from
  another thread; a process can be killed and replaced.
* espeak-ng initialises once per process (pyttsx3's espeak driver keeps it
  alive for the process's lifetime and cannot re-initialise it), so the only
  way to recover a wedged engine is a new process. Piper bundles its own
  espeak-ng for phonemes: the two engines never share a process.
* Synthesis holds the GIL for long stretches; in the player's process it
  would compete with the mixer thread. A Piper model (~250 MB resident) is
  also freed for certain when its idle worker exits.

Traps handled here: engines (pyttsx3's espeak driver) **print** to stdout.
Before any engine is imported, :func:`claim_stdout` moves the real stdout to
a private descriptor for the protocol and points fd 1 at ``/dev/null``, so
nothing reaches the protocol or the user's terminal. Engine-specific traps
are documented in each engine's module.

Protocol: JSON lines. The worker first writes ``{"ready": true, ...}`` once
the engine is loaded, or ``{"ready": false, "kind": "missing" | "model",
"error"}`` when it cannot be, and exits. Then per request line
``{"id", "op": "synth", "text", "voice", "language", "params", "volume",
"sample_rate", "folder", "key"}`` it writes a complete cache entry for
``key`` into a temporary file in ``folder`` and answers ``{"id", "ok": true,
"temp", "length"}``; the player gives the entry its name (the first writer of
a key wins, see :mod:`voiceguide.synth.cache`) and removes the temporary
file. A failure answers ``{"id", "ok": false, "error", "kind"}``, where kind
``cache`` means the folder cannot be written (no retry helps).
``{"id", "op": "voices"}`` answers ``{"id", "ok": true, "voices"}``.

**A head first** (issue 24): a request with ``"head": true`` to an engine
that makes a clip in units (Piper, clause by clause, see
:func:`finish_unit`) gets, before its answer, one line ``{"id", "head":
true, "temp", "length"}``: an entry (same key) holding the clip's first
unit, exactly the first ``length`` samples of the clip to come, written as
soon as that unit is made. The player may play it while the rest is made;
it removes that temporary file.
End of input ends the worker, and so does the end of its parent
(:func:`die_with_parent`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Callable, IO, List, Optional, Tuple

import numpy as np

from .engines import ENGINES, Engine, EngineMissing, ModelError, RequestError, open_engine
from .spec import PEAK_DBFS

__all__ = ["Engine", "EngineMissing", "ModelError", "RequestError", "claim_stdout", "finish_clip",
           "finish_unit", "handle", "serve", "start", "prepare", "die_with_parent", "parse_args", "main"]

#: Trim threshold relative to the clip's peak, and the margin kept around it.
TRIM_DB = -45.0
TRIM_MARGIN_S = 0.015
FADE_S = 0.010


def claim_stdout() -> IO[str]:
    """Return a text stream on the real stdout and point fd 1 at /dev/null.

    Must run before an engine is imported: pyttsx3's drivers ``print`` to stdout,
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
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    bounds = trim_bounds(x, engine_rate)
    if bounds is None:
        return np.zeros(max(1, int(round(0.030 * sample_rate))), np.float32)
    y = _resampled_faded(x[bounds[0]: bounds[1]], engine_rate, sample_rate)
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y *= np.float32(10 ** (PEAK_DBFS / 20) / peak * float(volume))
    if y.size == 0:
        y = np.zeros(1, np.float32)
    return y


def _resampled_faded(x: np.ndarray, engine_rate: int, sample_rate: int) -> np.ndarray:
    """*x* at *sample_rate*, with :data:`FADE_S` raised-cosine fades at both ends (a whole clip's or a unit's)."""
    from .resample import resample

    y = resample(x, engine_rate, sample_rate).astype(np.float32, copy=False)
    n = min(int(round(FADE_S * sample_rate)), y.size // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def finish_unit(x: np.ndarray, engine_rate: int, sample_rate: int, volume: float,
                reference: float) -> np.ndarray:
    """One unit of a clip made in units (Piper's clauses) -> its final samples, never touched again.

    The engine trimmed it already. Resample, :data:`FADE_S` raised-cosine
    fades at both ends, then a gain that depends on this unit alone: the
    one that takes a raw peak of *reference* to :data:`PEAK_DBFS`, or less
    for a unit that would peak above that; times ``volume``. So a unit is
    final the moment it is made (it can be played at once) and a clip is
    exactly its units joined by silence.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size == 0:
        return np.zeros(0, np.float32)
    y = _resampled_faded(x, engine_rate, sample_rate)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0 and np.isfinite(peak):
        target = 10 ** (PEAK_DBFS / 20)
        y *= np.float32(min(target / max(float(reference), 1e-6), target / peak) * float(volume))
    return y


def unit_clip(engine: Engine, text: str, request: dict, params: dict,
              head: Optional[Callable[[np.ndarray, bytes], None]] = None) -> Tuple[np.ndarray, bytes]:
    """A clip made unit by unit (:func:`finish_unit`) and its word-timing trailer.

    Units are joined by their pauses (less the trim margins both keep);
    *head*, if given, gets the first unit's final samples (and its
    trailer: the words spoken in it, the rest at its end) as soon as it
    is made, when more units follow.
    """
    from . import words

    sample_rate = int(request["sample_rate"])
    volume = float(request["volume"])
    reference = float(params.get("peak_reference", 0.6))
    margin = int(round(TRIM_MARGIN_S * sample_rate))
    parts: List[np.ndarray] = []
    sentences: dict = {}
    at, source = 0, "piper-alignment"
    for unit in engine.units(text, request.get("voice"), request.get("language") or "en", params):  # type: ignore[attr-defined]
        y = finish_unit(unit.audio, engine.sample_rate, sample_rate, volume, reference)  # type: ignore[attr-defined]
        if y.size == 0:
            continue
        if parts:
            gap = max(0, int(round(unit.pause * sample_rate)) - 2 * margin)
            parts.append(np.zeros(gap, np.float32))
            at += gap
        offset = at / sample_rate
        sentences.setdefault(unit.sentence, []).extend((offset + a, offset + b) for a, b in unit.groups)
        if unit.source != "piper-alignment":
            source = unit.source
        parts.append(y)
        at += y.size
        if head is not None and len(parts) == 1 and unit.more:
            head(y, words.encode(_spans(text, sentences, y.size, sample_rate), source))
    if not parts:
        return np.zeros(max(1, int(round(0.030 * sample_rate))), np.float32), \
            words.encode(words.estimate(text, max(1, int(round(0.030 * sample_rate)))), "estimate")
    clip = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return clip, words.encode(_spans(text, sentences, clip.size, sample_rate), source)


def _spans(text: str, sentences: dict, count: int, sample_rate: int) -> list:
    """Word spans of a clip of *count* samples from its units' word groups (seconds), by sentence."""
    from . import words

    marks = words.spread(text, [sentences[n] for n in sorted(sentences)])
    if not marks:
        return words.estimate(text, count)
    return words.spans_from_marks(text, marks, count, 0.0, sample_rate)


def trim_bounds(x: np.ndarray, engine_rate: int) -> Optional[Tuple[int, int]]:
    """The part of the engine's output :func:`finish_clip` keeps: ``(first, past-last)``; None if silent."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        return None
    loud = np.flatnonzero(np.abs(x) > peak * 10 ** (TRIM_DB / 20))
    margin = int(round(TRIM_MARGIN_S * engine_rate))
    return max(0, int(loud[0]) - margin), min(x.size, int(loud[-1]) + 1 + margin)


def clip_words(text: str, raw: np.ndarray, engine_rate: int, clip: np.ndarray, sample_rate: int,
               marks: Optional[List[Tuple[int, float]]], source: str) -> bytes:
    """The trailer of word timings for *clip*, made by :func:`finish_clip` from the engine's *raw* output."""
    from . import words

    raw = np.asarray(raw, dtype=np.float32).reshape(-1)
    bounds = trim_bounds(raw, engine_rate)
    if marks is None or bounds is None:
        return words.encode(words.estimate(text, int(clip.size)), "estimate")
    spans = words.spans_from_marks(text, marks, int(clip.size), bounds[0] / engine_rate, sample_rate)
    return words.encode(spans, source)


def handle(engine: Engine, request: dict) -> dict:
    """Answer one request (without its ``id``)."""
    from . import cache

    op = request.get("op", "synth")
    if op == "voices":
        return {"ok": True, "voices": engine.voices()}
    if op != "synth":
        raise RequestError(f"unknown op {op!r}", "protocol")
    text = str(request["text"])
    folder = Path(request["folder"])
    key = str(request["key"])
    params = request.get("params") or {"rate": int(request["rate"])}
    if callable(getattr(engine, "units", None)):
        def head(samples: np.ndarray, trailer: bytes) -> None:
            try:
                temp = cache.write_temp(folder, key, samples, trailer)
            except OSError:
                return  # no head: the player waits for the whole clip, as it always could
            _notify({"head": True, "temp": str(temp), "length": int(samples.size)})

        clip, trailer = unit_clip(engine, text, request, params, head if request.get("head") else None)
    else:
        clip, trailer = _whole_clip(engine, text, request, params, folder)
    try:
        temp = cache.write_temp(folder, key, clip, trailer)
    except OSError as e:
        raise RequestError(f"cannot write into the speech cache folder {folder}: "
                           f"{e.strerror or e}", "cache") from None
    finally:
        give_back_memory()
    return {"ok": True, "temp": str(temp), "length": int(clip.size)}


def give_back_memory() -> None:
    """Return the freed heap to the system after a clip (glibc's ``malloc_trim``; elsewhere nothing).

    A Piper unit's tensors (~37 MB a second of its audio here) are freed
    when it is made, but glibc keeps most of the freed heap: a worker sat
    at 200-260 MB between clips instead of the 143 MB its model needs
    (issue 24). Costs about a millisecond.
    """
    global _trim
    if _trim is None:
        _trim = _no_trim
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                pass
    try:
        _trim(0)
    except Exception:
        pass


def _no_trim(pad: int) -> int:
    return 0


_trim: Optional[Callable[[int], int]] = None


def _whole_clip(engine: Engine, text: str, request: dict, params: dict, folder: Path) -> Tuple[np.ndarray, bytes]:
    """A clip made in one piece (espeak-ng) by :func:`finish_clip`, and its word-timing trailer."""
    from . import cache

    wav = cache.temp_path(folder, ".wav")
    try:
        timed = getattr(engine, "synthesise_words", None)  # a stand-in engine may know only synthesise
        if timed is not None:
            samples, engine_rate, marks, source = timed(text, request.get("voice"),
                                                        request.get("language") or "en", params, wav)
        else:
            samples, engine_rate = engine.synthesise(text, request.get("voice"), request.get("language") or "en",
                                                     params, wav)
            marks, source = None, "estimate"
    finally:
        try:
            os.unlink(wav)
        except OSError:
            pass
    clip = finish_clip(samples, engine_rate, int(request["sample_rate"]), float(request["volume"]))
    return clip, clip_words(text, samples, engine_rate, clip, int(request["sample_rate"]), marks, source)


def _no_notice(message: dict) -> None:
    pass


#: Writes a line about the request being answered (a head, see the module notes); set by :func:`serve`.
_notify: Callable[[dict], None] = _no_notice


def serve(inp: IO[str], out: IO[str], handler: Callable[[dict], dict]) -> None:
    """Read request lines from ``inp``; write one answer line each to ``out``.

    While a request is handled, :data:`_notify` writes a line of its own
    (with the request's id) before the answer.
    """
    global _notify

    for line in inp:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request.get("id")

            def notify(message: dict, rid: object = rid) -> None:
                out.write(json.dumps(dict(message, id=rid)) + "\n")
                out.flush()

            _notify = notify
            try:
                reply = handler(request)
            finally:
                _notify = _no_notice
        except RequestError as e:
            reply = {"ok": False, "error": str(e), "kind": e.kind}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}", "kind": "engine"}
        reply["id"] = rid
        out.write(json.dumps(reply) + "\n")
        out.flush()


def start(out: IO[str], engine: str = "espeak", model: Optional[str] = None,
          threads: int = 1, optimised: Optional[str] = None) -> Optional[Engine]:
    """Load the engine and announce the result on ``out``; None if it cannot be.

    *optimised*: where Piper keeps (or finds) the model's optimised graph.
    """
    return announce(out, lambda: open_engine(engine, model, threads=threads, optimised=optimised))


def announce(out: IO[str], load: Callable[[], Engine]) -> Optional[Engine]:
    """``load()`` the engine and say so on ``out`` (the protocol's first line); None if it cannot be."""
    try:
        loaded = load()
    except EngineMissing as e:
        out.write(json.dumps({"ready": False, "kind": "missing", "error": str(e)}) + "\n")
        out.flush()
        return None
    except ModelError as e:
        out.write(json.dumps({"ready": False, "kind": "model", "error": str(e)}) + "\n")
        out.flush()
        return None
    out.write(json.dumps({"ready": True, "engine": loaded.name, "pid": os.getpid()}) + "\n")
    out.flush()
    return loaded


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m voiceguide.synth.worker")
    ap.add_argument("--engine", choices=ENGINES, default="espeak")
    ap.add_argument("--model", default=None, help="the Piper model (.onnx)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads (Piper)")
    ap.add_argument("--optimised", default=None, help="where Piper keeps the model's optimised graph")
    ap.add_argument("--deferred", action="store_true",
                    help="import first, then read the engine's arguments as the first line (see prestart)")
    ap.add_argument("--wait", type=float, default=10.0, help="--deferred: seconds to wait for that line")
    ap.add_argument("--guess", default=None, help="--deferred: the engine's arguments likely asked for (JSON list)")
    return ap.parse_args(argv)


def preload() -> None:
    """``--deferred``: import what an engine will need (onnxruntime and piper where Piper can be used)."""
    import importlib

    from .budget import piper_plan
    from .engines import piper

    if piper.available() and piper_plan() > 0:
        for module in ("onnxruntime", "piper"):
            try:
                importlib.import_module(module)
            except Exception:  # a broken install: said when the engine loads, if it is ever asked for
                break


def load_guess(guess: Optional[str]) -> Optional[Tuple[List[str], Engine]]:
    """``--guess``: the engine the last session's first worker had, loaded now; None if none or it fails.

    A guess is only ever used when the player then asks for exactly those
    arguments (:func:`main`); a wrong one costs a load and is dropped.
    Only a guess whose saved model lives in this user's speech cache is
    loaded (loading may write one there): the file could have been edited.
    """
    from .cachefolder import default_cache_dir

    if not guess:
        return None
    try:
        engine_args = [str(a) for a in json.loads(guess)]
        wanted = parse_args(engine_args)
        if wanted.optimised is not None and Path(wanted.optimised).parent != default_cache_dir() / "models":
            return None
        return engine_args, open_engine(wanted.engine, wanted.model, threads=wanted.threads,
                                        optimised=wanted.optimised)
    except (ValueError, TypeError, EngineMissing, ModelError, SystemExit):
        return None


def start_asked(out: IO[str], engine_args: List[str],
                guesses: List[Tuple[List[str], Engine]]) -> Optional[Engine]:
    """The engine *engine_args* ask for, announced: the guessed one if it is exactly that, else loaded now.

    *guesses* holds the caller's only reference to a guessed engine (or
    nothing), emptied here: a wrong guess's model is let go before the one
    asked for is loaded.
    """
    guessed = guesses.pop() if guesses else None
    if guessed is not None and guessed[0] == engine_args:
        ready = guessed[1]
        return announce(out, lambda: ready)
    guessed = None
    args = parse_args(engine_args)
    return start(out, args.engine, args.model, args.threads, args.optimised)


def wait_for_engine(wait: float) -> Optional[List[str]]:
    """``--deferred``: the engine's arguments, read as the first line; None if none come.

    The line is ``{"start": [ARG, ...]}`` (the arguments a worker is
    otherwise started with; :mod:`voiceguide.synth.prestart`). Nothing within
    *wait* seconds, end of input or a line that is not that: None, and the
    worker exits.
    """
    import select

    try:
        ready, _, _ = select.select([sys.stdin], [], [], max(0.0, wait))
    except (OSError, ValueError):
        return None
    line = sys.stdin.readline() if ready else ""
    try:
        return [str(a) for a in json.loads(line)["start"]]
    except (ValueError, KeyError, TypeError):
        return None


#: The player's pid, set by the synthesizer when it starts a worker.
PARENT_ENV = "VOICEGUIDE_WORKER_PARENT"


def die_with_parent() -> None:
    """End this worker when the player that started it ends, however it ends.

    A player closes our input when it is done, and we exit at its end; but
    a player killed with SIGKILL, or one whose worker is busy in (or hung
    inside) the engine, never gets that far: see
    :func:`voiceguide.synth.lifetime.die_with_parent` (the parent pid comes
    in :data:`PARENT_ENV`).
    """
    from .lifetime import die_with_parent as end_with

    end_with(int(os.environ.get(PARENT_ENV, "0") or 0) or None, watch=True)


def prepare(args: argparse.Namespace) -> IO[str]:
    """Everything a worker does before loading its engine; returns the protocol stream.

    Ends with the parent (:func:`die_with_parent`), claims stdout, ignores
    Ctrl-C and lowers its own priority.
    """
    die_with_parent()
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
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    out = prepare(args)
    if args.deferred:
        preload()
        guessed = load_guess(args.guess)
        guesses = [guessed] if guessed is not None else []
        del guessed
        engine_args = wait_for_engine(args.wait)
        if engine_args is None:
            return 0
        engine = start_asked(out, engine_args, guesses)
    else:
        engine = start(out, args.engine, args.model, args.threads, args.optimised)
    if engine is None:
        return 3
    serve(sys.stdin, out, lambda request: handle(engine, request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
