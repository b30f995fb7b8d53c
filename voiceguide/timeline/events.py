"""Placed events and the questions asked of them by sample position.

A session's sounds are :class:`Event` objects at exact sample positions.
Two kinds of object hold them, and both answer the same questions
(:class:`PlacedEvents`), so the mixer and the player never ask which one
they have:

* :class:`Timeline` -- every event placed at once (``preview``, ``render``,
  ``list``, ``play --from`` and ``play --length``);
* :class:`voiceguide.timeline.place.LazyTimeline` -- events placed as they are
  asked for (``play``: sound starts while later clips are still synthesised).

The questions:

* :meth:`~PlacedEvents.events_until` and :meth:`~PlacedEvents.sounding`: what
  to mix or announce around a position;
* :meth:`~PlacedEvents.length_by`: the session length, once the end is near;
* :meth:`~PlacedEvents.step_at`, :meth:`~PlacedEvents.step_start` and
  :meth:`~PlacedEvents.next_step_start`: skip and back.

Traps:

* On a lazy timeline every question may place more events, and placing an
  event may wait for its clip to be synthesised. Ask from one thread only
  (the mixer thread in ``play``), and ask only as far ahead as you need.
* ``length`` is None on a lazy timeline until its last event was placed;
  :meth:`~PlacedEvents.length_by` answers "does it end by here?" the same way
  for both kinds.
* Step numbers (``Event.step``) grow with time but have gaps: a ``section``
  step, or a pause of zero, places no event. "The step before" is the step of
  the event before, not ``step - 1``.

Nothing here imports numpy: integer sample arithmetic only.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from voiceguide import kinds
from voiceguide.errors import UsageError
from voiceguide.script.model import Source, Voice

__all__ = ["Event", "PlacedEvents", "Timeline"]


@dataclass(frozen=True)
class Event:
    """One sound (or silence) of the session, in samples at the timeline rate.

    A common core and a kind's own payload: ``kind`` names the step kind
    that sounds it (:mod:`voiceguide.kinds`, which the mixer, the status line
    and ``preview --json`` ask what to do with it); ``text`` and ``voice``
    are set on spoken clips (``say`` events, also those a count or a record
    prompt places); ``data`` is whatever the kind placed with it (its step:
    a bell's Bell, a breathing step's Breathe...), None for speech and
    pauses. ``step`` numbers the top-level step the event comes from
    (1-based, as ``preview`` shows it), the target of ``--from`` with a number.
    """

    kind: str
    start: int
    length: int
    source: Source
    section: Optional[str]
    step: int
    text: Optional[str] = None
    voice: Optional[Voice] = None
    data: Any = None

    @property
    def end(self) -> int:
        return self.start + self.length


class PlacedEvents:
    """Events in time order, asked by sample position (see the module notes).

    A subclass sets up the index with :meth:`_index_init` and, when it
    places lazily, overrides :meth:`_place_next`; it provides
    ``sample_rate`` and ``length`` (None until known). Trap: ``length`` is
    not declared here -- an inherited property would become the default of
    :class:`Timeline`'s dataclass field.
    """

    sample_rate: int
    _placed: List[Event]
    _starts: List[int]
    _steps: List[int]
    _longest: int
    _frontier: int

    if TYPE_CHECKING:  # for the type checker only: see the trap above
        @property
        def length(self) -> Optional[int]: ...

    # -- placing (overridden by the lazy timeline) ---------------------------------

    def _index_init(self, events: Sequence[Event] = (), frontier: int = 0) -> None:
        # object.__setattr__: Timeline is a frozen dataclass.
        object.__setattr__(self, "_placed", list(events))
        object.__setattr__(self, "_starts", [e.start for e in events])
        object.__setattr__(self, "_steps", [e.step for e in events])
        object.__setattr__(self, "_longest", max((e.length for e in events), default=0))
        object.__setattr__(self, "_frontier", frontier)

    def _index_add(self, event: Event) -> None:
        self._placed.append(event)
        self._starts.append(event.start)
        self._steps.append(event.step)
        if event.length > self._longest:
            self._longest = event.length

    def _place_next(self) -> bool:
        """Place one more event; False when every event is placed."""
        return False

    def _place_until(self, sample: int) -> None:
        """Place every event that starts at or before *sample* (then the length is known if it is <= *sample*)."""
        while self._frontier <= sample and self._place_next():
            pass

    # -- the questions -----------------------------------------------------------------

    def events_until(self, sample: int) -> Sequence[Event]:
        """Every event that starts before *sample*, in time order."""
        self._place_until(sample)
        return self._placed[:bisect.bisect_left(self._starts, sample)]

    def sounding(self, start: int, end: int) -> List[Event]:
        """The events that sound anywhere in samples ``[start, end)``, in time order."""
        self._place_until(end)
        first = bisect.bisect_left(self._starts, start - self._longest)
        last = bisect.bisect_left(self._starts, end)
        return [event for event in self._placed[first:last] if event.end > start]

    def length_by(self, sample: int) -> Optional[int]:
        """The session length in samples if the session ends at or before *sample*, else None."""
        self._place_until(sample)
        length = self.length
        return length if length is not None and length <= sample else None

    def step_at(self, sample: int) -> Optional[int]:
        """The step heard at *sample*: that of the last event starting at or before it (None before the first)."""
        self._place_until(sample)
        index = bisect.bisect_right(self._starts, sample)
        return self._placed[index - 1].step if index else None

    def step_start(self, step: int) -> Optional[int]:
        """Where step number *step* begins; None when it places no event (a section) or there is none."""
        event = self._first_of_step(step)
        return event.start if event is not None and event.step == step else None

    def next_step_start(self, sample: int) -> Optional[int]:
        """Where the step after the one heard at *sample* begins; None on the last step.

        Before the first event, the step heard is the first one. On a lazy
        timeline this places events until a later step appears (and may wait
        for their clips).
        """
        current = self.step_at(sample)
        if current is None:
            first = self._first_of_step(0)
            if first is None:
                return None
            current = first.step
        event = self._first_of_step(current + 1)
        return event.start if event is not None else None

    def _first_of_step(self, step: int) -> Optional[Event]:
        """The first event whose step number is *step* or later (placing until one appears)."""
        while not self._steps or self._steps[-1] < step:
            if not self._place_next():
                break
        index = bisect.bisect_left(self._steps, step)
        return self._placed[index] if index < len(self._placed) else None


@dataclass(frozen=True)
class Timeline(PlacedEvents):
    """All events of a session, in time order, and its exact length."""

    title: str
    sample_rate: int
    events: Tuple[Event, ...]
    length: int
    language: str = "en"

    def __post_init__(self) -> None:
        self._index_init(self.events, frontier=self.length)

    @property
    def duration(self) -> float:
        return self.length / self.sample_rate

    def says(self) -> List[Event]:
        """The spoken clips, in order."""
        return [e for e in self.events if e.text is not None]

    def sections(self) -> List[Tuple[str, int]]:
        """``(name, start sample)`` of each section, in order."""
        seen: List[Tuple[str, int]] = []
        for event in self.events:
            if event.section is not None and (not seen or seen[-1][0] != event.section):
                seen.append((event.section, event.start))
        return seen

    def start_of(self, target: str) -> int:
        """Sample where ``--from`` *target* begins: a section name or a step number.

        Section names match case-insensitively, and a unique prefix is enough.
        """
        target = target.strip()
        if target.isdigit():
            number = int(target)
            for event in self.events:
                if event.step >= number:
                    return event.start
            raise UsageError(f"--from {target}: there are only {self.events[-1].step} steps")
        sections = self.sections()
        exact = [s for s in sections if s[0].lower() == target.lower()]
        if exact:
            return exact[0][1]
        prefix = [s for s in sections if s[0].lower().startswith(target.lower())]
        if len(prefix) == 1:
            return prefix[0][1]
        names = ", ".join(f'"{name}"' for name, _ in sections) or "none"
        raise UsageError(f'--from "{target}": no such section; sections are {names}, or give a step number')

    def to_json(self, voice_of: Optional[Callable[[Voice], str]] = None) -> dict:
        """The pinned ``preview --json`` shape (see DESIGN.md).

        With *voice_of* (a resolved voice -> its engine-qualified id), say
        events also carry the ``voice`` they are spoken with.
        """
        sr = self.sample_rate
        events = []
        for e in self.events:
            item = {
                "start": round(e.start / sr, 6),
                "end": round(e.end / sr, 6),
                "kind": e.kind,
                "section": e.section,
                "source": str(e.source),
                "step": e.step,
            }
            item.update(kinds.get(e.kind).json(e, voice_of))  # say: text (and voice); bell: bell
            events.append(item)
        return {
            "title": self.title,
            "duration": round(self.duration, 6),
            "sample_rate": sr,
            "events": events,
        }
