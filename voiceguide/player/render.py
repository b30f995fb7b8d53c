"""``render``: a whole session into an audio file, block by block."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from voiceguide.player.session import Session
from voiceguide.sinks.file import FileSink
from voiceguide.timeline import Timeline

#: Large blocks amortise Python overhead; the mix is block-size independent.
RENDER_BLOCK = 1 << 16


def render(session: Session, path: Path, timeline: Optional[Timeline] = None,
           block: int = RENDER_BLOCK) -> Timeline:
    """Mix *session* into *path* (WAV, FLAC or OGG by extension); return its timeline.

    The file is exactly ``timeline.length`` samples long. Memory stays flat:
    only one block and the clips that sound in it are held at a time.
    """
    from voiceguide.audio.mixer import render_blocks

    timeline = timeline or session.timeline()
    mixer = session.mixer(timeline)
    with FileSink(Path(path), timeline.sample_rate) as sink:
        for chunk in render_blocks(mixer, block):
            sink.write(chunk)
    return timeline
