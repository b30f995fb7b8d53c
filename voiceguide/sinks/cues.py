"""Caption cues as people read them: two short lines at most, on screen while the words are said.

The rules (the usual subtitle guidelines, BBC and Netflix alike):

* a cue holds at most :data:`MAX_LINES` lines of at most :data:`MAX_CHARS`
  characters (a single word longer than a line is the only exception:
  words are never cut);
* it is shown for :data:`MIN_SECONDS` to :data:`MAX_SECONDS`, and cues never
  overlap;
* it breaks where the sense does: after a sentence, then after a comma,
  semicolon, colon or dash, then before a conjunction or preposition
  ("and", "or", "with", "into", ...), and elsewhere only when nothing
  else fits; one line when the words fit on one, and no line of a single
  word when another break is possible;
* it starts when its first word is spoken (the word timings kept with each
  clip, :mod:`voiceguide.synth.words`) and stays up to :data:`HOLD_SECONDS`
  after its last word, or until the next cue.

How: within one spoken clip, a shortest path over the word boundaries
(:func:`split`) -- each possible cue costs its break's quality plus
penalties for a cue too short to read or too fleeting -- then each cue's
two lines the same way (:func:`layout`). Across the session,
:func:`place` makes the times honest: never before the previous cue ends,
never shorter than a second or longer than seven.

Pure: no numpy, no engine. The station's "now speaking" line shows the
cue being spoken (:func:`current`), the captions file all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from voiceguide import kinds
from voiceguide.synth.words import Span, estimate, tokens

MAX_CHARS = 42
MAX_LINES = 2
MIN_SECONDS = 1.0
MAX_SECONDS = 7.0
#: A cue stays up this long after its last word ends (reading lags listening), if nothing follows.
HOLD_SECONDS = 0.6
#: A cue of fewer characters than this is hard to take in before it goes (unless the clip is that short).
SHORT_CHARS = 16

#: Words a line or a cue may begin with: a break before them follows the sense.
BREAK_BEFORE = frozenset("""
and but or nor so yet for because although though while whereas if unless until when whenever where
wherever as since than that which who whom whose before after once
about above across against along among around at behind below beneath beside between beyond by down
during except from in inside into like near of off on onto out outside over past through throughout
to toward towards under underneath upon with within without
""".split())

_SENTENCE_END = ".!?\u2026"
_CLAUSE_END = ",;:\u2014\u2013"
_CLOSERS = "\"')]}\u201d\u2019"


@dataclass(frozen=True)
class Cue:
    """One caption: shown from *start* to *end* (samples), as *lines*."""

    start: int
    end: int
    lines: Tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _closing(word: str) -> str:
    stripped = word.rstrip(_CLOSERS)
    return stripped[-1:] if stripped else ""


def break_cost(words: Sequence[str], i: int) -> float:
    """How badly a break between ``words[i - 1]`` and ``words[i]`` cuts the sense (0 = after a sentence)."""
    if i <= 0 or i >= len(words):
        return 0.0
    end = _closing(words[i - 1])
    if end in _SENTENCE_END:
        return 0.0
    if end in _CLAUSE_END or words[i] in ("-", "\u2013", "\u2014"):
        return 1.0
    if words[i].strip(_CLOSERS + "\"'(\u201c\u2018").lower() in BREAK_BEFORE:
        return 2.5
    return 6.0


def _width(words: Sequence[str]) -> int:
    return sum(len(w) for w in words) + max(0, len(words) - 1)


def layout(words: Sequence[str]) -> Optional[Tuple[str, ...]]:
    """The best one or two lines for *words*, each within :data:`MAX_CHARS`; None if they do not fit.

    One line whenever the words fit on one. Else the break that best
    follows the sense, lines not too unequal, and no single-word line when
    another break fits.
    """
    if not words:
        return None
    if _width(words) <= MAX_CHARS or len(words) == 1:
        return (" ".join(words),)
    best: Optional[Tuple[float, int]] = None
    for k in range(1, len(words)):
        top, bottom = _width(words[:k]), _width(words[k:])
        if top > MAX_CHARS or bottom > MAX_CHARS:
            continue
        cost = break_cost(words, k) + abs(top - bottom) / MAX_CHARS * 2.0
        if k == 1 or k == len(words) - 1:
            cost += 8.0  # an orphan: one word alone on its line
        if best is None or cost < best[0]:
            best = (cost, k)
    if best is None:
        return None
    k = best[1]
    return " ".join(words[:k]), " ".join(words[k:])


def split(words: Sequence[str], spans: Sequence[Span], sample_rate: int) -> List[Tuple[int, int]]:
    """The clip's words as cues: ``[(first word, past-last word)]``, covering every word in order.

    Each cue fits :func:`layout` and is spoken within :data:`MAX_SECONDS`
    (a single word always fits); among those, the fewest bad breaks, short
    cues and fleeting cues.
    """
    n = len(words)
    if n == 0:
        return []
    max_span = MAX_SECONDS * sample_rate
    inf = float("inf")
    best: List[float] = [0.0] + [inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            width = _width(words[i:j])
            if j - i > 1 and (width > MAX_LINES * MAX_CHARS + 1
                              or spans[j - 1][1] - spans[i][0] > max_span):
                break  # longer cues (smaller i) only grow
            if best[i] == inf:
                continue
            if j - i > 1 and layout(words[i:j]) is None:
                continue
            seconds = (spans[j - 1][1] - spans[i][0]) / sample_rate
            cost = best[i] + 2.0 + break_cost(words, j)
            if width < SHORT_CHARS and not (i == 0 and j == n):
                cost += (SHORT_CHARS - width) / SHORT_CHARS * 6.0
            if seconds < MIN_SECONDS and not (i == 0 and j == n):
                cost += (MIN_SECONDS - seconds) * 6.0
            if cost < best[j]:
                best[j], back[j] = cost, i
    out: List[Tuple[int, int]] = []
    j = n
    while j > 0:
        out.append((back[j], j))
        j = back[j]
    out.reverse()
    return out


def clip_cues(text: str, spans: Optional[Sequence[Span]], start: int, length: int,
              sample_rate: int) -> List[Cue]:
    """The cues of one spoken clip that starts at sample *start*, before :func:`place` times them.

    *spans* are its words' timings in the clip (None: estimated from the
    text over *length* samples). A cue starts with its first word and ends
    with its last.
    """
    words = tokens(text)
    if not words:
        return []
    if spans is None or len(spans) != len(words):
        spans = estimate(text, length)
    cues = []
    for i, j in split(words, spans, sample_rate):
        lines = layout(words[i:j]) or (" ".join(words[i:j]),)
        cues.append(Cue(start + spans[i][0], start + spans[j - 1][1], lines))
    return cues


def place(cues: Sequence[Cue], sample_rate: int) -> List[Cue]:
    """*cues* (in order) timed for reading: 1-7 s each, held a little after the words, never overlapping.

    A cue starts when its words do unless the previous cue, held for its
    second, still shows (then right after it); it ends :data:`HOLD_SECONDS`
    after its words or when the next cue starts, whichever is first, but
    never before :data:`MIN_SECONDS` nor after :data:`MAX_SECONDS`.
    """
    low, high = int(round(MIN_SECONDS * sample_rate)), int(MAX_SECONDS * sample_rate)
    hold = int(round(HOLD_SECONDS * sample_rate))
    out: List[Cue] = []
    previous_end = None
    for k, cue in enumerate(cues):
        start = cue.start if previous_end is None else max(cue.start, previous_end)
        end = min(max(cue.end + hold, start + low), start + high)
        if k + 1 < len(cues) and cues[k + 1].start < end:
            end = max(cues[k + 1].start, start + low)
        out.append(Cue(start, end, cue.lines))
        previous_end = end
    return out


def timeline_cues(timeline: Any, words: Optional[Callable[[Any], Optional[Sequence[Span]]]] = None) -> List[Cue]:
    """Every cue of a timeline's spoken clips, placed; *words* gives an event's word spans (None: estimated)."""
    sr = timeline.sample_rate
    raw: List[Cue] = []
    for event in timeline.events:
        text = kinds.get(event.kind).caption(event)  # a spoken clip's words; None for a bell, a pause...
        if not text:
            continue
        spans = words(event) if words is not None else None
        raw.extend(clip_cues(text, spans, event.start, event.length, sr))
    return place(raw, sr)


def current(cues: Sequence[Cue], sample: int) -> Optional[Cue]:
    """The cue to show at *sample*: the last one begun (the first before any has)."""
    shown = None
    for cue in cues:
        if cue.start > sample:
            break
        shown = cue
    if shown is None and cues:
        shown = cues[0]
    return shown
