"""When each word of a speech clip is spoken: made with the clip, kept with it in the cache.

A clip's text is split into *words* the simplest way there is: the
normalised text (:func:`~voiceguide.synth.spec.normalise_text`) at its
spaces, punctuation staying with its word (``"standing."``). Captions are
built from these words (:mod:`voiceguide.sinks.cues`), so whatever the
engine thinks a word is, every word of the text gets a span: ``(start,
end)`` in samples of the finished clip (after trimming and resampling),
starts never decreasing, each word ending where the next begins (the last
at the clip's end).

Where the timings come from:

* espeak-ng: its ``espeakEVENT_WORD`` events, at the sample the word starts
  (``engines/espeak.py``);
* Piper: the model's phoneme durations when the model gives them (the
  ``w_ceil`` tensor, see ``engines/alignment.py``), else each sentence's
  length shared among its phonemes;
* an entry without timings (cache format 1, or a damaged trailer):
  :func:`estimate`, the clip shared among the words by their letters and
  the pauses their punctuation makes.

An engine gives *marks*: ``(character offset in the text, seconds into the
engine's raw output)``; :func:`spans_from_marks` turns them into spans of
the finished clip. A word without a mark of its own (a lone dash, a word
espeak-ng read together with the next) starts with the next marked word.

The trailer (:func:`encode`, :func:`decode`) is JSON: ``{"words": [[start,
end], ...], "source": "espeak" | "piper-alignment" | "piper-phonemes"}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from .spec import normalise_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    from .cache import OpenEntry

#: (start, end) of a word, in samples of the finished clip.
Span = Tuple[int, int]
#: (character offset into the text, seconds into the engine's raw output).
Mark = Tuple[int, float]

#: How many letters' worth of time a word's closing punctuation adds in :func:`estimate`.
PAUSE_WEIGHT = {",": 3.0, ";": 4.0, ":": 4.0, ".": 9.0, "!": 9.0, "?": 9.0}


def tokens(text: str) -> List[str]:
    """The clip's words: the normalised text split at its spaces."""
    norm = normalise_text(text)
    return norm.split(" ") if norm else []


def offsets(text: str) -> List[Tuple[int, int]]:
    """Each word's ``(first, past-last)`` character offsets in the normalised text."""
    out, at = [], 0
    for word in tokens(text):
        out.append((at, at + len(word)))
        at += len(word) + 1
    return out


def _closing(word: str) -> str:
    stripped = word.rstrip("\"')]}\u201d\u2019")
    return stripped[-1:] if stripped else ""


def estimate(text: str, count: int) -> List[Span]:
    """Spans shared out over *count* samples by the words' letters and their punctuation's pauses."""
    words = tokens(text)
    if not words:
        return []
    weights = [sum(c.isalnum() for c in w) + 1.0 + PAUSE_WEIGHT.get(_closing(w), 0.0) for w in words]
    weights[-1] -= PAUSE_WEIGHT.get(_closing(words[-1]), 0.0)  # the clip ends with the last word's sound
    total = sum(weights)
    spans, at = [], 0.0
    for w in weights:
        start = int(round(at / total * count))
        at += w
        spans.append((start, int(round(at / total * count))))
    return _tidy(spans, count)


def spans_from_marks(text: str, marks: Sequence[Mark], count: int, offset_s: float,
                     sample_rate: int) -> List[Span]:
    """Spans of the finished clip (*count* samples at *sample_rate*, cut *offset_s* into the raw output).

    Each word starts at its first mark; a word without one starts with the
    next word that has one (at the clip's end if none does). Without any
    mark at all, :func:`estimate`.
    """
    bounds = offsets(text)
    if not bounds:
        return []
    ordered = sorted(marks)
    starts: List[Optional[float]] = []
    for first, past in bounds:
        inside = [t for pos, t in ordered if first <= pos < past]
        starts.append(min(inside) if inside else None)
    if all(s is None for s in starts):
        return estimate(text, count)
    samples: List[int] = []
    following = float("inf")
    for s in reversed(starts):
        if s is not None:
            following = s
        samples.append(count if following == float("inf") else int(round((following - offset_s) * sample_rate)))
    samples.reverse()
    spans = [(samples[i], samples[i + 1] if i + 1 < len(samples) else count) for i in range(len(samples))]
    return _tidy(spans, count)


def spread(text: str, sentences: Sequence[Sequence[Tuple[float, float]]]) -> List[Mark]:
    """Marks for the text's words from the engine's spoken word groups (``(start, end)`` seconds), by sentence.

    When the engine's sentences are the text's (each ends with ``.``, ``!``
    or ``?``), each sentence is matched on its own, so a mismatch never
    drifts into the next one. Within a sentence (or the whole text, when
    the sentences differ): one group per word, each word starts with its
    group; otherwise (espeak-ng read "from the" as one word, "10" as two)
    the words are laid over the spoken time of the groups by their letters.
    """
    bounds = offsets(text)
    groups = [[(float(a), float(b)) for a, b in sentence if b >= a] for sentence in sentences]
    groups = [g for g in groups if g]
    if not bounds or not groups:
        return []
    parts: List[List[int]] = [[]]  # word indices, by sentence
    for i, word in enumerate(tokens(text)):
        parts[-1].append(i)
        if _closing(word) in ".!?\u2026" and i + 1 < len(bounds):
            parts.append([])
    if len(parts) != len(groups):
        parts, groups = [list(range(len(bounds)))], [[g for sentence in groups for g in sentence]]
    words = tokens(text)
    marks: List[Mark] = []
    for indices, spoken in zip(parts, groups):
        marks.extend(_lay(words, bounds, indices, spoken))
    return marks


def _lay(words: Sequence[str], bounds: Sequence[Tuple[int, int]], indices: Sequence[int],
         groups: Sequence[Tuple[float, float]]) -> List[Mark]:
    if len(groups) == len(indices):
        return [(bounds[i][0], start) for i, (start, _) in zip(indices, groups)]
    weights = [max(1, sum(c.isalnum() for c in words[i])) for i in indices]
    total_weight = float(sum(weights))
    spoken = sum(b - a for a, b in groups) or 1e-9
    marks: List[Mark] = []
    done = 0.0
    for i, weight in zip(indices, weights):
        want = done / total_weight * spoken
        for a, b in groups:
            if want <= b - a + 1e-12:
                marks.append((bounds[i][0], a + want))
                break
            want -= b - a
        else:
            marks.append((bounds[i][0], groups[-1][1]))
        done += weight
    return marks


def _tidy(spans: Sequence[Span], count: int) -> List[Span]:
    """Within ``[0, count]``, starts never decreasing, each word ending where the next begins."""
    starts: List[int] = []
    for start, _ in spans:
        s = min(max(0, int(start)), count)
        starts.append(max(s, starts[-1]) if starts else s)
    if starts:
        starts[0] = min(starts[0], count)
    return [(starts[i], starts[i + 1] if i + 1 < len(starts) else count) for i in range(len(starts))]


def encode(spans: Sequence[Span], source: str) -> bytes:
    """The trailer that keeps *spans* with the clip."""
    return json.dumps({"words": [[int(a), int(b)] for a, b in spans], "source": source},
                      separators=(",", ":")).encode("utf-8")


def decode(raw: bytes, text: str, count: int) -> Optional[Tuple[List[Span], str]]:
    """``(spans, source)`` from a trailer if it fits *text* and a clip of *count* samples, else None."""
    if not raw:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        spans = [(int(a), int(b)) for a, b in data["words"]]
        source = str(data.get("source", "?"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if len(spans) != len(tokens(text)):
        return None
    if any(not 0 <= a <= b <= count for a, b in spans) or any(x[0] > y[0] for x, y in zip(spans, spans[1:])):
        return None
    return spans, source


def timings(raw: bytes, text: str, count: int) -> Tuple[List[Span], str]:
    """The clip's spans from its trailer, or :func:`estimate`\\ d (source ``"estimate"``)."""
    found = decode(raw, text, count)
    return found if found is not None else (estimate(text, count), "estimate")


def pinned_timings(entry: Optional["OpenEntry"], count: int, text: str, path: "Path",
                   key: str) -> Tuple[List[Span], str]:
    """The spans of a pinned clip of *count* samples: from its open *entry*, else from the entry at *path*.

    A pin that kept only the samples (past the descriptor budget) reads the
    trailer of the entry under its name, if that entry still holds a clip
    of the very same length (else the timings are estimated).
    """
    from . import cache

    raw = b""
    if entry is not None:
        raw = entry.trailer()
    else:
        try:
            other = cache.open_entry(path, key)
        except (OSError, cache.Damaged, ValueError):
            other = None
        if other is not None:
            try:
                raw = other.trailer() if other.count == count else b""
            finally:
                other.close()
    return timings(raw, text, count)
