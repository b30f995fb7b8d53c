"""Script -> timeline: every sound of a session at an exact sample position.

The timeline is a pure function of the script, the length of each spoken
clip and the options (``--length``). The same timeline drives ``preview``,
``render`` and ``play``, so what you preview is what you hear.

Clip lengths come from a callable, so the same code serves three callers:

* ``preview`` and ``render`` pass the synthesizer's real lengths;
* ``list`` passes :func:`estimate_speech_samples` (no engine, no numpy);
* ``play`` places a :class:`LazyTimeline` as the mixer asks: an event's
  position needs only the lengths of the clips before it, so playback can
  start while later clips are still being synthesised.

Both :class:`LazyTimeline` and the :class:`~voiceguide.timeline.events.Timeline`
that :func:`compile_timeline` returns answer the same questions
(:class:`~voiceguide.timeline.events.PlacedEvents`).

Trap: with ``--length`` every clip length is needed before the first event
can be placed (the stretch factor depends on the total amount of speech), so
a :class:`LazyTimeline` asks for all of them up front in that case.

Nothing here imports numpy: integer sample arithmetic only.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union, cast

from voiceguide import kinds
from voiceguide.errors import UsageError
from voiceguide.kinds import Spoken, Timed
from voiceguide.script.model import DEFAULT_RATE, DEFAULT_VOLUME, MAX_SESSION_SECONDS, Script, Source, Voice
from voiceguide.script.units import format_duration
from voiceguide.timeline.events import Event, PlacedEvents, Timeline

SAMPLE_RATE = 48_000

#: No stretchable pause is shrunk below this (or below its written length
#: when that is shorter): a listener needs a breath between sentences.
PAUSE_FLOOR_SECONDS = 0.5

#: The kind of the silent events placed while a late clip is synthesised (``play`` only).
WAIT_KIND = "pause"

ClipLength = Callable[[str, Voice], int]
"""``clip_length(text, voice) -> samples``; ``voice`` is fully resolved."""


# --- flattening ----------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """A piece a step kind placed (:class:`~voiceguide.kinds.Spoken` or
    :class:`~voiceguide.kinds.Timed`), with where it came from, before positions."""

    source: Source
    section: Optional[str]
    step: int
    piece: Union[Spoken, Timed]

    @property
    def kind(self) -> str:
        return self.piece.kind

    @property
    def text(self) -> Optional[str]:
        """The words of a spoken piece (None for any other)."""
        return self.piece.text if isinstance(self.piece, Spoken) else None

    @property
    def voice(self) -> Optional[Voice]:
        return self.piece.voice if isinstance(self.piece, Spoken) else None

    @property
    def seconds(self) -> float:
        return self.piece.seconds if isinstance(self.piece, Timed) else 0.0

    @property
    def stretch(self) -> float:
        return (self.piece.stretch or 0.0) if isinstance(self.piece, Timed) else 0.0


def resolve_voice(script: Script) -> Voice:
    """The script's voice over the program defaults."""
    return script.voice.over(Voice(rate=DEFAULT_RATE, volume=DEFAULT_VOLUME))


class _Placing:
    """What a kind's :meth:`~voiceguide.kinds.Kind.place` is handed (:class:`voiceguide.kinds.Placing`)."""

    def __init__(self, script: Script, override: Optional[Voice], music_seconds: Optional[float]):
        self.language = script.language
        self.music_seconds = music_seconds
        self.items: List[_Item] = []
        self._session = resolve_voice(script)
        self._top = override or Voice()
        self._section: Optional[str] = None
        self._number: Optional[int] = None  # the top-level step being placed (a repeat's steps share it)

    def voice(self, own: Optional[Voice] = None) -> Voice:
        """Voice precedence, strongest first: the options, the step's own, the script's, the defaults."""
        return self._top.over(self._session if own is None else own.over(self._session))

    def section(self, name: str) -> None:
        self._section = name

    def steps(self, steps: Sequence[Any]) -> None:
        top = self._number
        for index, step in enumerate(steps, start=1):
            number = index if top is None else top
            self._number = number
            for piece in kinds.of(step).place(step, self):
                self.items.append(_Item(step.source, self._section, number, piece))
            self._number = top


def flatten(script: Script, override: Optional[Voice] = None,
            music_seconds: Optional[float] = None) -> List[_Item]:
    """Every step's pieces in playing order (repeats and counts expanded by their kinds), sections attached.

    Voice precedence, strongest first: *override* (command-line options), the
    step's own settings, the script's ``voice:``, the program defaults.
    *music_seconds* is the length of the listener's piece (``--music``); a
    music step lasts that long, or its own ``seconds`` if that is shorter
    (or if no piece is given: ``preview`` without ``--music``).
    """
    placing = _Placing(script, override, music_seconds)
    placing.steps(script.steps)
    return placing.items


# --- stretching ----------------------------------------------------------------


def _pause_plan(pauses: Sequence[_Item], fixed: int, target: int, sr: int,
                title: str) -> List[int]:
    """Pause lengths in samples so that ``fixed + sum(pauses) == target`` exactly.

    Each pause changes in proportion to ``stretch * written length``; when
    shrinking, none goes below :data:`PAUSE_FLOOR_SECONDS` (or its own
    written length if shorter). Rounding leftovers go to the largest
    stretchable pauses so the total is exact to the sample.
    """
    written = [round(p.seconds * sr) for p in pauses]
    weights = [p.stretch * w for p, w in zip(pauses, written)]
    floors = [min(w, round(PAUSE_FLOOR_SECONDS * sr)) if p.stretch > 0 else w
              for p, w in zip(pauses, written)]
    minimum = fixed + sum(floors)
    stretchable = sum(weights) > 0
    maximum = round(MAX_SESSION_SECONDS * sr) if stretchable else fixed + sum(written)
    if not (minimum <= target <= maximum):
        low, high = format_duration(minimum / sr), format_duration(maximum / sr)
        if minimum == maximum:
            raise UsageError(f"--length {format_duration(target / sr)} cannot be reached: "
                             f'"{title}" has no stretchable pauses and always lasts {low}')
        raise UsageError(f"--length {format_duration(target / sr)} cannot be reached: "
                         f'"{title}" can last from {low} to {high}')

    def lengths(k: float) -> List[float]:
        return [max(f, w + k * wt) for w, wt, f in zip(written, weights, floors)]

    need = target - fixed
    lo, hi = -1.0, 1.0
    while sum(lengths(hi)) < need:
        hi *= 2.0
    for _ in range(200):  # bisection on a monotonic function; 200 halvings is exact in float
        mid = (lo + hi) / 2.0
        if sum(lengths(mid)) < need:
            lo = mid
        else:
            hi = mid
    exact = lengths(hi)
    result = [int(x) for x in exact]
    leftover = need - sum(result)
    order = sorted(range(len(result)), key=lambda i: (-(exact[i] - result[i]), -weights[i]))
    for i in order:
        if leftover == 0:
            break
        if weights[i] > 0:
            step = 1 if leftover > 0 else -1
            result[i] += step
            leftover -= step
    if leftover:  # pragma: no cover - guarded by the range check above
        raise UsageError("--length could not be met to the sample")
    return result


# --- placing -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClipPart:
    """A say event's ``data`` when it holds only part of its clip: the samples from *offset* on.

    ``play`` on a cold cache (issue 24): the clip's first unit (a clause,
    :meth:`voiceguide.synth.Synthesizer.head`) is placed as soon as it is
    made, as a say event of its own (offset 0), and the rest of the clip
    when it is done, as a second say event (offset = the head's length)
    right after it -- or after silent waits, if the rest is late. The two
    parts are exactly the clip ``render`` uses, cut in two.
    """

    offset: int


class LazyTimeline(PlacedEvents):
    """The session's events in time order, placed one by one as they are asked for.

    Ask it the :class:`~voiceguide.timeline.events.PlacedEvents` questions, or
    iterate it for every event. Once the last event is placed, :attr:`length`
    is the exact session length in samples (the end of the last item,
    including the silent tail of a count's last one-second slot).
    *clip_length* is called in order, once per spoken clip, only when that
    event is placed -- unless *length* (``--length``) is given, which needs
    every clip's length first.

    With *ready* (``play`` only; ``ready(text, voice) -> bool``), a spoken
    clip that is not synthesised yet when it is due is waited for with
    silent ``pause`` events of *wait* seconds (belonging to the spoken
    step), so the pause before it grows instead of the sound stalling or
    words being cut. :attr:`waits` records ``(step, samples)`` per step
    that waited. With a warm cache nothing ever waits, and the events are
    exactly those of the whole timeline.

    With *head* as well (``head(text, voice, wait) -> samples or None``,
    see :class:`ClipPart`), a clip that is not ready but whose first unit
    is starts sounding with that unit; :meth:`place_first` waits for the
    first unit rather than the whole first clip.

    Trap: "due" must mean *about to sound*. The mixer also asks far ahead
    (``length_by`` several seconds on, to start the ambient fade-out in
    time); a wait placed for such a question would be silence the clip did
    not need. So only :meth:`sounding` (and iteration) fills with waits;
    the other questions stop at a clip that is not ready (``length_by``
    then answers "not before"), and looking for the next step (a skip)
    waits for the clip itself, as it always did.
    """

    def __init__(self, script: Script, clip_length: ClipLength, *,
                 sample_rate: int = SAMPLE_RATE, length: Optional[float] = None,
                 voice: Optional[Voice] = None, music_seconds: Optional[float] = None,
                 ready: Optional[Callable[[str, Voice], bool]] = None, wait: float = 0.1,
                 head: Optional[Callable[[str, Voice, float], Optional[int]]] = None):
        self.script = script
        self._head = head
        self.sample_rate = sample_rate
        self.waits: List[Tuple[int, int]] = []
        self._ready = ready
        self._wait = max(1, _seconds_to_samples(wait, sample_rate))
        self._clip_length = clip_length
        self._target = length
        self._items = flatten(script, voice, music_seconds)
        self._index_init()
        self._finished = False
        self._mode = "stop"    # at a clip not ready: "stop", "fill" (with waits), "block" or "first" (its head)
        self._pending: Iterator[object] = self._place()

    @property
    def length(self) -> Optional[int]:
        """The session length in samples once every event is placed, else None."""
        return self._frontier if self._finished else None

    def __iter__(self) -> Iterator[Event]:
        index = 0
        while True:
            while index < len(self._placed):
                yield self._placed[index]
                index += 1
            with self._placing("fill"):
                if not self._place_next():
                    return

    def sounding(self, start: int, end: int) -> List[Event]:
        with self._placing("fill"):
            return super().sounding(start, end)

    def _first_of_step(self, step: int) -> Optional[Event]:
        with self._placing("block"):
            return super()._first_of_step(step)

    def place_first(self) -> None:
        """Place the first event, waiting for its clip if the session begins with speech.

        ``play`` calls this before its device starts: a wait there costs no
        sound, while silent waits would be played through by a device that
        is still starting (slowly, on PulseAudio).
        """
        if not self._placed:
            with self._placing("first" if self._head is not None else "block"):
                self._place_next()

    @contextmanager
    def _placing(self, mode: str) -> Iterator[None]:
        before, self._mode = self._mode, mode
        try:
            yield
        finally:
            self._mode = before

    def _place_next(self) -> bool:
        if self._finished:
            return False
        event = next(self._pending, None)
        if event is None:
            self._finished = True
            return False
        if event is _NOT_READY:
            return False
        self._index_add(cast(Event, event))
        return True

    def _place(self) -> Iterator[object]:
        """Events in order (or ``_NOT_READY``); ``_frontier`` is where the next one starts (the end, after the last)."""
        sr, items, clip_length = self.sample_rate, self._items, self._clip_length
        pause_lengths: Dict[int, int] = {}
        if self._target is not None:
            # A piece with a stretch weight is a pause: --length stretches those (a weight of 0: fixed).
            pauses = [(i, it) for i, it in enumerate(items)
                      if isinstance(it.piece, Timed) and it.piece.stretch is not None]
            fixed = 0
            for it in items:
                if isinstance(it.piece, Spoken):
                    fixed += max(clip_length(it.piece.text, it.piece.voice), _seconds_to_samples(it.piece.slot, sr))
                elif it.piece.stretch is None:
                    fixed += _seconds_to_samples(it.piece.seconds, sr)
            plan = _pause_plan([it for _, it in pauses], fixed,
                               _seconds_to_samples(self._target, sr), sr, self.script.title)
            pause_lengths = {i: n for (i, _), n in zip(pauses, plan)}

        for index, it in enumerate(items):
            common: Dict[str, Any] = dict(source=it.source, section=it.section, step=it.step)
            at = self._frontier
            piece = it.piece
            if isinstance(piece, Spoken):
                text, voice = piece.text, piece.voice
                done = 0  # samples of the clip placed already (its head)
                if self._ready is not None and self._target is None:
                    waited = 0
                    while self._mode != "block" and not self._ready(text, voice):
                        if not done and self._head is not None:
                            n = self._head(text, voice, 0.05 if self._mode == "first" else 0.0)
                            if n:
                                self._frontier = at + n
                                yield Event(piece.kind, at, n, text=text, voice=voice, data=ClipPart(0), **common)
                                at, done = self._frontier, n
                                continue
                        if self._mode == "first":
                            continue            # waited in head(); look again
                        if self._mode == "stop":
                            yield _NOT_READY    # asked again later, from here
                            continue
                        self._frontier = at + self._wait
                        yield Event(WAIT_KIND, at, self._wait, **common)
                        at, waited = self._frontier, waited + self._wait
                    if waited:
                        self.waits.append((it.step, waited))
                clip = clip_length(text, voice)
                slot = _seconds_to_samples(piece.slot, sr)
                if done:
                    self._frontier = at + max(clip - done, slot - done)
                    if clip > done:
                        yield Event(piece.kind, at, clip - done, text=text, voice=voice, data=ClipPart(done),
                                    **common)
                    continue
                self._frontier = at + max(clip, slot)
                yield Event(piece.kind, at, clip, text=text, voice=voice, **common)
                continue
            n = pause_lengths.get(index, _seconds_to_samples(piece.seconds, sr))
            if n <= 0:
                continue
            self._frontier = at + n
            yield Event(piece.kind, at, n, data=piece.data, **common)


#: Yielded by :meth:`LazyTimeline._place` for "a clip is not ready; ask again later".
_NOT_READY = object()


def compile_timeline(script: Script, clip_length: ClipLength, *,
                     sample_rate: int = SAMPLE_RATE, length: Optional[float] = None,
                     voice: Optional[Voice] = None, music_seconds: Optional[float] = None) -> Timeline:
    """The whole timeline at once (``preview``, ``render``, ``list``)."""
    lazy = LazyTimeline(script, clip_length, sample_rate=sample_rate, length=length, voice=voice,
                        music_seconds=music_seconds)
    events = tuple(lazy)
    return Timeline(script.title, sample_rate, events, cast(int, lazy.length), script.language)  # known: all placed


#: The most samples a length is taken as: far past any session (``--length`` of 10**300 hours is
#: refused as "cannot be reached", never an OverflowError in ``int(round(inf))``).
_MOST_SAMPLES = 1 << 62


def _seconds_to_samples(seconds: float, sr: int) -> int:
    samples = seconds * sr
    return _MOST_SAMPLES if not samples < _MOST_SAMPLES else int(round(samples))


# --- estimates (no engine) -----------------------------------------------------------------


def estimate_speech_samples(text: str, voice: Voice, sample_rate: int = SAMPLE_RATE) -> int:
    """A fair guess of a clip's length from its words and rate, for ``list``.

    espeak-ng speaks close to its nominal words per minute; sentence ends
    add a little. Good to a few percent over a whole session.
    """
    words = max(1, len(text.split()))
    rate = voice.rate or DEFAULT_RATE
    seconds = words * 60.0 / rate + 0.15 * text.count(".") + 0.1
    return int(round(seconds * sample_rate))


def estimate(script: Script, sample_rate: int = SAMPLE_RATE, voice: Optional[Voice] = None) -> Timeline:
    """The timeline with estimated speech lengths: instant, no audio stack (*voice*: the settings' override)."""
    return compile_timeline(script, lambda text, v: estimate_speech_samples(text, v, sample_rate),
                            sample_rate=sample_rate, voice=voice)
