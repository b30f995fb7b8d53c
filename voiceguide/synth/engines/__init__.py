"""Speech engines behind one interface: one module per engine, each the only
module that imports its engine's library.

* :mod:`.espeak` -- espeak-ng through pyttsx3 (the only importer of pyttsx3).
* :mod:`.piper` -- Piper neural voices (the only importer of ``piper``).

Every engine module offers two halves:

Parent side (cheap, never loads the engine; the player calls these):
    ``NAME``, ``MISSING_HINT`` and ``identity(choice)`` -- what goes into the
    cache key besides the text: engine name, version and, for Piper, the
    model's hash and every synthesis parameter.
    ``params(choice, rate)`` -- the synthesis parameters for a rate, computed
    once in the parent, put into the cache key *and* sent to the worker, so
    the key and the sound cannot drift apart.

Worker side (in a worker process, :mod:`voiceguide.synth.worker`):
    ``open_engine(model)`` returns an :class:`Engine`, loaded once for the
    process's life and then reused for every request.

Trap: an engine is opened in a worker process only. espeak-ng initialises
once per process and Piper's phonemiser bundles its own copy of espeak-ng; the
two must not share a process, so each worker runs exactly one engine.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Tuple

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only: choosing a voice needs no numpy
    import numpy as np

#: Engine names, in order of preference for a language both can speak.
ENGINES: Tuple[str, ...] = ("piper", "espeak")


def installed_version(dist: str, package: str) -> Optional[str]:
    """The installed version of distribution *dist*, which provides the top-level *package*; None if none.

    Read from the name of the one ``NAME-VERSION.dist-info`` folder beside
    the package, as pip installs it: every cache key needs its engine's,
    and ``importlib.metadata`` costs ~20 ms of the player's start (its
    imports, then a search of every ``sys.path`` entry). Anything else (no
    such folder, two of them, an egg) is asked of ``importlib.metadata``.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        where = os.path.dirname(os.path.dirname(spec.origin))
        prefix = dist.replace("-", "_").lower() + "-"
        try:
            names = [n for n in os.listdir(where) if n.lower().startswith(prefix) and n.endswith(".dist-info")]
        except OSError:
            names = []
        if len(names) == 1:
            return names[0][len(prefix):-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


class EngineMissing(Exception):
    """The engine's library (or the system engine behind it) cannot be loaded."""


class ModelError(Exception):
    """A voice model file is missing, broken or does not match its config."""


class RequestError(Exception):
    """A request that cannot succeed as asked (unknown voice, ...): no retry."""

    def __init__(self, message: str, kind: str = "request"):
        super().__init__(message)
        self.kind = kind


class Engine:
    """What a worker needs from a speech engine; one instance per worker process.

    Subclasses load their engine in ``__init__`` (raising
    :class:`EngineMissing` or :class:`ModelError`) and then synthesise any
    number of texts. They never play sound and never print to stdout.
    """

    #: ``espeak`` or ``piper``.
    name = "?"

    def voices(self) -> List[dict]:
        """``[{"id", "name", "languages", "default"}]`` that this engine offers."""
        raise NotImplementedError

    def synthesise(self, text: str, voice: Optional[str], language: str, params: dict,
                   scratch: Path) -> Tuple[np.ndarray, int]:
        """The engine's raw output for *text*: ``(float samples, sample rate)``.

        *voice* is the engine's own voice id (None: its voice for *language*);
        *params* comes from the engine module's ``params()``; *scratch* is a
        file name the engine may write to (the caller deletes it).
        Leading and trailing silence, level and rate are the caller's job.
        """
        raise NotImplementedError

    def synthesise_words(self, text: str, voice: Optional[str], language: str, params: dict,
                         scratch: Path) -> Tuple[np.ndarray, int, Optional[List[Tuple[int, float]]], str]:
        """:meth:`synthesise` and when each word starts: ``(samples, rate, marks, source)``.

        *marks* are ``(character offset in text, seconds into the samples)``
        (see :mod:`voiceguide.synth.words`), None when the engine cannot
        tell (then the worker estimates them); *source* names where they
        came from. This default knows no timings.
        """
        samples, rate = self.synthesise(text, voice, language, params, scratch)
        return samples, rate, None, "estimate"


def module(name: str) -> ModuleType:
    """The engine module for ``espeak`` or ``piper`` (imports no engine library)."""
    if name not in ENGINES:
        raise ValueError(f"unknown speech engine {name!r}; known: {', '.join(ENGINES)}")
    return importlib.import_module(f"{__name__}.{name}")


def open_engine(name: str, model: Optional[str] = None, threads: int = 1,
                optimised: Optional[str] = None) -> Engine:
    """Load engine *name* in this (worker) process (Piper: its *model*, on *threads* threads,
    its optimised graph kept at *optimised*)."""
    if optimised:
        return module(name).open_engine(model, threads=threads, optimised=optimised)
    return module(name).open_engine(model, threads=threads)
