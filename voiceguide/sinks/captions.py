"""WebVTT captions of every spoken clip, as people read them.

The cues come from :mod:`voiceguide.sinks.cues`: two lines of 42
characters at most, 1-7 s each, split where the sense breaks, and timed by
the words' timings in each clip (kept with the clip in the speech cache)
placed on the very :class:`~voiceguide.timeline.Timeline` the audio is
mixed from. Nothing here measures audio or imports numpy.

A ``count`` step yields one cue per number, like ``preview --json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from voiceguide.atomic import atomic_file
from voiceguide.sinks.cues import Cue, timeline_cues
from voiceguide.timeline import Timeline


def timestamp(sample: int, sample_rate: int) -> str:
    """``HH:MM:SS.mmm`` of *sample*, rounded to the nearest millisecond (integer math)."""
    ms = (sample * 1000 * 2 + sample_rate) // (2 * sample_rate)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def escape(text: str) -> str:
    """Cue text may not hold ``&``, ``<`` or ``-->`` (WebVTT section 4.2); blank lines end a cue."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def to_vtt(timeline: Timeline, cues: Optional[Sequence[Cue]] = None) -> str:
    """The captions file as text: a header with the title, then the cues (by default with estimated timings)."""
    sr = timeline.sample_rate
    title = " ".join(timeline.title.split()).replace("-->", "->")
    lines: List[str] = [f"WEBVTT - {title}", ""]
    for number, cue in enumerate(timeline_cues(timeline) if cues is None else cues, 1):
        lines.append(str(number))
        lines.append(f"{timestamp(cue.start, sr)} --> {timestamp(cue.end, sr)}")
        lines.extend(escape(line) for line in cue.lines)
        lines.append("")
    return "\n".join(lines)


def write_vtt(timeline: Timeline, path: Path, replace: bool = True, cues: Optional[Sequence[Cue]] = None) -> None:
    """Write the captions to *path* atomically (a reader never sees half a file).

    Without *replace* an existing *path* is kept: :class:`FileExistsError`.
    """
    path = Path(path)
    # public, not private: the person asked for this file
    with atomic_file(path, "w", encoding="utf-8", newline="\n", public=True, replace=replace) as fh:
        fh.write(to_vtt(timeline, cues))
