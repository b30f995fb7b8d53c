"""The ``music`` step: the listener's own piece (``--music FILE``), faded in and out.

It lasts the piece's length (``Placing.music_seconds``, from the file's
header) or its own ``seconds`` if shorter or if no piece is given
(``preview``): the timeline stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Timed, register
from voiceguide.script.grammar import Duration, Key, StepKind
from voiceguide.script.model import Music

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: A music step lasts at most this long (the piece is decoded into memory once, then cached).
MIN_MUSIC, MAX_MUSIC = 10.0, 8 * 60.0
MIN_FADE, MAX_FADE, DEFAULT_FADE = 0.5, 10.0, 3.0


class MusicKind(Kind):
    """The listener's piece: the bed steps back while it plays."""

    name = "music"
    step_type = Music
    ducks = True
    grammar = StepKind("music", Duration("music", positive=True, low=MIN_MUSIC, high=MAX_MUSIC),
                       "the listener's own music, given as play --music FILE: the whole piece, or up to this long",
                       options=(Key("fade", Duration("fade", low=MIN_FADE, high=MAX_FADE),
                                    f"fade in at the start and out at the end (default {DEFAULT_FADE:g}s)"),),
                       example="music: 5m")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Music:
        return Music(seconds=value, source=b.source(node), fade=options.get("fade", DEFAULT_FADE))

    def place(self, step: Music, at: Placing) -> Iterator[Any]:
        seconds = step.seconds if at.music_seconds is None else min(step.seconds, at.music_seconds)
        yield Timed("music", seconds, data=step)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        """The piece, faded in and out over the step's ``fade`` (silence without a piece: ``preview``)."""
        import numpy as np  # here, not above: list and validate load this module and no numpy

        piece = mix.music(event.length)
        if piece is None:
            return
        lo, hi = max(start, event.start), min(start + len(out), event.end)
        if hi <= lo:
            return
        t = np.arange(lo, hi, dtype=np.float64)
        fade = max(1.0, event.data.fade * mix.sample_rate)
        env = mix.fade((t - event.start) / fade) * mix.fade((event.end - t) / fade)
        out[lo - start:hi - start] += piece[lo - event.start:hi - event.start] * env.astype(np.float32)

    def describe(self, event: Sounding) -> str:
        return "(your music, faded in and out)"


KIND = register(MusicKind())
