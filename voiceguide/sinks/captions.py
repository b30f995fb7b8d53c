"""WebVTT captions of every spoken clip, timed by the timeline.

Why from the timeline: the rendered audio is mixed from the very same
:class:`~voiceguide.timeline.Timeline` events, so a cue's start and end are
the clip's first and last sample, exact to the sample before WebVTT rounds
them to the millisecond (half a millisecond at worst). Nothing here measures
audio or imports numpy.

A ``count`` step yields one cue per number, like ``preview --json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from voiceguide.atomic import atomic_file
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


def to_vtt(timeline: Timeline) -> str:
    """The captions file as text: a header with the title, then one cue per say event."""
    sr = timeline.sample_rate
    title = " ".join(timeline.title.split()).replace("-->", "->")
    lines: List[str] = [f"WEBVTT - {title}", ""]
    number = 0
    for event in timeline.events:
        if event.kind != "say" or not event.text:
            continue
        number += 1
        lines.append(str(number))
        lines.append(f"{timestamp(event.start, sr)} --> {timestamp(event.end, sr)}")
        lines.append(escape(event.text))
        lines.append("")
    return "\n".join(lines)


def write_vtt(timeline: Timeline, path: Path, replace: bool = True) -> None:
    """Write the captions to *path* atomically (a reader never sees half a file).

    Without *replace* an existing *path* is kept: :class:`FileExistsError`.
    """
    path = Path(path)
    # public, not private: the person asked for this file
    with atomic_file(path, "w", encoding="utf-8", newline="\n", public=True, replace=replace) as fh:
        fh.write(to_vtt(timeline))
