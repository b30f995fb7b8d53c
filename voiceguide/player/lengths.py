"""An exercise's length, computed in one place for every surface.

``voiceguide list``, ``GET /api/exercises`` (and so ``voiceguide ctl list``
and the phone page), the station's state before a session's speech is
ready and the practice log's planned length all ask :func:`exercise_length`,
so they cannot disagree: body scan is the same 9:57 everywhere.

The length is *real* when every clip of the exercise is already in the
speech cache (made by a play, a preview, a render or the station's
preparation): the timeline is placed from the cache entries' headers,
exactly as ``play`` will place it. Only when a clip is missing is it an
*estimate* from the words and the rate, and then it says so
(:attr:`Length.estimated`, shown with a ``~``). An estimate is never
passed off as the real length: the practice log records no planned length
from one.

Why here, in ``player``: the real length needs the session's options
(voice, rate, volume, ``--length``) and the cache lookup, which live in
this layer; ``script`` may not import them (see the package map in
docs/design-notes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional

from voiceguide.errors import VoiceguideError

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.player.session import Options
    from voiceguide.script.model import Script


@dataclass(frozen=True)
class Length:
    """A session's length in seconds, and whether it is only an estimate."""

    seconds: float
    estimated: bool

    def text(self) -> str:
        """``7:25``, or ``~7:30`` for an estimate: how every surface writes it."""
        from voiceguide.script.units import format_duration

        return ("~" if self.estimated else "") + format_duration(self.seconds)

    def as_json(self) -> Dict[str, Any]:
        """The API's fields: ``duration`` stays a number of seconds (pinned); ``estimated`` and
        ``duration_text`` (:meth:`text`, so the page and ``ctl`` need not round it themselves) are added."""
        return {"duration": round(self.seconds, 1), "estimated": self.estimated, "duration_text": self.text()}


def exercise_length(script: "Script", options: "Options", lookup: Any = None) -> Length:
    """The length *script* plays for with *options*: real when its speech is cached, else an estimate.

    *lookup* is a :class:`~voiceguide.synth.lookup.CacheLookup` to share
    between many exercises (``list``); one is made when not given. Reading
    the cache needs no worker process and no numpy, so this is quick
    enough for every request of the exercise list. Whatever stops the
    cache from answering (no engine, an unknown voice) leaves the estimate.
    """
    from voiceguide.player.session import Session
    from voiceguide.timeline import estimate

    try:
        timeline = Session(script, options).cached_timeline(lookup)
    except VoiceguideError:
        timeline = None
    if timeline is not None:
        return Length(timeline.duration, False)
    if options.length is not None:
        # A length asked for is reached exactly by stretching the pauses (one that cannot be
        # reached is refused when the session starts), so it is no estimate.
        return Length(options.length, False)
    return Length(estimate(script, options.sample_rate, options.voice).duration, True)


def length_or_none(script: Optional["Script"], options: "Options") -> Optional[Length]:
    """:func:`exercise_length`, or None when there is no script or it cannot be placed at all."""
    if script is None:
        return None
    try:
        return exercise_length(script, options)
    except VoiceguideError:
        return None
