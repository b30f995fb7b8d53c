"""What a rendered MP3 or Opus file says about itself: the title, the summary and one chapter per section.

A phone's podcast or audiobook player shows these: the exercise's title
(ID3 ``TIT2``), its summary as a comment (``COMM``), and a chapter list
(ID3v2 chapters: one ``CHAP`` frame per section, each with a ``TIT2`` sub-frame
holding the section's name, and one ordered top-level ``CTOC`` frame that
lists them), so "Head and face" or "Closing" can be jumped to. An Ogg Opus
file gets the same as Vorbis comments (``TITLE``, ``COMMENT``, and the
``CHAPTER001=00:01:46.768`` / ``CHAPTER001NAME=...`` pairs players read).

A chapter starts at its section's first sound (:meth:`Timeline.sections`,
the times ``preview --json`` prints) and ends where the next one starts,
the last one at the end of the file. Times are whole milliseconds, as
ID3 keeps them.

mutagen writes the tags (pure Python, no dependencies): they are added to
the finished temporary file before it takes the target's name, so a file
a person sees is never half-tagged.

Trap: MP3 encoders add a delay at the start (LAME: 576 + 529 = 1105
samples, 23 ms at 48 kHz) and pad the last frame. libsndfile writes a
LAME info frame that records both, and decoders that read it (libsndfile's
own mpg123, ffmpeg, every current phone player) give back exactly the
samples mixed, so chapter times need no shift. A decoder that ignores the
info frame hears every chapter 23 ms late, less than a word's onset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Chapter:
    title: str
    start_ms: int
    end_ms: int


def chapters(sections: Sequence[Tuple[str, int]], length: int, sample_rate: int) -> List[Chapter]:
    """One :class:`Chapter` per ``(name, start sample)`` section; each ends where the next starts."""
    result = []
    for index, (name, start) in enumerate(sections):
        end = sections[index + 1][1] if index + 1 < len(sections) else length
        result.append(Chapter(name, round(start * 1000 / sample_rate), round(end * 1000 / sample_rate)))
    return result


def timeline_chapters(timeline) -> List[Chapter]:
    """The chapters of a :class:`~voiceguide.timeline.Timeline` (its sections)."""
    return chapters(timeline.sections(), timeline.length, timeline.sample_rate)


def tag_file(path: Path, kind: str, title: str, summary: Optional[str], marks: Sequence[Chapter]) -> None:
    """Write the tags into *path*, an MP3 (*kind* ``"mp3"``) or an Ogg Opus file (``"opus"``)."""
    if kind == "mp3":
        tag_mp3(path, title, summary, marks)
    elif kind == "opus":
        tag_opus(path, title, summary, marks)
    else:  # pragma: no cover - the callers know their kinds
        raise ValueError(kind)


def tag_mp3(path: Path, title: str, summary: Optional[str], marks: Sequence[Chapter]) -> None:
    """ID3v2.4 at the front of the MP3 *path*: ``TIT2``, ``COMM`` and ``CTOC`` + ``CHAP`` frames."""
    from mutagen.id3 import CHAP, COMM, CTOC, ID3, TIT2, TSSE, CTOCFlags, Encoding

    tags = ID3()
    tags.add(TIT2(encoding=Encoding.UTF8, text=[title]))
    if summary:
        tags.add(COMM(encoding=Encoding.UTF8, lang="eng", desc="", text=[summary]))
    tags.add(TSSE(encoding=Encoding.UTF8, text=["voiceguide"]))
    ids = [f"chp{index}" for index in range(len(marks))]
    if marks:
        tags.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                      sub_frames=[TIT2(encoding=Encoding.UTF8, text=[title])]))
        for element_id, mark in zip(ids, marks):
            # the byte offsets are "not used" (all ones), as the ID3v2 chapter spec says for time-only chapters
            tags.add(CHAP(element_id=element_id, start_time=mark.start_ms, end_time=mark.end_ms,
                          start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,
                          sub_frames=[TIT2(encoding=Encoding.UTF8, text=[mark.title])]))
    tags.save(str(path), v2_version=4)


def _clock(ms: int) -> str:
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}"


def tag_opus(path: Path, title: str, summary: Optional[str], marks: Sequence[Chapter]) -> None:
    """Vorbis comments in the Ogg Opus *path*: TITLE, COMMENT and CHAPTERnnn / CHAPTERnnnNAME."""
    from mutagen.oggopus import OggOpus

    audio = OggOpus(str(path))
    tags = audio.tags
    assert tags is not None   # an Ogg Opus stream always has its comment header
    tags["TITLE"] = [title]
    if summary:
        tags["COMMENT"] = [summary]
    for number, mark in enumerate(marks, 1):
        tags[f"CHAPTER{number:03d}"] = [_clock(mark.start_ms)]
        tags[f"CHAPTER{number:03d}NAME"] = [mark.title]
    audio.save()
