"""What a step kind is: one class with a hook for every stage, and the registry of kinds.

Why one class per kind: a kind used to be spread over fourteen modules
(``isinstance`` chains in the loader's builders, lint, limits, the
timeline's flattening and placing, the mixer, the status line, the page,
captions...). Now every stage asks the kind, found by name (``get``) or by
the type of its step (``of``), and a new kind is one module plus
``register(MyKind())`` -- see "Adding a step kind" in docs/design-notes.md.

The hooks, in the order the data flows:

* **read**: :attr:`Kind.grammar` (its row of the grammar table: value,
  options, docs, JSON Schema) and :meth:`Kind.build` (value and options,
  already read and valid, to the step);
* **check**: :meth:`Kind.min_seconds` (the loader's length limit) and
  :meth:`Kind.inner` (a kind that holds steps: repeat);
* **place**: :meth:`Kind.place` yields :class:`Spoken` and :class:`Timed`
  pieces; the timeline turns them into events, and an event carries its
  kind's name, its :attr:`~voiceguide.timeline.Event.data` (usually the step
  itself) and, when spoken, its text and voice;
* **sound**: :meth:`Kind.sound` adds the event to the mixer's block through
  :class:`Mixing`, the mixer's services (this package is below the audio
  stage, so it is handed them instead of importing them; numpy, when a
  hook needs it, is imported inside the hook: ``list`` and ``validate``
  load this package and no numpy);
* **show**: :meth:`Kind.describe` (the status line, the page's text),
  :meth:`Kind.live` (the text while it plays on), :meth:`Kind.page` (what the
  web page animates), :meth:`Kind.caption`, :meth:`Kind.json` (``preview
  --json``'s extra keys, pinned);
* **advise**: :meth:`Kind.advice` and :meth:`Kind.silences` for ``validate
  --lint``.

Every hook has a default that fits a kind which takes time and sounds like
nothing in particular, so a new kind overrides only what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Protocol,
                    Sequence, Tuple)

from voiceguide.script.model import Source, Voice

if TYPE_CHECKING:  # pragma: no cover - for annotations only: no timeline or audio import at run time
    import numpy as np
    from yaml.nodes import Node

    from voiceguide.script.build import ScriptBuilder
    from voiceguide.script.grammar import StepKind

__all__ = ["Kind", "Mixing", "Placing", "Sounding", "Spoken", "Timed", "find", "get", "kinds", "names", "of",
           "played", "register", "written"]


# --- what a kind places ------------------------------------------------------------------


@dataclass(frozen=True)
class Spoken:
    """A clip of speech: its length comes from the synthesizer (``clip_length``).

    ``slot`` is the least time from its onset to the next (a count's one
    second); ``kind`` is the event's kind (``say``: every spoken clip is a
    say event in ``preview --json``, pinned).
    """

    text: str
    voice: Voice
    slot: float = 0.0
    kind: str = "say"


@dataclass(frozen=True)
class Timed:
    """A piece of a written length: a pause, a bell, a breathing step...

    ``stretch`` is None for a fixed piece, or the weight with which
    ``--length`` stretches it (a pause; 0 = fixed but still counted as a
    pause). ``data`` travels to the event unchanged (the mixer and the status
    line read it): usually the step itself.
    """

    kind: str
    seconds: float
    stretch: Optional[float] = None
    data: Any = None


Piece = Any  # Spoken | Timed (a Union would need both above; kept loose for placing hooks)


class Sounding(Protocol):
    """What the hooks read of a placed event (a ``voiceguide.timeline.Event``).

    A protocol, not the class: this package sits below the timeline, which
    imports it, so it never imports the timeline (not even for annotations).
    """

    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def source(self) -> Source: ...
    @property
    def step(self) -> int: ...
    @property
    def text(self) -> Optional[str]: ...
    @property
    def voice(self) -> Optional[Voice]: ...
    @property
    def data(self) -> Any: ...


class Placing(Protocol):
    """What :meth:`Kind.place` is handed by the timeline (``timeline.place.flatten``)."""

    #: The script's language (a count speaks its numbers in it).
    language: str
    #: The length of the listener's piece of music (``--music``), None without one.
    music_seconds: Optional[float]

    def voice(self, own: Optional[Voice] = None) -> Voice:
        """The voice a clip speaks with: the options over *own* over the script's over the defaults."""

    def section(self, name: str) -> None:
        """The steps placed from now on belong to section *name*."""

    def steps(self, steps: Sequence[Any]) -> None:
        """Place *steps* here (a repeat's), numbered as the step that holds them."""


class Mixing(Protocol):
    """The mixer's services a :meth:`Kind.sound` hook may use (``audio.mixer.Mixer`` provides them)."""

    sample_rate: int

    def add(self, out: "np.ndarray", start: int, buf: "np.ndarray", at: int, gain: float = 1.0) -> None:
        """``out += gain * buf`` with *buf* placed at absolute sample *at* (clipped to the block)."""

    def gain(self, db: float) -> float:
        """dB to a linear gain."""

    def clip(self, event: Sounding) -> "np.ndarray":
        """The spoken clip of a say event (exactly ``event.length`` samples)."""

    def bell(self, name: str) -> "np.ndarray":
        """A bell's whole ring (``bowl``, ``chime``, ``gong``)."""

    def pacer(self, inhale: float, hold: float, exhale: float, hold_out: float) -> "np.ndarray":
        """One cycle of the breathing pacer's tone."""

    def tick(self) -> "np.ndarray":
        """One walking tick."""

    def cue_tone(self) -> "np.ndarray":
        """The record step's soft tone."""

    def music(self, length: int) -> "Optional[np.ndarray]":
        """The listener's piece, *length* samples (None without one: ``preview``)."""

    def fade(self, x: "np.ndarray") -> "np.ndarray":
        """The raised-cosine fade shape: 0 at or below 0, 1 at or above 1."""


# --- the kind ---------------------------------------------------------------------------------


class Kind:
    """One step kind: every stage's hook (see the module notes); subclass and :func:`register`."""

    #: The kind's key in a script (``say``) and the name of its events.
    name: str = ""
    #: The model class of its steps (a frozen dataclass with a ``source``).
    step_type: type = object
    #: Its row of the grammar table (value, options, doc, example).
    grammar: "StepKind"
    #: True when its events hold the ambient bed down, as speech does.
    ducks: bool = False
    #: True when its events show nothing on the status line (the words before stay).
    silent: bool = False
    #: True for a step that takes no time and only marks a place (a section): lint sees through it.
    marker: bool = False

    # -- read -------------------------------------------------------------------------------

    def build(self, b: "ScriptBuilder", node: "Node", value_node: "Node", value: Any,
              options: Dict[str, Any]) -> Any:
        """The step, from its value and options (already read and valid); ``b.source(node)`` is its Source."""
        raise NotImplementedError(self.name)

    def missing(self, option: str) -> str:
        """The error when a required option is missing (before the step is built)."""
        return f"{self.name} needs '{option}:'"

    # -- check ------------------------------------------------------------------------------

    def min_seconds(self, step: Any, script_rate: Optional[int]) -> float:
        """A lower bound of how long *step* lasts (the loader's length limit); 0 for a marker."""
        return 0.0

    def inner(self, step: Any) -> Optional[Tuple[int, Sequence[Any]]]:
        """``(times, steps)`` for a kind that holds steps (repeat), else None."""
        return None

    # -- place ------------------------------------------------------------------------------

    def place(self, step: Any, at: Placing) -> Iterator[Piece]:
        """The pieces *step* places, in order (nothing for a marker)."""
        return iter(())

    # -- sound ------------------------------------------------------------------------------

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        """Add *event* to *out*, the block of samples ``[start, start + len(out))``; silence by default."""

    # -- show -------------------------------------------------------------------------------

    def describe(self, event: Sounding) -> str:
        """The status line's words while *event* sounds (and the page's ``text``)."""
        return "(silence)"

    def live(self, event: Sounding, into: float) -> Optional[str]:
        """Words that change while *event* plays on, *into* seconds after it began (None: ``describe``)."""
        return None

    def page(self, event: Sounding) -> Optional[Tuple[str, Dict[str, Any]]]:
        """``(key, values)`` the web page animates while *event* sounds (the station's state), or None."""
        return None

    def caption(self, event: Sounding) -> Optional[str]:
        """The caption of *event* (spoken words), or None."""
        return event.text

    def json(self, event: Sounding, voice_of: Optional[Callable[[Voice], str]]) -> Dict[str, Any]:
        """Keys ``preview --json`` adds for *event* after the common ones (the shape is pinned)."""
        return {}

    def capture_seconds(self, event: Sounding) -> Optional[float]:
        """Seconds of the listener's answer ``play`` records during *event* (None: nothing is recorded)."""
        return None

    # -- advise -----------------------------------------------------------------------------

    def silences(self, step: Any) -> Iterator[Optional[float]]:
        """What the listener hears of *step*, for lint: seconds of silence, or None for a sound."""
        yield None

    def said(self, step: Any) -> Optional[str]:
        """The words *step* says to the listener, for lint's advice about wording."""
        return None

    def advice(self, step: Any, before: Any, script: Any) -> Iterator[Tuple[Source, str]]:
        """Advice about *step* as written in *script*; *before*: the step before it in its list (None first).

        Markers (sections) are skipped when finding *before*: to the listener
        they are not there.
        """
        return iter(())


# --- the registry --------------------------------------------------------------------------------

_BY_NAME: Dict[str, Kind] = {}
_BY_TYPE: Dict[type, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add *kind* (after the built-in ones); its name and step type must be new."""
    if not kind.name or kind.name in _BY_NAME or kind.name == "include":
        raise ValueError(f"step kind {kind.name!r} is already registered (or has no name)")
    if kind.step_type in _BY_TYPE:
        raise ValueError(f"{kind.step_type.__name__} steps already belong to {_BY_TYPE[kind.step_type].name}")
    if kind.grammar.name != kind.name:
        raise ValueError(f"step kind {kind.name!r} has the grammar row of {kind.grammar.name!r}")
    _BY_NAME[kind.name] = kind
    _BY_TYPE[kind.step_type] = kind
    return kind


def unregister(name: str) -> None:
    """Forget kind *name* (a test's own kind, when the test ends)."""
    kind = _BY_NAME.pop(name)
    del _BY_TYPE[kind.step_type]


def get(name: str) -> Kind:
    """The kind named *name* (KeyError for an unknown one: events are made only of registered kinds)."""
    return _BY_NAME[name]


def of(step: Any) -> Kind:
    """The kind of a step object."""
    return _BY_TYPE[type(step)]


def kinds() -> List[Kind]:
    """Every registered kind, in the order they were registered (errors and docs list them so)."""
    return list(_BY_NAME.values())


def names() -> Tuple[str, ...]:
    """Every registered kind's name, in order."""
    return tuple(_BY_NAME)


# --- walking steps ---------------------------------------------------------------------------------


def played(steps: Iterable[Any]) -> Iterator[Any]:
    """The steps as they play: steps that hold steps (repeat) expanded, everything else as written."""
    for step in steps:
        held = of(step).inner(step)
        if held is None:
            yield step
        else:
            times, inner = held
            for _ in range(times):
                yield from played(inner)


def written(steps: Iterable[Any]) -> Iterator[Any]:
    """Every step as written, in file order: a repeat, then its steps once."""
    for step in steps:
        yield step
        held = of(step).inner(step)
        if held is not None:
            yield from written(held[1])


def find(steps: Iterable[Any], name: str) -> List[Any]:
    """The steps of kind *name*, as written, in file order (the music steps, the breathing steps...)."""
    kind = _BY_NAME.get(name)
    return [] if kind is None else [s for s in written(steps) if isinstance(s, kind.step_type)]
